"""What the sync engine knows about the remote: one row per draft, one per photo or document,
and a log of every call it made.

The database is the record. `Draft.change_seq` says what must be pushed; `DraftSync.confirmed_seq`
says what the remote has confirmed; the rows here are the mirror of the remote as it last
confirmed it, so a push compares and sends only the difference (mls/planner.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from drafts import layout as drafts_layout
from drafts.models import Draft, DraftEvent, DraftStatus
from spark.client import Ticket

from .failures import PlacedRefusals, place_refusals

logger = logging.getLogger(__name__)


class SyncState(models.TextChoices):
    PENDING = "pending", "Waiting to sync"
    SYNCING = "syncing", "Syncing"
    SYNCED = "synced", "Synced"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Refused by the MLS"
    ATTENTION = "attention", "Needs attention"
    DRIFT = "drift", "Changed in the MLS"


# States that wait for a person: the sweep never picks them up on its own.
HELD_STATES = (SyncState.ATTENTION, SyncState.DRIFT)
# Statuses in which the publishing job owns the remote: the push stays away.
PROMOTION_OWNED = (DraftStatus.PROMOTING, DraftStatus.LIVE)


class ItemKind(models.TextChoices):
    PHOTO = "photo", "Photo"
    DOCUMENT = "document", "Document"


class DraftSyncQuerySet(models.QuerySet["DraftSync"]):
    def visible_to(self, user: User) -> DraftSyncQuerySet:
        return self.filter(draft__in=Draft.objects.visible_to(user))

    def needing_attention(self) -> DraftSyncQuerySet:
        """Rows a person must act on: gave up, refused by the MLS, or changed in the MLS."""
        return self.filter(
            Q(state__in=HELD_STATES) | Q(state=SyncState.FAILED, blocked_seq__gte=F("draft__change_seq"))
        ).filter(draft__deleted_at__isnull=True)

    def due(self, now: datetime | None = None) -> DraftSyncQuerySet:
        """Rows with something to push that no live worker holds and no back-off delays."""
        now = now or timezone.now()
        return (
            self.filter(draft__deleted_at__isnull=True)
            .filter(Q(draft__change_seq__gt=F("confirmed_seq")) | Q(verify_after__isnull=False))
            .exclude(state__in=HELD_STATES)
            .exclude(state=SyncState.FAILED, blocked_seq__gte=F("draft__change_seq"))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(
                Q(verify_after__isnull=True)
                | Q(verify_after__lte=now)
                | Q(draft__change_seq__gt=F("confirmed_seq"))
            )
        )


class DraftSync(models.Model):
    """The sync state of one draft: the claim, the back-off, the errors and the confirmed remote.

    One worker at a time holds the claim (`lease_owner` until `lease_expires_at`); it pushes
    until `confirmed_seq` reaches the draft's `change_seq`. Back-off lives in
    `next_attempt_at`, never in broker countdowns.
    """

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, primary_key=True, related_name="sync")
    state = models.CharField(max_length=12, choices=SyncState.choices, default=SyncState.PENDING)
    # The draft's change_seq the remote has confirmed (everything up to it is there).
    confirmed_seq = models.PositiveBigIntegerField(default=0)
    # FAILED holds while the draft's change_seq is still <= this: an edit tries again.
    blocked_seq = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    # What people see when it went wrong: the remote's words and ours.
    error_message = models.TextField(blank=True)
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    # [{"field": <draft field name or "">, "spark_field": ..., "message": ...}]
    error_details = models.JSONField(default=list, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # Rule violations the remote accepted with a warning (Success with Errors): shown, not retried.
    remote_warnings = models.JSONField(default=list, blank=True)
    # The latest refusal of the listing's fields, in the remote's words: {Spark name: [message]}
    # ({} with `refused_at` set: a refusal that named no field). Unlike `error_details`, it stays
    # through later edits until a push of those fields is accepted: the agent sees what to fix.
    refused_fields = models.JSONField(default=dict, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)

    # --- The remote listing as last confirmed ---
    # Creating is not idempotent: the marker written with the create, and when it was sent.
    create_marker = models.CharField(max_length=64, blank=True)
    create_sent_at = models.DateTimeField(null=True, blank=True)
    # The first address line the create carried: the lost-answer lookup filters on it.
    create_street = models.CharField(max_length=200, blank=True)
    # Spark name -> the value the remote confirmed.
    confirmed_fields = models.JSONField(default=dict, blank=True)
    # The field update the remote refused, kept until the draft changes again.
    fields_failed_seq = models.PositiveBigIntegerField(null=True, blank=True)
    photo_order = models.JSONField(default=list, blank=True)
    document_order = models.JSONField(default=list, blank=True)
    primary_photo = models.CharField(max_length=40, blank=True)
    # After a write whose answer was lost, read the remote back once it can no longer change.
    verify_after = models.DateTimeField(null=True, blank=True)
    # Listing parts: part kind ("room", "unit", "tour", "video") -> the remote's order of its
    # records (remote ids), as photo_order is for photos.
    part_order = models.JSONField(default=dict, blank=True)

    # --- Coalescing reorders: when the local order last changed and was last pushed ---
    photo_order_seen = models.JSONField(default=list, blank=True)
    photo_order_seen_at = models.DateTimeField(null=True, blank=True)
    photo_order_pushed_at = models.DateTimeField(null=True, blank=True)
    document_order_seen = models.JSONField(default=list, blank=True)
    document_order_seen_at = models.DateTimeField(null=True, blank=True)
    document_order_pushed_at = models.DateTimeField(null=True, blank=True)

    # --- Coalescing edits (fields, photo and document records): a fingerprint of what the
    # draft held when last looked at, when it last changed, and when an edit was last pushed ---
    edits_seen = models.CharField(max_length=64, blank=True)
    edits_seen_at = models.DateTimeField(null=True, blank=True)
    edits_pushed_at = models.DateTimeField(null=True, blank=True)

    # --- Drift: the remote changed by someone else ---
    drift_detected_at = models.DateTimeField(null=True, blank=True)
    # {"fields": {Spark name: {"portal": ..., "remote": ...}}, "photos": [...], "documents": [...]}
    drift_remote = models.JSONField(default=dict, blank=True)
    remote_checked_at = models.DateTimeField(null=True, blank=True)
    # A person's choice ("portal" or "remote"), applied by the next push.
    drift_decision = models.CharField(max_length=8, blank=True)
    drift_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    updated_at = models.DateTimeField(auto_now=True)

    objects = DraftSyncQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["state"], name="draftsync_state"),
            models.Index(fields=["next_attempt_at"], name="draftsync_next_attempt"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=SyncState.values), name="draftsync_state_valid"),
        ]

    def __str__(self) -> str:
        return f"Sync of draft {self.draft_id}: {self.state}"

    @classmethod
    def ensure(cls, draft_id: int) -> None:
        """The draft's sync row, made if missing: one INSERT that does nothing when it exists
        (no read first, no savepoint). IntegrityError when there is no such draft."""
        cls.objects.bulk_create([cls(draft_id=draft_id)], ignore_conflicts=True)

    # --- Presentation ---
    @property
    def lease_is_live(self) -> bool:
        return (
            bool(self.lease_owner)
            and self.lease_expires_at is not None
            and self.lease_expires_at > timezone.now()
        )

    def display_state(self, change_seq: int) -> str:
        """The badge state for a draft whose change_seq is `change_seq`."""
        if self.state in HELD_STATES:
            return self.state
        if self.state == SyncState.FAILED and self.blocked_seq is not None and self.blocked_seq >= change_seq:
            return SyncState.FAILED
        if self.lease_is_live:
            return SyncState.SYNCING
        if self.confirmed_seq >= change_seq and self.verify_after is None:
            return SyncState.SYNCED
        if self.next_attempt_at is not None and self.next_attempt_at > timezone.now() and self.error_message:
            return SyncState.RETRYING
        return SyncState.PENDING

    def errors_by_field(self) -> dict[str, str]:
        return {d["field"]: d["message"] for d in self.error_details if d.get("field")}

    def refusals(self, draft: Draft) -> PlacedRefusals:
        """The latest refusal placed on `draft`'s editor fields (see `place_refusals`)."""
        if self.refused_at is None:
            return PlacedRefusals()
        # The editor asks once per field: place them once per page.
        cached: tuple[tuple[int, str], PlacedRefusals] | None = self.__dict__.get("_placed_refusals")
        if cached is not None and cached[0] == (draft.pk, draft.property_type):
            return cached[1]
        layout = drafts_layout.layout_for(draft.property_type)
        shown = {spec.spark_name: (spec.key, spec.label) for spec in layout.fields} if layout else None
        placed = place_refusals(self.refused_fields or {}, draft.custom_fields or {}, field_label, shown)
        self.__dict__["_placed_refusals"] = ((draft.pk, draft.property_type), placed)
        return placed


