"""Photos and documents of a draft: their files, their order, and the MLS rules about them.

Order protocol. Each draft has one `MediaOrder` row holding `photo_version` and
`document_version`; every change to the set or order of non-trashed items (append, trash,
restore, reorder, move) bumps the version, under a row lock on that `MediaOrder` row. A
reorder names the complete new order and the version its page saw, and is applied only if
that version is current and the ids are a permutation of the current set (else `StaleOrder`
carries the current order back). Positions of non-trashed items are always 0..n-1; trashed
items have no position.

Edits by people. Every method here that changes media on someone's behalf (add, trash,
restore, reorder, move, primary, rename/caption/privacy, rotate, replace) ends its
transaction with `note_media_edit(draft, by=...)` when something changed: it refuses a draft
that is being published or is live, marks the draft for sync, and records the edit on the
draft (`Draft.note_media_changed`: updated_at/by, a reviewed draft back to drafting). The
processing worker's own changes (`finish_processing`) only mark the draft for sync.

What the sync engine reads: `remote_id` (blank until the remote confirms the item),
`upload_token` (our UUID, to put in the remote FileName and adopt an upload whose reply was
lost), `position`, `Photo.is_primary`, `Document.privacy`, `deleted_at` (trash: delete
remotely), `Photo.image_version` (bumped when the picture itself changes: rotate, replace).
Only photos in state `ready` have a master to push.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Self

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Deferrable, F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from accounts.models import User
from drafts.fields import PropertyType
from drafts.models import Draft, DraftEvent, DraftStatus

from . import processing_requests
from .pipeline import phash_distance

PHOTO_NAME_MAX = 40
PHOTO_CAPTION_MAX = 1000
DOCUMENT_NAME_MAX = 100
FILE_NAME_MAX = 200
REJECTION_REASON_MAX = 300
# One sweep re-queues at most this many stuck photos; the next sweep takes the rest.
REQUEUE_BATCH_MAX = 200
# Perceptual hashes this close (in bits) are the same picture re-saved or resized.
PHASH_DUPLICATE_DISTANCE = 6
# A photo queued this long without a worker picking it up is queued again (lost message).
STUCK_QUEUED_AFTER = timedelta(seconds=60)
# A photo "processing" this long lost its worker (the task time limit is 300 s).
STUCK_PROCESSING_AFTER = timedelta(seconds=330)
MAX_PROCESSING_ATTEMPTS = 5

PHOTO_EXTENSIONS = {"jpeg": "jpg", "jpg": "jpg", "png": "png", "webp": "webp", "heif": "heic", "heic": "heic"}
PHOTO_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}


# --- Names people typed or their files carried -------------------------------------------

_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_display_text(text: str, *, max_length: int) -> str:
    """`text` without control, format (bidi overrides, zero-width) or unassigned characters,
    whitespace collapsed, cut to `max_length`."""
    text = unicodedata.normalize("NFC", text or "")
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES or ch.isspace()
    )
    return " ".join(kept.split())[:max_length].strip()


def clean_file_name(raw: str) -> str:
    """A file name fit to show and to offer in a download header: no path, no invisible
    characters, at most 200 characters (the extension kept)."""
    base = re.split(r"[\\/]", raw or "")[-1]
    base = clean_display_text(base, max_length=1000).lstrip(".-")
    stem, ext = os.path.splitext(base)
    if len(ext) > 10 or " " in ext:
        stem, ext = base, ""
    return (stem[: FILE_NAME_MAX - len(ext)].strip() + ext) or "file"


def name_from_file_name(raw: str, *, max_length: int, fallback: str) -> str:
    """The default Name of an upload: the file's name without extension, tidied and trimmed."""
    stem = os.path.splitext(clean_file_name(raw))[0].replace("_", " ")
    return clean_display_text(stem, max_length=max_length) or fallback


def random_storage_name(folder: str, extension: str) -> str:
    """A fresh private storage name, `folder/<32 hex>.<ext>`: nothing of the user's file name."""
    return f"{folder}/{uuid.uuid4().hex}.{extension}"


