"""The order of a draft's photos and documents, and what every edit of them by a person does.

The order protocol and the edits by people are described in `media_manager.models`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from drafts.models import Draft, DraftEvent, DraftStatus


class StaleOrder(Exception):
    """The order sent was not a permutation of the current set at the current version."""

    def __init__(self, current_ids: list[int], version: int, reason: str):
        super().__init__(reason)
        self.current_ids = current_ids
        self.version = version
        self.reason = reason


class UnknownItems(ValueError):
    """The order names items that are not this draft's (another draft's, or none at all)."""


class MediaLimitReached(Exception):
    pass


class DraftNotEditable(Exception):
    """The draft is being published, is live or is in the trash: its media cannot change.
    Raised inside the change's transaction, so nothing of the change is kept."""

    def __init__(self, draft: Draft):
        if draft.is_deleted:
            why = "this draft is in the trash"
        elif draft.status == DraftStatus.LIVE:
            why = "this draft is live"
        else:
            why = "this draft is being published"
        super().__init__(f"Photos and documents can no longer be changed: {why}.")
        self.message = str(self)


def note_media_edit(draft: Draft, *, by: User | None, for_the_mls: bool = True) -> None:
    """What every change a person makes to a draft's photos or documents also does, inside
    that change's transaction, once it is known that something changed.

    Refuses (DraftNotEditable, the caller's transaction rolls back) when the draft cannot be
    edited: the view checked that before, but publishing may have started since. Then the
    draft is marked for sync, and `Draft.note_media_changed` records who changed it and sends
    a reviewed draft back to drafting. The draft row is locked last, after the media rows,
    in the order the processing worker takes them too (photo row, then the draft).

    `for_the_mls` False: the change gives the MLS nothing to take yet (a photo just uploaded,
    not processed), so the draft is not marked for sync; what makes it pushable marks it.
    """
    locked = Draft.objects.select_for_update().only("status", "version", "deleted_at").get(pk=draft.pk)
    if not locked.is_editable:
        raise DraftNotEditable(locked)
    draft.note_media_changed(by=by, mark_for_sync=for_the_mls, locked=locked)


class MediaOrder(models.Model):
    """The versions of one draft's photo order and document order; its row is the lock."""

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, related_name="media_order")
    photo_version = models.PositiveIntegerField(default=1)
    document_version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"Media order of draft {self.draft_id}"

    @classmethod
    def lock(cls, draft: Draft) -> MediaOrder:
        """The draft's row, locked until the caller's transaction ends. Call inside atomic()."""
        row = cls.objects.select_for_update().filter(draft=draft).first()
        if row is None:
            cls.objects.get_or_create(draft=draft)
            row = cls.objects.select_for_update().get(draft=draft)
        return row

    @classmethod
    def versions(cls, draft: Draft) -> MediaOrder:
        """An unlocked read (an unsaved row with version 1 if the draft has no media yet)."""
        return cls.objects.filter(draft=draft).first() or cls(draft=draft)


class MediaQuerySet(models.QuerySet):
    def active(self) -> Self:
        return self.filter(deleted_at__isnull=True)

    def in_trash(self) -> Self:
        return self.filter(deleted_at__isnull=False)


@dataclass(frozen=True)
class OrderChange:
    changed: bool
    version: int
    ids: list[int]


