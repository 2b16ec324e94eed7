"""A draft's photos: the upload, its processing into a master and variants, and the edits."""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, router, transaction
from django.db.models import Deferrable, F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from accounts.models import User
from drafts.models import Draft, DraftEvent
from listings_portal.compiled_get import compile_get, compiled_once

from .. import processing_requests
from ..pipeline import phash_distance
from .names import clean_display_text, clean_file_name, name_from_file_name
from .ordered_media import MediaOrder, MediaQuerySet, OrderedMedia, note_media_edit, update_media_item

PHOTO_NAME_MAX = 40
PHOTO_CAPTION_MAX = 1000
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
    # An upload is not pushable until processed: `finish_processing` marks the draft for sync,
    # so each photo costs one push, not a second one that finds nothing ready.
    PUSHABLE_WHEN_ADDED = False

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
        batch_keys: Sequence[uuid.UUID] = (),
    ) -> Photo:
        """Record an accepted upload (already in storage), last in the order or in its place
        among the files chosen with it (`batch_keys`, see `append`), queued for the pipeline
        after commit."""
        with transaction.atomic():
            photo = cls.append(
                draft,
                by=by,
                batch_keys=batch_keys,
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
        # Placing it in its batch may have moved it and made it primary; the rest is as created.
        photo.refresh_from_db(fields=["position", "is_primary"])
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
    def _after_batch_placed(cls, draft: Draft, item: OrderedMedia, landed: dict[int, int], mine: int) -> None:
        """The first file chosen is primary unless the draft had one: a batch file that became
        primary only by finishing first hands it to an earlier-chosen one."""
        primary = (
            cls.objects.active().filter(draft=draft, is_primary=True).values_list("pk", flat=True).first()
        )
        if primary in landed and landed[primary] > mine:
            cls.objects.filter(pk=primary).update(is_primary=False)
            cls.objects.filter(pk=item.pk).update(is_primary=True)

    @classmethod
    def _before_trash(cls, draft: Draft, ids: list[int]) -> None:
        cls.objects.filter(pk__in=ids).update(is_primary=False)

    # --- Editing ---
    def update_text(self, *, name: str, caption: str, by: User | None) -> bool:
        """Save Name and Caption (already validated); True if anything changed."""
        name = clean_display_text(name, max_length=PHOTO_NAME_MAX)
        caption = caption.replace("\r\n", "\n").strip()[:PHOTO_CAPTION_MAX]
        return update_media_item(self, by, DraftEvent.Kind.PHOTO, {"name": name, "caption": caption})

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
            # Until it is processed again the MLS keeps the picture it has; processing marks
            # the draft for sync, so a rotation costs one push, not two.
            note_media_edit(self.draft, by=by, for_the_mls=False)
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
            # As for a rotation: the new picture reaches the MLS once processed, in one push.
            note_media_edit(self.draft, by=by, for_the_mls=False)
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
            photo = locked_photo(photo_id)
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
        # The row is locked until here: what the UPDATE wrote is known without reading it back.
        photo.state = ProcessingState.PROCESSING
        photo.processing_started_at = now
        photo.processing_attempts += 1
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
        phash: int | None,
    ) -> bool:
        """Record the pipeline's output for `image_version`. False (and nothing recorded)
        if the picture changed or was trashed meanwhile: the caller deletes its files."""
        with transaction.atomic():
            row = locked_photo(self.pk)
            if row is None or row.image_version != image_version or row.state != ProcessingState.PROCESSING:
                return False
            old_files = [name for name in [row.master.name, *row.variants.values()] if name]
            duplicate = row.find_duplicate(sha256=sha256, phash=phash)
            recorded = {
                "master": master_name,
                "variants": variant_names,
                "width": width,
                "height": height,
                "sha256": sha256,
                "phash": phash,
                "duplicate_of": duplicate,
                "state": ProcessingState.READY,
                "rejection_reason": "",
                "processed_at": timezone.now(),
            }
            Photo.objects.filter(pk=self.pk).update(**recorded)
            # The picture to push is new: the remote must catch up (marking takes only the id,
            # not the draft's row).
            Draft(pk=self.draft_id).mark_changed()
            delete_files_after_commit(old_files)
        # The row as locked with what was just written over it: no read back.
        for field in Photo._meta.concrete_fields:
            setattr(self, field.attname, getattr(row, field.attname))
        for name, value in recorded.items():
            setattr(self, name, value)
        return True

    def reject_processing(self, reason: str, *, image_version: int) -> bool:
        with transaction.atomic():
            row = locked_photo(self.pk)
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
        # Only what is compared (a draft may hold a hundred photos, each a wide row).
        others = (
            Photo.objects.active()
            .filter(draft_id=self.draft_id, pk__lt=self.pk)
            .order_by("position")
            .only("pk", "original_sha256", "sha256", "phash")
        )
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


# A key no photo has: `locked_photo`'s query is compiled with it, never executed with it.
_PK_STAND_IN = -2_000_000_301


def locked_photo(photo_id: int) -> Photo | None:
    """The whole photo row, locked until the caller's transaction ends (call inside one), or
    None. Processing reads it twice per photo (claim and finish): its SQL is compiled once per
    connection, not by the ORM each time (~2.8k Python calls a read)."""
    alias = router.db_for_write(Photo)
    compiled = compiled_once(
        alias,
        ("locked photo", Photo),
        lambda: compile_get(
            Photo.objects.select_for_update().filter(pk=_PK_STAND_IN), alias, {_PK_STAND_IN: "pk"}
        ),
    )
    if compiled is None or compiled.roles != ("pk",):
        return Photo.objects.select_for_update().filter(pk=photo_id).first()
    return cast(Photo | None, compiled.fetch({"pk": functools.partial(int, photo_id)}))