# --- MLS document rules (kept here, in one place) -------------------------------------------


class DocumentPrivacy(models.TextChoices):
    PUBLIC = "Public", "Public: anyone"
    DATASHARE = "DataShare", "Data share: agents in other MLSs"
    PRIVATE = "Private", "Private: agents of this MLS"
    HAS_EDIT = "HasEdit", "Has edit: only people who can edit the listing"


def normalize_document_name(name: str) -> str:
    return " ".join(name.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


# Documents with these names must be HasEdit, per property type
# (docs/spark-protocol.md#names-that-force-hasedit); the same table as sandbox/catalog.py
# HAS_EDIT_NAMES until the sync engine reads /listings/incomplete/documents/meta.
_HAS_EDIT_NAMES: dict[str, tuple[str, ...]] = {
    PropertyType.RESIDENTIAL: ("Private Document", "Property Disclosure"),
    PropertyType.MULTI_FAMILY: ("Private Document", "Property Disclosure", "Rent Roll"),
    PropertyType.LAND: ("Private Document",),
    PropertyType.COMMERCIAL: ("Private Document", "Rent Roll"),
    PropertyType.FARM: ("Private Document", "Property Disclosure"),
    PropertyType.RENTAL: ("Private Document",),
}
FORCED_DOCUMENT_PRIVACY: dict[str, dict[str, str]] = {
    property_type: {normalize_document_name(name): DocumentPrivacy.HAS_EDIT for name in names}
    for property_type, names in _HAS_EDIT_NAMES.items()
}


def forced_document_privacy(property_type: str, name: str) -> str | None:
    """The privacy the MLS imposes on a document called `name`, or None if it is free."""
    return FORCED_DOCUMENT_PRIVACY.get(property_type, {}).get(normalize_document_name(name))


@dataclass(frozen=True)
class RequiredDocument:
    name: str
    property_types: tuple[str, ...]
    built_before: int | None = None


REQUIRED_DOCUMENTS: tuple[RequiredDocument, ...] = (
    RequiredDocument("Seller's Disclosure", (PropertyType.RESIDENTIAL, PropertyType.MULTI_FAMILY)),
    RequiredDocument(
        "Lead-Based Paint Disclosure",
        (PropertyType.RESIDENTIAL, PropertyType.MULTI_FAMILY, PropertyType.RENTAL),
        built_before=1978,
    ),
    RequiredDocument("Survey", (PropertyType.LAND, PropertyType.FARM)),
    RequiredDocument("Rent Roll", (PropertyType.COMMERCIAL,)),
)


@dataclass(frozen=True)
class RequiredDocumentStatus:
    name: str
    present: bool
    note: str = ""


def required_documents_for(draft: Draft, document_names: Iterable[str]) -> list[RequiredDocumentStatus]:
    """The documents this draft's property type asks for, and whether one of that name is there."""
    present = {normalize_document_name(name) for name in document_names}
    statuses = []
    for rule in REQUIRED_DOCUMENTS:
        if draft.property_type not in rule.property_types:
            continue
        note = ""
        if rule.built_before is not None:
            if draft.year_built is None:
                note = f"if built before {rule.built_before}"
            elif draft.year_built >= rule.built_before:
                continue
        statuses.append(
            RequiredDocumentStatus(rule.name, normalize_document_name(rule.name) in present, note)
        )
    return statuses


# --- Order ---------------------------------------------------------------------------------


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


def note_media_edit(draft: Draft, *, by: User | None) -> None:
    """What every change a person makes to a draft's photos or documents also does, inside
    that change's transaction, once it is known that something changed.

    Refuses (DraftNotEditable, the caller's transaction rolls back) when the draft cannot be
    edited: the view checked that before, but publishing may have started since. Then the
    draft is marked for sync, and `Draft.note_media_changed` records who changed it and sends
    a reviewed draft back to drafting. The draft row is locked last, after the media rows,
    in the order the processing worker takes them too (photo row, then the draft).
    """
    locked = Draft.objects.select_for_update().only("status", "deleted_at").get(pk=draft.pk)
    if not locked.is_editable:
        raise DraftNotEditable(locked)
    draft.mark_changed()
    draft.note_media_changed(by=by)


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
    def append(cls, draft: Draft, *, by: User, **values: Any):
        """Create an item last in the draft's order. Call inside transaction.atomic()."""
        lock = MediaOrder.lock(draft)
        count = cls.objects.active().filter(draft=draft).count()
        if count >= cls.max_per_draft():
            raise MediaLimitReached(f"This draft already has {count} {cls.NOUN}s, the most it can have.")
        item = cls.objects.create(draft=draft, position=count, created_by=by, **values)
        cls._after_set_change(draft)
        cls._bump(lock)
        note_media_edit(draft, by=by)
        return item

    @classmethod
    def _before_trash(cls, draft: Draft, ids: list[int]) -> None:
        pass

    @classmethod
    def _after_set_change(cls, draft: Draft) -> None:
        pass


# --- Photos ---------------------------------------------------------------------------------


class ProcessingState(models.TextChoices):
    UPLOADED = "uploaded", "Waiting to be processed"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Could not be processed"


class PhotoQuerySet(MediaQuerySet):
    def ready(self):
        return self.filter(state=ProcessingState.READY)

    def pending(self):
        return self.filter(state__in=(ProcessingState.UPLOADED, ProcessingState.PROCESSING))

    def stuck(self, now=None):
        """Photos whose processing message was lost or whose worker died."""
        now = now or timezone.now()
        return self.active().filter(
            Q(state=ProcessingState.UPLOADED, queued_at__lt=now - STUCK_QUEUED_AFTER)
            | Q(state=ProcessingState.PROCESSING, processing_started_at__lt=now - STUCK_PROCESSING_AFTER)
        )


class Photo(OrderedMedia):
    VERSION_FIELD = "photo_version"
    EVENT_KIND = DraftEvent.Kind.PHOTO
    NOUN = "photo"

    is_primary = models.BooleanField(default=False)
    name = models.CharField(max_length=PHOTO_NAME_MAX)
    caption = models.CharField(max_length=PHOTO_CAPTION_MAX, blank=True)

    # The upload as received, kept privately to reprocess from; never served inline.
    original = models.FileField(max_length=255)
    original_format = models.CharField(
        max_length=10, help_text="jpg, png, webp or heic, sniffed from the bytes."
    )
    original_size = models.PositiveBigIntegerField(default=0)
    original_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Re-encoded by the pipeline: the master is what is pushed to the remote.
    master = models.FileField(max_length=255, blank=True)
    variants = models.JSONField(default=dict, blank=True, help_text="Variant name -> storage name.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the master (the bytes pushed).")
    # 64-bit DCT perceptual hash of the processed picture (signed), see pipeline.phash_distance.
    phash = models.BigIntegerField(null=True, blank=True)

    state = models.CharField(max_length=12, choices=ProcessingState.choices, default=ProcessingState.UPLOADED)
    rejection_reason = models.CharField(max_length=REJECTION_REASON_MAX, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Quarter turns clockwise applied to the original when processing.
    rotation = models.PositiveSmallIntegerField(default=0)
    # Bumped whenever the picture changes (rotate, replace): a processing run for an older
    # version throws its output away, and the sync engine re-sends the picture.
    image_version = models.PositiveIntegerField(default=1)
    queued_at = models.DateTimeField(null=True, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_attempts = models.PositiveSmallIntegerField(default=0)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["draft", "position", "pk"]
        constraints = [
            # Deferred so a permutation can be written in one transaction (PostgreSQL; SQLite
            # gets an immediate unique index from the migration instead).
            models.UniqueConstraint(
                fields=["draft", "position"],
                name="photo_position_unique_in_draft",
                deferrable=Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                fields=["draft"], condition=Q(is_primary=True), name="photo_one_primary_per_draft"
            ),
            models.UniqueConstraint(fields=["draft", "client_key"], name="photo_client_key_unique_in_draft"),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, position__isnull=False)
                | Q(deleted_at__isnull=False, position__isnull=True),
                name="photo_position_iff_not_trashed",
            ),
            models.CheckConstraint(
                condition=~Q(is_primary=True, deleted_at__isnull=False), name="photo_trashed_not_primary"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("name"), PHOTO_NAME_MAX) & ~Q(name=""),
                name="photo_name_length",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("caption"), PHOTO_CAPTION_MAX), name="photo_caption_length"
            ),
            models.CheckConstraint(condition=Q(state__in=ProcessingState.values), name="photo_state_valid"),
            models.CheckConstraint(condition=Q(rotation__lte=3), name="photo_rotation_quarter_turns"),
        ]
        indexes = [models.Index(fields=["state", "queued_at"], name="photo_state_queued")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def max_per_draft(cls) -> int:
        return settings.PHOTO_MAX_PER_DRAFT

    @property
    def is_pending(self) -> bool:
        return self.state in (ProcessingState.UPLOADED, ProcessingState.PROCESSING)

    @property
    def is_ready(self) -> bool:
        return self.state == ProcessingState.READY

    @property
    def content_type(self) -> str:
        return PHOTO_CONTENT_TYPES.get(self.original_format, "application/octet-stream")

    @property
    def download_name(self) -> str:
        stem = os.path.splitext(self.original_name)[0] or f"photo-{self.pk}"
        return f"{stem}.{self.original_format}"

    def file_names(self) -> list[str]:
        return [name for name in [self.original.name, self.master.name, *self.variants.values()] if name]

    # --- Adding ---
    @classmethod
    def add(
        cls,
        draft: Draft,
        *,
        by: User,
        original_name: str,
        stored_name: str,
        original_format: str,
        original_size: int,
        original_sha256: str,
        width: int | None = None,
        height: int | None = None,
        warnings: Sequence[str] = (),
        client_key: uuid.UUID | None = None,
    ) -> Photo:
        """Record an accepted upload (already in storage), last in the order, queued for the
        pipeline after commit."""
        with transaction.atomic():
            photo = cls.append(
                draft,
                by=by,
                name=name_from_file_name(original_name, max_length=PHOTO_NAME_MAX, fallback="Photo"),
                original_name=clean_file_name(original_name),
                original=stored_name,
                original_format=original_format,
                original_size=original_size,
                original_sha256=original_sha256,
                width=width,
                height=height,
                warnings=list(warnings),
                client_key=client_key,
                queued_at=timezone.now(),
            )
            DraftEvent.record(
                draft,
                by,
                DraftEvent.Kind.PHOTO,
                field="added",
                new=photo.name,
                note=f"Uploaded photo {photo.pk}",
            )
            photo.enqueue_processing_after_commit()
        photo.refresh_from_db()
        return photo

    @classmethod
    def _after_set_change(cls, draft: Draft) -> None:
        """Exactly one primary once there are photos: the first one when none is chosen."""
        active = cls.objects.active().filter(draft=draft)
        if not active.filter(is_primary=True).exists():
            first = active.order_by("position").first()
            if first is not None:
                active.filter(pk=first.pk).update(is_primary=True)

    @classmethod
    def _before_trash(cls, draft: Draft, ids: list[int]) -> None:
        cls.objects.filter(pk__in=ids).update(is_primary=False)

    # --- Editing ---
    def update_text(self, *, name: str, caption: str, by: User | None) -> bool:
        """Save Name and Caption (already validated); True if anything changed."""
        name = clean_display_text(name, max_length=PHOTO_NAME_MAX)
        caption = caption.replace("\r\n", "\n").strip()[:PHOTO_CAPTION_MAX]
        return _update_item(self, by, DraftEvent.Kind.PHOTO, {"name": name, "caption": caption})

    def make_primary(self, *, by: User) -> bool:
        with transaction.atomic():
            MediaOrder.lock(self.draft)
            row = Photo.objects.select_for_update().get(pk=self.pk)
            if row.is_trashed or row.is_primary:
                return False
            old = (
                Photo.objects.active()
                .filter(draft=self.draft, is_primary=True)
                .values_list("pk", flat=True)
                .first()
            )
            Photo.objects.filter(draft=self.draft, is_primary=True).update(is_primary=False)
            Photo.objects.filter(pk=self.pk).update(is_primary=True, updated_at=timezone.now())
            DraftEvent.record(
                self.draft,
                by,
                DraftEvent.Kind.PHOTO,
                field="primary",
                old=old,
                new=self.pk,
                note=f"Photo {self.pk} made primary",
            )
            note_media_edit(self.draft, by=by)
        self.refresh_from_db()
        return True

    def rotate(self, quarter_turns: int, *, by: User) -> None:
        """Turn the picture (clockwise quarter turns; -1 is left) and process it again from
        the original."""
        with transaction.atomic():
            row = Photo.objects.select_for_update().get(pk=self.pk)
            rotation = (row.rotation + quarter_turns) % 4
            Photo.objects.filter(pk=self.pk).update(
                rotation=rotation,
                image_version=F("image_version") + 1,
                state=ProcessingState.UPLOADED,
                rejection_reason="",
                queued_at=timezone.now(),
                processing_attempts=0,
                updated_at=timezone.now(),
            )
            DraftEvent.record(
                self.draft,
                by,
                DraftEvent.Kind.PHOTO,
                field="rotation",
                old=row.rotation,
                new=rotation,
                note=f"Photo {self.pk} rotated",
            )
            note_media_edit(self.draft, by=by)
            self.enqueue_processing_after_commit()
        self.refresh_from_db()

    def replace_original(
        self,
        *,
        by: User,
        original_name: str,
        stored_name: str,
        original_format: str,
        original_size: int,
        original_sha256: str,
        width: int | None,
        height: int | None,
        warnings: Sequence[str] = (),
    ) -> list[str]:
        """Put a new picture in this photo's slot (position, name, caption and primary kept).
        Returns the storage names the old picture used, to delete after commit."""
        with transaction.atomic():
            row = Photo.objects.select_for_update().get(pk=self.pk)
            old_files = row.file_names()
            Photo.objects.filter(pk=self.pk).update(
                original=stored_name,
                original_name=clean_file_name(original_name),
                original_format=original_format,
                original_size=original_size,
                original_sha256=original_sha256,
                master="",
                variants={},
                width=width,
                height=height,
                sha256="",
                phash=None,
                warnings=list(warnings),
                duplicate_of=None,
                rotation=0,
                image_version=F("image_version") + 1,
                upload_token=uuid.uuid4(),
                state=ProcessingState.UPLOADED,
                rejection_reason="",
                queued_at=timezone.now(),
                processing_attempts=0,
                updated_at=timezone.now(),
            )
            DraftEvent.record(
                self.draft,
                by,
                DraftEvent.Kind.PHOTO,
                field="replaced",
                old=row.original_name,
                new=clean_file_name(original_name),
                note=f"Photo {self.pk} replaced",
            )
            note_media_edit(self.draft, by=by)
            self.enqueue_processing_after_commit()
            delete_files_after_commit(old_files)
        self.refresh_from_db()
        return old_files

    # --- Processing (called by media_manager.tasks) ---
    def enqueue_processing_after_commit(self) -> None:
        """Ask for processing once the transaction commits, without ever waiting for the
        broker (see `tasks.enqueue_processing_soon`)."""
        processing_requests.send_after_commit(self.pk)

    @classmethod
    def claim_for_processing(cls, photo_id: int) -> Photo | None:
        """Mark the photo as being processed, or None if there is nothing to do (done, in
        the trash, or another worker has it). Idempotent: a second delivery claims nothing."""
        now = timezone.now()
        with transaction.atomic():
            photo = cls.objects.select_for_update().filter(pk=photo_id).first()
            if photo is None or photo.is_trashed:
                return None
            if photo.state == ProcessingState.PROCESSING and (
                photo.processing_started_at and photo.processing_started_at > now - STUCK_PROCESSING_AFTER
            ):
                return None
            if photo.state not in (ProcessingState.UPLOADED, ProcessingState.PROCESSING):
                return None
            if photo.processing_attempts >= MAX_PROCESSING_ATTEMPTS:
                cls.objects.filter(pk=photo.pk).update(
                    state=ProcessingState.REJECTED,
                    rejection_reason="This photo could not be processed. Please upload it again.",
                    processed_at=now,
                )
                return None
            cls.objects.filter(pk=photo.pk).update(
                state=ProcessingState.PROCESSING,
                processing_started_at=now,
                processing_attempts=F("processing_attempts") + 1,
            )
        photo.refresh_from_db()
        return photo

    def finish_processing(
        self,
        *,
        image_version: int,
        master_name: str,
        variant_names: dict[str, str],
        width: int,
        height: int,
        sha256: str,
        phash: int,
    ) -> bool:
        """Record the pipeline's output for `image_version`. False (and nothing recorded)
        if the picture changed or was trashed meanwhile: the caller deletes its files."""
        with transaction.atomic():
            row = Photo.objects.select_for_update().filter(pk=self.pk).first()
            if row is None or row.image_version != image_version or row.state != ProcessingState.PROCESSING:
                return False
            old_files = [name for name in [row.master.name, *row.variants.values()] if name]
            duplicate = row.find_duplicate(sha256=sha256, phash=phash)
            Photo.objects.filter(pk=self.pk).update(
                master=master_name,
                variants=variant_names,
                width=width,
                height=height,
                sha256=sha256,
                phash=phash,
                duplicate_of=duplicate,
                state=ProcessingState.READY,
                rejection_reason="",
                processed_at=timezone.now(),
            )
            # The picture to push is new: the remote must catch up.
            self.draft.mark_changed()
            delete_files_after_commit(old_files)
        self.refresh_from_db()
        return True

    def reject_processing(self, reason: str, *, image_version: int) -> bool:
        with transaction.atomic():
            row = Photo.objects.select_for_update().filter(pk=self.pk).first()
            if row is None or row.image_version != image_version or row.state != ProcessingState.PROCESSING:
                return False
            Photo.objects.filter(pk=self.pk).update(
                state=ProcessingState.REJECTED,
                rejection_reason=reason[:REJECTION_REASON_MAX],
                processed_at=timezone.now(),
            )
            DraftEvent.record(
                self.draft,
                None,
                DraftEvent.Kind.PHOTO,
                field="rejected",
                new=reason[:REJECTION_REASON_MAX],
                note=f"Photo {self.pk} could not be processed",
            )
        self.refresh_from_db()
        return True

    def release_after_failure(self, *, image_version: int) -> None:
        """Back to the queue after an unexpected failure; the stuck sweep sends it again."""
        Photo.objects.filter(
            pk=self.pk, image_version=image_version, state=ProcessingState.PROCESSING
        ).update(state=ProcessingState.UPLOADED, queued_at=timezone.now())

    def find_duplicate(self, *, sha256: str, phash: int | None) -> Photo | None:
        """The first-placed photo, uploaded before this one, with the same bytes or the same
        picture. Only earlier uploads count, so of two copies only the later one is flagged."""
        others = Photo.objects.active().filter(draft_id=self.draft_id, pk__lt=self.pk).order_by("position")
        for other in others:
            if self.original_sha256 and other.original_sha256 == self.original_sha256:
                return other
            if sha256 and other.sha256 == sha256:
                return other
            if (
                phash is not None
                and other.phash is not None
                and phash_distance(phash, other.phash) <= PHASH_DUPLICATE_DISTANCE
            ):
                return other
        return None

    @classmethod
    def requeue_stuck(cls, queryset=None) -> list[int]:
        """Queue again the photos a lost message or a dead worker left behind; their ids.
        Marking them queued now keeps a page polled every 2 s from sending them again."""
        queryset = cls.objects.stuck() if queryset is None else queryset.stuck()
        ids = list(queryset.values_list("pk", flat=True)[:REQUEUE_BATCH_MAX])
        if ids:
            with transaction.atomic():
                cls.objects.filter(pk__in=ids, state=ProcessingState.UPLOADED).update(
                    queued_at=timezone.now()
                )
                cls.objects.filter(pk__in=ids, state=ProcessingState.PROCESSING).update(
                    state=ProcessingState.UPLOADED, queued_at=timezone.now()
                )
                for photo in cls.objects.filter(pk__in=ids):
                    photo.enqueue_processing_after_commit()
        return ids


def delete_files_after_commit(names: Iterable[str]) -> None:
    names = [name for name in names if name]

    def delete() -> None:
        for name in names:
            # An orphan file costs disk, not correctness.
            with contextlib.suppress(OSError):
                default_storage.delete(name)

    if names:
        transaction.on_commit(delete)


# --- Documents ------------------------------------------------------------------------------


class Document(OrderedMedia):
    VERSION_FIELD = "document_version"
    EVENT_KIND = DraftEvent.Kind.DOCUMENT
    NOUN = "document"

    name = models.CharField(max_length=DOCUMENT_NAME_MAX)
    privacy = models.CharField(
        max_length=10, choices=DocumentPrivacy.choices, default=DocumentPrivacy.PRIVATE
    )
    file = models.FileField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    pages = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["draft", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "position"],
                name="document_position_unique_in_draft",
                deferrable=Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                fields=["draft", "client_key"], name="document_client_key_unique_in_draft"
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, position__isnull=False)
                | Q(deleted_at__isnull=False, position__isnull=True),
                name="document_position_iff_not_trashed",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("name"), DOCUMENT_NAME_MAX) & ~Q(name=""),
                name="document_name_length",
            ),
            models.CheckConstraint(
                condition=Q(privacy__in=DocumentPrivacy.values), name="document_privacy_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def max_per_draft(cls) -> int:
        return settings.DOCUMENT_MAX_PER_DRAFT

    @property
    def forced_privacy(self) -> str | None:
        return forced_document_privacy(self.draft.property_type, self.name)

    @property
    def download_name(self) -> str:
        stem = os.path.splitext(self.original_name)[0] or clean_file_name(self.name)
        return f"{stem}.pdf"

    @classmethod
    def add(
        cls,
        draft: Draft,
        *,
        by: User,
        original_name: str,
        stored_name: str,
        size: int,
        sha256: str,
        pages: int,
        name: str = "",
        privacy: str = DocumentPrivacy.PRIVATE,
        client_key: uuid.UUID | None = None,
    ) -> Document:
        name = clean_display_text(name, max_length=DOCUMENT_NAME_MAX) or name_from_file_name(
            original_name, max_length=DOCUMENT_NAME_MAX, fallback="Document"
        )
        privacy = forced_document_privacy(draft.property_type, name) or privacy
        with transaction.atomic():
            document = cls.append(
                draft,
                by=by,
                name=name,
                privacy=privacy,
                original_name=clean_file_name(original_name),
                file=stored_name,
                size=size,
                sha256=sha256,
                pages=pages,
                client_key=client_key,
            )
            DraftEvent.record(
                draft,
                by,
                DraftEvent.Kind.DOCUMENT,
                field="added",
                new=name,
                note=f"Uploaded document {document.pk}",
            )
        return document

    def update(self, *, name: str, privacy: str, by: User | None) -> bool:
        """Rename and set privacy; a name the MLS forces to a privacy takes that privacy."""
        name = clean_display_text(name, max_length=DOCUMENT_NAME_MAX)
        privacy = forced_document_privacy(self.draft.property_type, name) or privacy
        return _update_item(self, by, DraftEvent.Kind.DOCUMENT, {"name": name, "privacy": privacy})


def _update_item(item: Photo | Document, by: User | None, kind: str, values: dict[str, str]) -> bool:
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