class OrderedMedia(models.Model):
    """What photos and documents share: a draft, a gap-free position, a trash, remote ids."""

    VERSION_FIELD: ClassVar[str]
    EVENT_KIND: ClassVar[str]
    NOUN: ClassVar[str]
    # Whether a new item is something the MLS can take at once (a document) or only once it
    # is processed (a photo, whose processing marks the draft for sync): see `append`.
    PUSHABLE_WHEN_ADDED: ClassVar[bool] = True

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="%(class)ss")
    # 0..n-1 among the draft's non-trashed items; None in the trash.
    position = models.PositiveIntegerField(null=True, blank=True)
    original_name = models.CharField(
        max_length=255, blank=True, help_text="The uploaded file's name, cleaned."
    )
    # Ours, for the remote FileName: adopts an upload whose reply was lost.
    upload_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The browser's key for one file, so a retried upload does not make a second item.
    client_key = models.UUIDField(null=True, blank=True, editable=False)
    remote_id = models.CharField(max_length=40, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MediaQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_trashed(self) -> bool:
        return self.deleted_at is not None

    @property
    def number(self) -> int | None:
        """The 1-based place people see ("Photo 3")."""
        return None if self.position is None else self.position + 1

    # --- Reading the order ---
    @classmethod
    def ordered_ids(cls, draft: Draft) -> list[int]:
        return list(
            cls.objects.active().filter(draft=draft).order_by("position").values_list("pk", flat=True)
        )

    @classmethod
    def max_per_draft(cls) -> int:
        raise NotImplementedError

    # --- Writing the order (all inside transaction.atomic with the MediaOrder row locked) ---
    @classmethod
    def _bump(cls, lock: MediaOrder) -> int:
        setattr(lock, cls.VERSION_FIELD, getattr(lock, cls.VERSION_FIELD) + 1)
        lock.save(update_fields=[cls.VERSION_FIELD])
        return getattr(lock, cls.VERSION_FIELD)

    @classmethod
    def _write_order(cls, draft: Draft, ids: Sequence[int]) -> None:
        """Give `ids` positions 0..n-1 without ever holding two rows at one position.

        Two steps: move every row above the highest position in use, then down to its
        place. Works with the immediate unique index SQLite has and the deferred
        constraint PostgreSQL has."""
        rows = cls.objects.active().filter(draft=draft)
        offset = (rows.aggregate(top=models.Max("position"))["top"] or 0) + 1
        rows.update(position=F("position") + offset)
        items = [cls(pk=pk, position=index) for index, pk in enumerate(ids)]
        cls.objects.bulk_update(items, ["position"])

    @classmethod
    def _lock_rows(cls, draft: Draft) -> list[int]:
        return list(
            cls.objects.select_for_update()
            .active()
            .filter(draft=draft)
            .order_by("position")
            .values_list("pk", flat=True)
        )

    @classmethod
    def reorder(
        cls, draft: Draft, ids: Sequence[int], *, seen_version: int, by: User, moved_id: int | None = None
    ) -> OrderChange:
        """Apply a complete new order seen at `seen_version`; StaleOrder if it is not a
        permutation of the current set at the current version."""
        with transaction.atomic():
            lock = MediaOrder.lock(draft)
            current = cls._lock_rows(draft)
            version = getattr(lock, cls.VERSION_FIELD)
            if not set(ids) <= set(cls.objects.filter(draft=draft).values_list("pk", flat=True)):
                raise UnknownItems("The order names items that are not on this draft.")
            if seen_version != version:
                raise StaleOrder(current, version, "The order changed since this page was loaded.")
            if len(ids) != len(current) or set(ids) != set(current):
                raise StaleOrder(current, version, "The order sent does not match this draft's items.")
            ids = list(ids)
            if ids == current:
                return OrderChange(False, version, current)
            cls._write_order(draft, ids)
            version = cls._bump(lock)
            note = f"Reordered {cls.NOUN}s"
            if moved_id is not None and moved_id in ids:
                note = f"Moved {cls.NOUN} from {current.index(moved_id) + 1} to {ids.index(moved_id) + 1}"
            DraftEvent.record(draft, by, cls.EVENT_KIND, field="order", old=current, new=ids, note=note)
            note_media_edit(draft, by=by)
        return OrderChange(True, version, ids)

    def move_to(self, index: int, *, by: User) -> OrderChange:
        """Move this item to `index` (clamped) of the current order: a relative move that
        needs no version, as it is computed on the order under the lock."""
        with transaction.atomic():
            lock = MediaOrder.lock(self.draft)
            current = self._lock_rows(self.draft)
            if self.pk not in current:
                raise StaleOrder(
                    current, getattr(lock, self.VERSION_FIELD), f"This {self.NOUN} is in the trash."
                )
            index = max(0, min(index, len(current) - 1))
            ids = [pk for pk in current if pk != self.pk]
            ids.insert(index, self.pk)
            if ids == current:
                return OrderChange(False, getattr(lock, self.VERSION_FIELD), current)
            self._write_order(self.draft, ids)
            version = self._bump(lock)
            DraftEvent.record(
                self.draft,
                by,
                self.EVENT_KIND,
                field="order",
                old=current,
                new=ids,
                note=f"Moved {self.NOUN} from {current.index(self.pk) + 1} to {index + 1}",
            )
            note_media_edit(self.draft, by=by)
        self.refresh_from_db(fields=["position"])
        return OrderChange(True, version, ids)

    def move_to_trash(self, *, by: User) -> bool:
        return self.trash_many(self.draft, [self.pk], by=by) == 1

    @classmethod
    def trash_many(cls, draft: Draft, ids: Iterable[int], *, by: User | None) -> int:
        """Move these items of `draft` to its trash and close the gaps; returns how many."""
        wanted = set(ids)
        with transaction.atomic():
            lock = MediaOrder.lock(draft)
            current = cls._lock_rows(draft)
            trashed = [pk for pk in current if pk in wanted]
            if not trashed:
                return 0
            now = timezone.now()
            cls._before_trash(draft, trashed)
            cls.objects.filter(pk__in=trashed).update(deleted_at=now, position=None, updated_at=now)
            cls._write_order(draft, [pk for pk in current if pk not in wanted])
            cls._after_set_change(draft)
            cls._bump(lock)
            for pk in trashed:
                DraftEvent.record(
                    draft,
                    by,
                    cls.EVENT_KIND,
                    field="deleted",
                    old=current.index(pk) + 1,
                    new=None,
                    note=f"Moved {cls.NOUN} {pk} to the trash",
                )
            note_media_edit(draft, by=by)
        return len(trashed)

    def restore(self, *, by: User) -> bool:
        """Bring this item back from the trash, last in the order."""
        with transaction.atomic():
            lock = MediaOrder.lock(self.draft)
            current = self._lock_rows(self.draft)
            row = type(self).objects.select_for_update().get(pk=self.pk)
            if row.deleted_at is None:
                return False
            if len(current) >= self.max_per_draft():
                raise MediaLimitReached(f"This draft already has {len(current)} {self.NOUN}s.")
            type(self).objects.filter(pk=self.pk).update(
                deleted_at=None, position=len(current), updated_at=timezone.now()
            )
            self._after_set_change(self.draft)
            self._bump(lock)
            DraftEvent.record(
                self.draft,
                by,
                self.EVENT_KIND,
                field="deleted",
                old=None,
                new=len(current) + 1,
                note=f"Restored {self.NOUN} {self.pk} from the trash",
            )
            note_media_edit(self.draft, by=by)
        self.refresh_from_db()
        return True

    @classmethod
    def append(cls, draft: Draft, *, by: User, batch_keys: Sequence[uuid.UUID] = (), **values: Any):
        """Create an item last in the draft's order, or, when it is one of `batch_keys` (the
        client keys of files chosen together, in the order chosen), beside the batch's items
        already here, in that order. Call inside transaction.atomic()."""
        lock = MediaOrder.lock(draft)
        count = cls.objects.active().filter(draft=draft).count()
        if count >= cls.max_per_draft():
            raise MediaLimitReached(f"This draft already has {count} {cls.NOUN}s, the most it can have.")
        item = cls.objects.create(draft=draft, position=count, created_by=by, **values)
        if item.client_key in batch_keys:
            cls._place_in_batch(draft, item, list(batch_keys))
        cls._after_set_change(draft)
        cls._bump(lock)
        # Placing the new item moves no other item relative to the rest, so when the item
        # itself is not pushable yet the remote has nothing to catch up on: no push now.
        note_media_edit(draft, by=by, for_the_mls=cls.PUSHABLE_WHEN_ADDED)
        return item

    @classmethod
    def _place_in_batch(cls, draft: Draft, item: OrderedMedia, batch_keys: list[uuid.UUID]) -> None:
        """Uploads finish in any order; the batch keeps the order its files were chosen in.
        The new item goes right after the batch's latest-chosen earlier file already here, or
        else right before its earliest-chosen later one; a file that never lands leaves no gap."""
        rank = {key: index for index, key in enumerate(batch_keys)}
        mine = rank[item.client_key]
        # One read of the order with every item's key: the batch's items are among them.
        rows = list(
            cls.objects.active().filter(draft=draft).order_by("position").values_list("pk", "client_key")
        )
        landed = {pk: rank[key] for pk, key in rows if pk != item.pk and key in rank}
        current = [pk for pk, _key in rows]
        order = [pk for pk in current if pk != item.pk]
        earlier = [pk for pk in order if pk in landed and landed[pk] < mine]
        later = [pk for pk in order if pk in landed and landed[pk] > mine]
        if earlier:
            anchor = max(earlier, key=lambda pk: landed[pk])
            order.insert(order.index(anchor) + 1, item.pk)
        elif later:
            anchor = min(later, key=lambda pk: landed[pk])
            order.insert(order.index(anchor), item.pk)
        else:
            return
        # Files that land in the order they were chosen go last, where `append` put them.
        if order != current:
            cls._write_order(draft, order)
        # Only a file chosen after this one can have taken what was this one's (the primary).
        if later:
            cls._after_batch_placed(draft, item, landed, mine)

    @classmethod
    def _after_batch_placed(cls, draft: Draft, item: OrderedMedia, landed: dict[int, int], mine: int) -> None:
        pass

    @classmethod
    def _before_trash(cls, draft: Draft, ids: list[int]) -> None:
        pass

    @classmethod
    def _after_set_change(cls, draft: Draft) -> None:
        pass


def update_media_item(item: OrderedMedia, by: User | None, kind: str, values: dict[str, str]) -> bool:
    """Set a photo's or document's attributes, with one history entry per changed field and
    the draft marked for sync. False (nothing written) when nothing changed."""
    model = type(item)
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=item.pk)
        changes = [
            (field, getattr(row, field), value)
            for field, value in values.items()
            if getattr(row, field) != value
        ]
        if not changes:
            return False
        model.objects.filter(pk=item.pk).update(**values, updated_at=timezone.now())
        for field, old, new in changes:
            DraftEvent.record(
                item.draft, by, kind, field=field, old=old, new=new, note=f"{model.__name__} {item.pk}"
            )
        note_media_edit(item.draft, by=by)
    item.refresh_from_db()
    return True