def field_label(name: str) -> str:
    """A draft field's name as people read it ("Street name")."""
    if name == "custom_fields":
        return "Custom fields"
    label = str(getattr(Draft._meta.get_field(name), "verbose_name", name))
    return label[:1].upper() + label[1:]


class RemoteItemQuerySet(models.QuerySet["RemoteItem"]):
    def photos(self) -> RemoteItemQuerySet:
        return self.filter(kind=ItemKind.PHOTO)

    def documents(self) -> RemoteItemQuerySet:
        return self.filter(kind=ItemKind.DOCUMENT)


class UploadTicket(models.Model):
    """The one-time upload ticket of an item being uploaded, kept so a retry after a lost
    answer re-uses it: the remote accepts a ticket once, so the retry can never make a second
    copy. A secret for an hour."""

    ticket_token = models.CharField(max_length=128, blank=True)
    ticket_uri = models.CharField(max_length=500, blank=True)
    ticket_expires_at = models.DateTimeField(null=True, blank=True)
    ticket_refused = models.BooleanField(default=False)

    class Meta:
        abstract = True

    @property
    def ticket_usable(self) -> bool:
        # A margin so the ticket cannot expire between the check and the upload.
        return (
            bool(self.ticket_token)
            and not self.ticket_refused
            and self.ticket_expires_at is not None
            and self.ticket_expires_at > timezone.now() + timedelta(seconds=60)
        )

    def usable_ticket(self, kind: str) -> Ticket | None:
        """The stored ticket, when it can still be used, for a `kind` ("photo"/"document")."""
        expires_at = self.ticket_expires_at
        if not self.ticket_usable or expires_at is None:
            return None
        return Ticket(
            token=self.ticket_token,
            uri=self.ticket_uri,
            service="PhotoUploads" if kind == ItemKind.PHOTO else "DocumentUploads",
            expires_in=int((expires_at - timezone.now()).total_seconds()),
        )

    def keep_ticket(self, ticket: Ticket) -> None:
        """Hold a new ticket (saved by the caller with the upload's intent)."""
        self.ticket_token, self.ticket_uri, self.ticket_refused = ticket.token, ticket.uri, False
        self.ticket_expires_at = timezone.now() + timedelta(seconds=max(0, ticket.expires_in))


class RemoteItem(UploadTicket):
    """A photo or document as the remote last confirmed it, keyed by the local item's id.

    `local_id` is a plain integer, not a foreign key: the row must outlive a local item that
    was deleted, so its remote twin can still be deleted. A row with no `local_id` is a remote
    item we found and must remove (a duplicate). `sending` marks an upload (or picture
    replacement) sent without a confirmed answer: before anything else, the remote's list is
    read and the item adopted, never posted blindly again.
    """

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="remote_items")
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    local_id = models.PositiveBigIntegerField(null=True, blank=True)
    upload_token = models.UUIDField(null=True, blank=True)
    remote_id = models.CharField(max_length=40, blank=True)

    sending = models.BooleanField(default=False)
    sending_since = models.DateTimeField(null=True, blank=True)
    # The remote id a picture replacement was sent for (its new id is unknown until confirmed).
    replacing = models.CharField(max_length=40, blank=True)
    # The picture hash a replacement sent, confirmed into `content_sha256` once it lands.
    pending_sha256 = models.CharField(max_length=64, blank=True)
    # (The one-time upload ticket's fields come from UploadTicket.)

    # What the remote confirmed (or, while `sending`, what was sent).
    name = models.CharField(max_length=255, blank=True)
    caption = models.TextField(blank=True)
    privacy = models.CharField(max_length=12, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    # A refusal by the remote, shown on the item's badge; held while change_seq <= failed_seq.
    failed_seq = models.PositiveBigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    objects = RemoteItemQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "kind", "local_id"],
                condition=Q(local_id__isnull=False),
                name="remoteitem_one_per_local_item",
            ),
            models.CheckConstraint(condition=Q(kind__in=ItemKind.values), name="remoteitem_kind_valid"),
        ]
        indexes = [models.Index(fields=["draft", "kind"], name="remoteitem_draft_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} -> {self.remote_id or '?'}"


class PartKind(models.TextChoices):
    ROOM = "room", "Room"
    UNIT = "unit", "Unit"
    TOUR = "tour", "Virtual tour"
    VIDEO = "video", "Video"


class RemotePart(models.Model):
    """One MLS record of a listing part (a room or unit; a tour's or video's unbranded or branded
    link) as the remote last confirmed it, keyed by the part's id and the record's variant.

    As for `RemoteItem`: `local_id` is a plain integer so the row outlives a deleted part (its
    record can still be deleted); no `local_id` marks a record we found and must remove (a copy
    a lost create made); `sending` marks a create sent without a confirmed answer: the remote's
    list is read and a record equal to `attributes` adopted before anything is sent again.
    """

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="remote_parts")
    kind = models.CharField(max_length=5, choices=PartKind.choices)
    local_id = models.PositiveBigIntegerField(null=True, blank=True)
    # "" (rooms, units), "unbranded" or "branded" (tours, videos).
    variant = models.CharField(max_length=10, blank=True)
    remote_id = models.CharField(max_length=40, blank=True)
    group_id = models.CharField(max_length=40, blank=True)
    # What the remote confirmed (or, while `sending`, what was sent), and its hash.
    attributes = models.JSONField(default=dict, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    # How people call the part ("Room 2 (Kitchen)"), for refusals.
    label = models.CharField(max_length=200, blank=True)
    sending = models.BooleanField(default=False)
    sending_since = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    # A refusal by the remote; held while change_seq <= failed_seq.
    failed_seq = models.PositiveBigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "kind", "local_id", "variant"],
                condition=Q(local_id__isnull=False),
                name="remotepart_one_per_record",
            ),
            models.CheckConstraint(condition=Q(kind__in=PartKind.values), name="remotepart_kind_valid"),
        ]
        indexes = [models.Index(fields=["draft", "kind"], name="remotepart_draft_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} {self.variant} -> {self.remote_id or '?'}".replace("  ", " ")


class RemoteCall(models.Model):
    """One HTTP exchange with the remote, as the sync log shows it."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "No answer"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="remote_calls", null=True)
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=40)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    spark_code = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.OK)
    # What the call was for ("Upload photo 12"), and the remote's message when it failed.
    purpose = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)
    change_seq = models.PositiveBigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=80, blank=True)
    # The claim (host:pid:nonce) the call was made under: one per draft at a time.
    worker = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["draft", "-at"], name="remotecall_draft_recent")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


def new_marker() -> str:
    return uuid.uuid4().hex


# --- Promotion: publishing an approved draft as a live listing (mls/publishing.py) ----------


class PromotionStep(models.TextChoices):
    """The steps of publishing, in order (docs/decisions.md#publishing-sequence)."""

    VALIDATE = "validate", "Check with the MLS"
    CREATE = "create", "Create the listing"
    PHOTOS = "photos", "Upload the photos"
    DOCUMENTS = "documents", "Upload the documents"
    PARTS = "parts", "Add the rooms, units, tours and videos"
    VERIFY = "verify", "Read back and compare"
    CLEANUP = "cleanup", "Remove the incomplete listing"
    DONE = "done", "Live"


PROMOTION_STEPS: tuple[str, ...] = tuple(PromotionStep.values)


class PromotionState(models.TextChoices):
    RUNNING = "running", "Publishing"
    WAITING = "waiting", "Waiting to retry"
    FAILED = "failed", "Failed"
    DONE = "done", "Live"


class PromotionQuerySet(models.QuerySet["Promotion"]):
    def due(self, now: datetime | None = None) -> PromotionQuerySet:
        """Jobs with work left that no live worker holds and no back-off delays."""
        now = now or timezone.now()
        return (
            self.filter(state__in=(PromotionState.RUNNING, PromotionState.WAITING))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )


class Promotion(models.Model):
    """The publishing job of one draft: where it stands, what the live listing confirmed.

    Every step's result is written before the next step starts, so a crash or a remote
    failure resumes where it stopped; each step is idempotent against what is recorded here
    (and, after a lost answer, against what the remote lists).
    """

    draft = models.OneToOneField(Draft, on_delete=models.CASCADE, primary_key=True, related_name="promotion")
    state = models.CharField(max_length=10, choices=PromotionState.choices, default=PromotionState.RUNNING)
    step = models.CharField(max_length=10, choices=PromotionStep.choices, default=PromotionStep.VALIDATE)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    # The live listing: its id once the create is confirmed; the intent before it is sent.
    listing_id = models.CharField(max_length=40, blank=True)
    listing_number = models.CharField(max_length=40, blank=True)
    create_sent_at = models.DateTimeField(null=True, blank=True)
    # The field body the live listing confirmed (Spark names).
    confirmed_fields = models.JSONField(default=dict, blank=True)
    photo_order = models.JSONField(default=list, blank=True)
    primary_photo = models.CharField(max_length=40, blank=True)
    document_order = models.JSONField(default=list, blank=True)
    # Part kind -> the live listing's order of that kind's records (remote ids).
    part_order = models.JSONField(default=dict, blank=True)
    verify_rounds = models.PositiveSmallIntegerField(default=0)

    # The claim and the back-off, as for DraftSync.
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # What people read when it went wrong (the remote's words and ours) or why it waits.
    error_message = models.TextField(blank=True)
    # [{"field": <draft field name or "">, "spark_field": ..., "message": ...}]
    error_details = models.JSONField(default=list, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # [{"step": ..., "at": iso time, "note": ...}]: the steps done, for the progress panel.
    log = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PromotionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=PromotionState.values), name="promotion_state_valid"
            ),
            models.CheckConstraint(condition=Q(step__in=PromotionStep.values), name="promotion_step_valid"),
        ]

    def __str__(self) -> str:
        return f"Publishing of draft {self.draft_id}: {self.step} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in (PromotionState.RUNNING, PromotionState.WAITING)

    def steps(self) -> list[dict[str, str]]:
        """Each visible step with "done", "current", "failed" or "todo", for the progress panel."""
        current = PROMOTION_STEPS.index(self.step)
        rows = []
        for index, (value, label) in enumerate(PromotionStep.choices):
            if value == PromotionStep.DONE:
                continue
            if index < current or self.state == PromotionState.DONE:
                status = "done"
            elif index == current:
                status = "failed" if self.state == PromotionState.FAILED else "current"
            else:
                status = "todo"
            rows.append({"step": value, "label": label, "status": status})
        return rows

    def errors_by_field(self) -> dict[str, str]:
        return {d["field"]: d["message"] for d in self.error_details if d.get("field")}


class PromotionItem(UploadTicket):
    """A photo or document of a promotion as the live listing confirmed it (or, while
    `sending`, as it was sent without an answer: looked for before anything is sent again)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    local_id = models.PositiveBigIntegerField()
    upload_token = models.UUIDField(null=True, blank=True)
    remote_id = models.CharField(max_length=40, blank=True)
    sending = models.BooleanField(default=False)
    sending_since = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    caption = models.TextField(blank=True)
    privacy = models.CharField(max_length=12, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "kind", "local_id"], name="promotionitem_one_per_item"
            ),
            models.CheckConstraint(condition=Q(kind__in=ItemKind.values), name="promotionitem_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} -> {self.remote_id or '?'}"


class PromotionPart(models.Model):
    """A listing part's record as the live listing confirmed it (or, while `sending`, as it
    was sent without an answer: the live collection is listed and a match adopted first)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="parts")
    kind = models.CharField(max_length=5, choices=PartKind.choices)
    local_id = models.PositiveBigIntegerField()
    variant = models.CharField(max_length=10, blank=True)
    remote_id = models.CharField(max_length=40, blank=True)
    group_id = models.CharField(max_length=40, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    sending = models.BooleanField(default=False)
    sending_since = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "kind", "local_id", "variant"], name="promotionpart_one_per_record"
            ),
            models.CheckConstraint(condition=Q(kind__in=PartKind.values), name="promotionpart_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_id} {self.variant} -> {self.remote_id or '?'}"


class MetadataService(models.TextChoices):
    """The metadata services the portal keeps a copy of (mls/metadata.py)."""

    STANDARD_FIELDS = "standard_fields", "Standard fields"
    STANDARD_FIELD = "standard_field", "A standard field's list"
    PROPERTY_TYPES = "property_types", "Property types"
    FIELD_ORDER = "field_order", "Field order"
    CUSTOM_FIELDS = "custom_fields", "Custom fields"
    CUSTOM_FIELD = "custom_field", "A custom field's list"
    ROOM_FIELDS = "room_fields", "Room fields"
    ROOM_FIELD = "room_field", "A room field's list"
    UNIT_FIELDS = "unit_fields", "Unit fields"
    UNIT_FIELD = "unit_field", "A unit field's list"
    LISTING_RULES = "listing_rules", "Listing rules"


class MlsMetadata(models.Model):
    """The last copy of one metadata answer of one MLS: `key` names the field or property type
    (empty for a whole service). `payload` is None until a read succeeds; a failed refresh keeps
    the copy and records why (`failure`, `failed_at`)."""

    mls_id = models.CharField(max_length=40, blank=True)
    service = models.CharField(max_length=30, choices=MetadataService.choices)
    key = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(null=True, blank=True)
    # The keys of each result object in the MLS's order (jsonb on PostgreSQL keeps no key order,
    # and the order of the room and unit fields is the order the MLS shows them in).
    key_order = models.JSONField(default=list, blank=True)
    # The validators of a conditional GET, as the MLS sent them (empty for other services).
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    # When the copy last changed; when the MLS last answered (304 included); the last failure.
    fetched_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mls_id", "service", "key"], name="mls_metadata_one_copy"),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_display()} {self.key}".strip()

    @property
    def is_read(self) -> bool:
        return self.payload is not None

    @property
    def last_try_failed(self) -> bool:
        return self.failed_at is not None and (self.checked_at is None or self.failed_at > self.checked_at)


# --- Open houses of live listings (mls/open_houses.py pushes them) --------------------------

OPEN_HOUSE_MAX_HOURS = 8
OPEN_HOUSE_COMMENTS_MAX = 500


class OpenHouseState(models.TextChoices):
    PENDING = "pending", "Waiting to send"
    SYNCED = "synced", "In the MLS"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Refused by the MLS"


class OpenHouseQuerySet(models.QuerySet["OpenHouse"]):
    def shown(self) -> OpenHouseQuerySet:
        """What the live listing's page lists: all but those whose cancellation the MLS has
        confirmed (the page keeps the ones not yet past, by the office's date)."""
        gone = Q(cancelled=True, confirmed_seq__gte=F("change_seq"))
        return self.exclude(gone).order_by("date", "start", "pk")

    def due(self, now: datetime | None = None) -> OpenHouseQuerySet:
        """Open houses with a change the MLS has not confirmed, that no worker holds, that no
        back-off delays and no refusal holds (until the next edit)."""
        now = now or timezone.now()
        return (
            self.filter(change_seq__gt=F("confirmed_seq"), draft__status=DraftStatus.LIVE)
            .exclude(state=OpenHouseState.FAILED, failed_seq__gte=F("change_seq"))
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )


class OpenHouse(models.Model):
    """An open house of a live listing: a date and the start and end as the office's clocks
    read them (Office.time_zone), as the MLS takes them.

    Like a draft, it carries what must be pushed (`change_seq`) and what the MLS confirmed
    (`confirmed_seq`); a cancelled one stays until the MLS confirmed the delete. `sending_since`
    marks a create sent without a confirmed answer: before sending again, the listing's open
    houses are read and the one with the same date and start adopted.
    """

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="open_houses")
    date = models.DateField()
    start = models.TimeField()
    end = models.TimeField()
    comments = models.TextField(blank=True)
    cancelled = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # --- The push ---
    remote_id = models.CharField(max_length=40, blank=True)
    change_seq = models.PositiveBigIntegerField(default=1)
    confirmed_seq = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=OpenHouseState.choices, default=OpenHouseState.PENDING)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_body = models.JSONField(default=dict, blank=True)
    # A refusal holds while change_seq <= failed_seq: the next edit sends again.
    failed_seq = models.PositiveBigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    objects = OpenHouseQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start", "pk"]
        indexes = [models.Index(fields=["draft", "date"], name="openhouse_draft_date")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="openhouse_ends_after_start"),
            models.CheckConstraint(
                condition=Q(state__in=OpenHouseState.values), name="openhouse_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Open house {self.date} {self.start:%H:%M}-{self.end:%H:%M} of draft {self.draft_id}"

    # --- Who and when ---
    @staticmethod
    def may_change(draft: Draft, user: User) -> bool:
        """The listing's agents and the office's admins (company admins, superusers)."""
        return draft.is_listed_by(user) or draft.can_review(user)

    @staticmethod
    def check_times(
        draft: Draft,
        date: dt.date,
        start: dt.time,
        end: dt.time,
        comments: str,
        *,
        now: datetime | None = None,
    ) -> None:
        """ValidationError naming each field that is wrong, in the office's time zone."""
        errors: dict[str, str] = {}
        zone = draft.office.zone
        today_there = (now or timezone.now()).astimezone(zone)
        if end <= start:
            errors["end"] = "The end time must be after the start time."
        elif _minutes(end) - _minutes(start) > OPEN_HOUSE_MAX_HOURS * 60:
            errors["end"] = f"An open house lasts {OPEN_HOUSE_MAX_HOURS} hours at most."
        if date < today_there.date():
            errors["date"] = "The date is in the past."
        elif date == today_there.date() and start <= today_there.time().replace(tzinfo=None):
            errors["start"] = "The start time has passed already."
        if len(comments) > OPEN_HOUSE_COMMENTS_MAX:
            errors["comments"] = f"The comments are {OPEN_HOUSE_COMMENTS_MAX} characters at most."
        if errors:
            raise ValidationError(errors)

    # --- Changes (each makes the open house due; the push is queued after commit) ---
    @classmethod
    def schedule(
        cls, draft: Draft, *, by: User, date: dt.date, start: dt.time, end: dt.time, comments: str = ""
    ) -> OpenHouse:
        if draft.status != DraftStatus.LIVE or not draft.live_listing_id:
            raise ValidationError("Open houses can be scheduled once the listing is live.")
        comments = (comments or "").strip()
        cls.check_times(draft, date, start, end, comments)
        with transaction.atomic():
            open_house = cls.objects.create(
                draft=draft,
                date=date,
                start=start,
                end=end,
                comments=comments,
                created_by=by,
                enqueued_at=timezone.now(),
            )
            note = f"Open house scheduled: {open_house.when}"
            DraftEvent.record(draft, by, DraftEvent.Kind.SYNC, note=note)
            open_house._push_after_commit()
        return open_house

    def edit(self, *, by: User, date: dt.date, start: dt.time, end: dt.time, comments: str = "") -> None:
        if self.cancelled:
            raise ValidationError("This open house is cancelled.")
        comments = (comments or "").strip()
        self.check_times(self.draft, date, start, end, comments)
        with transaction.atomic():
            self._change(date=date, start=start, end=end, comments=comments)
            DraftEvent.record(self.draft, by, DraftEvent.Kind.SYNC, note=f"Open house changed: {self.when}")

    def cancel(self, *, by: User) -> bool:
        """False when it was cancelled already."""
        with transaction.atomic():
            if not OpenHouse.objects.filter(pk=self.pk, cancelled=False).update(cancelled=True):
                return False
            self._change(cancelled=True, cancelled_at=timezone.now())
            note = f"Open house cancelled: {self.when}"
            DraftEvent.record(self.draft, by, DraftEvent.Kind.SYNC, note=note)
        return True

    def _change(self, **values: Any) -> None:
        now = timezone.now()
        OpenHouse.objects.filter(pk=self.pk).update(
            **values,
            change_seq=F("change_seq") + 1,
            attempts=0,
            next_attempt_at=None,
            enqueued_at=now,
            updated_at=now,
        )
        self.refresh_from_db()
        self._push_after_commit()

    def _push_after_commit(self) -> None:
        pk = self.pk
        transaction.on_commit(lambda: _ring_open_house(pk))

    # --- Presentation ---
    @property
    def when(self) -> str:
        return f"{self.date:%a %b %d, %Y}, {_clock(self.start)} to {_clock(self.end)}"

    @property
    def sync_state(self) -> str:
        if self.confirmed_seq >= self.change_seq:
            return "cancelled" if self.cancelled else OpenHouseState.SYNCED
        if self.state == OpenHouseState.FAILED and (self.failed_seq or 0) >= self.change_seq:
            return OpenHouseState.FAILED
        if self.state == OpenHouseState.RETRYING:
            return OpenHouseState.RETRYING
        return "cancelling" if self.cancelled else OpenHouseState.PENDING

    @property
    def sync_label(self) -> str:
        return {
            "synced": "In the MLS",
            "cancelled": "Cancelled",
            "failed": "Refused by the MLS",
            "retrying": "Retrying",
            "cancelling": "Cancelling in the MLS…",
            "pending": "Sending to the MLS…",
        }[self.sync_state]


# Who queues the push of a changed open house: mls.enqueue, registered by the app at start-up
# (it imports this module). A failing listener is logged: the sweep catches up.
_open_house_listeners: list[Callable[[int], None]] = []


def listen_open_houses(listener: Callable[[int], None]) -> None:
    if listener not in _open_house_listeners:
        _open_house_listeners.append(listener)


def stop_listening_open_houses(listener: Callable[[int], None]) -> None:
    if listener in _open_house_listeners:
        _open_house_listeners.remove(listener)


def _ring_open_house(open_house_id: int) -> None:
    for listener in list(_open_house_listeners):
        try:
            listener(open_house_id)
        except Exception:
            logger.exception("open house %s: could not queue its push; the sweep will", open_house_id)


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _clock(value: dt.time) -> str:
    return value.strftime("%I:%M %p").lstrip("0")
