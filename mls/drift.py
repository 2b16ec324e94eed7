"""Drift: a change made in the MLS by someone else, found and resolved.

`check_drift` (beat, every few minutes) reads the remote's ModificationTimestamp of synced
drafts; a draft whose remote changed is compared with the mirror, and a difference the portal
did not make pauses its push until a person chooses "keep portal version" or "accept remote"
(`resolve_drift`, request side); the push applies the choice (`apply_drift_decision`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from drafts.fields import SPARK_TO_FIELD
from drafts.models import Draft, DraftEvent
from media_manager.models import Document, Photo
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound

from . import enqueue, planner
from .leased import SyncLease
from .models import PROMOTION_OWNED, DraftSync, RemoteCall, RemoteItem, SyncState
from .remote import all_incomplete_listings, parse_time
from .state import RemoteSnapshot, apply_remote_to_mirror, differences, read_remote, remote_field_values

logger = logging.getLogger(__name__)

LISTING_GONE = "The incomplete listing is no longer in the MLS."
# Call log lines removed per drift check (the log is pruned a batch at a time).
CALL_LOG_PRUNE_BATCH = 5000


def check_drift(*, limit: int = 200) -> int:
    """Compare synced drafts whose remote changed since we last looked; flag what the portal
    did not make. Returns how many drafts were flagged."""
    interval = dt.timedelta(seconds=float(settings.SYNC_DRIFT_INTERVAL_SECONDS))
    now = timezone.now()
    # The call log is for people looking back a few weeks, not an archive.
    keep = dt.timedelta(days=float(settings.SYNC_CALL_LOG_DAYS))
    old_calls = RemoteCall.objects.filter(at__lt=now - keep).values_list("pk", flat=True)[
        :CALL_LOG_PRUNE_BATCH
    ]
    RemoteCall.objects.filter(pk__in=list(old_calls)).delete()
    candidates = list(
        DraftSync.objects.filter(
            state=SyncState.SYNCED,
            lease_owner="",
            verify_after__isnull=True,
            confirmed_seq__gte=F("draft__change_seq"),
            draft__deleted_at__isnull=True,
        )
        .exclude(draft__remote_id="")
        # Publishing deletes the incomplete listing: its absence then is not drift.
        .exclude(draft__status__in=PROMOTION_OWNED)
        .filter(Q(remote_checked_at__isnull=True) | Q(remote_checked_at__lt=now - interval))
        .select_related("draft")
        .order_by(F("remote_checked_at").asc(nulls_first=True))[:limit]
    )
    if not candidates:
        return 0
    stamps: dict[str, dt.datetime | None] = {}
    for record in all_incomplete_listings(None, select=["ModificationTimestamp"]):
        fields = record.get("StandardFields") or {}
        stamps[str(record.get("Id"))] = parse_time(fields.get("ModificationTimestamp"))
    flagged = 0
    for sync in candidates:
        draft = sync.draft
        remote_stamp = stamps.get(draft.remote_id, "missing")
        if (
            remote_stamp != "missing"
            and remote_stamp is not None
            and draft.remote_modified_at == remote_stamp
        ):
            DraftSync.objects.filter(pk=sync.pk).update(remote_checked_at=now)
            continue
        if _compare_one(draft.pk, gone=remote_stamp == "missing"):
            flagged += 1
    return flagged


def _compare_one(draft_id: int, *, gone: bool) -> bool:
    pusher = SyncLease(draft_id)
    if not pusher.claim():
        return False
    with pusher.as_current():
        try:
            pusher.purpose = "Drift check"
            draft = Draft.objects.get(pk=draft_id)
            sync = DraftSync.objects.get(pk=draft_id)
            if draft.is_deleted or not draft.remote_id:
                # Trashed (its listing is being removed) since the candidates were read.
                pusher.release(state=SyncState.SYNCED)
                return False
            if sync.confirmed_seq < draft.change_seq:
                pusher.release(state=SyncState.PENDING)
                return False
            try:
                remote = None if gone else read_remote(ListingRef.for_incomplete(draft.remote_id))
            except SparkNotFound:
                remote = None
            now = timezone.now()
            if remote is None:
                found: dict[str, Any] = {"listing": LISTING_GONE}
            else:
                found = differences(sync, remote)
            if not found:
                Draft.objects.filter(pk=draft_id).update(
                    remote_modified_at=remote.modified_at if remote else None
                )
                pusher.release(state=SyncState.SYNCED, remote_checked_at=now)
                return False
            pusher.release(
                state=SyncState.DRIFT, drift_detected_at=now, drift_remote=found, remote_checked_at=now
            )
            pusher.record_event("Changed in the MLS by someone else: the portal waits for a decision")
            return True
        except SparkError as error:
            logger.warning("drift check of draft %s failed: %s", draft_id, error)
            pusher.release(state=SyncState.SYNCED, remote_checked_at=timezone.now())
            return False
        finally:
            pusher.flush_calls()
            if pusher.held:
                pusher.release(state=SyncState.SYNCED)


def resolve_drift(draft: Draft, *, keep: str, by: User) -> bool:
    """A person decides (request side: records the decision, never calls the remote).

    `keep="portal"` pushes the portal's version over the remote's; `keep="remote"` takes the
    remote's field values (and photo names/captions, document names/privacy, deletions) into
    the draft. The worker reads the remote, applies the decision and resumes the push."""
    if keep not in ("portal", "remote"):
        raise ValueError(keep)
    with transaction.atomic():
        decided = DraftSync.objects.filter(pk=draft.pk, state=SyncState.DRIFT).update(
            state=SyncState.PENDING,
            drift_decision=keep,
            drift_decided_by=by,
            # The mirror is about to be re-read: the whole draft is looked at again.
            confirmed_seq=0,
            attempts=0,
            next_attempt_at=None,
        )
        if not decided:
            return False
        DraftEvent.record(
            draft,
            by,
            DraftEvent.Kind.SYNC,
            note="Chose to keep the portal version over the MLS changes"
            if keep == "portal"
            else "Chose to accept the MLS changes into the portal",
        )
        draft_id = draft.pk
        transaction.on_commit(lambda: enqueue.ring(draft_id))
    return True


def apply_drift_decision(pusher: SyncLease, draft: Draft, sync: DraftSync) -> None:
    """Worker side of `resolve_drift`: read the remote, make the mirror say what it holds (and,
    to accept it, write it into the draft); the plan that follows closes the remaining gap."""
    pusher.purpose = "Drift: read the MLS version"
    try:
        remote = read_remote(ListingRef.for_incomplete(draft.remote_id)) if draft.remote_id else None
    except SparkNotFound:
        remote = None
    with pusher.recording():
        sync = DraftSync.objects.select_for_update().get(pk=draft.pk)
        decision = sync.drift_decision
        if remote is None:
            # The remote listing is gone: create it again from the portal.
            Draft.objects.filter(pk=draft.pk).update(remote_id="", remote_resource_uri="")
            RemoteItem.objects.filter(draft_id=draft.pk).delete()
            sync.confirmed_fields, sync.photo_order, sync.document_order = {}, [], []
            sync.primary_photo = ""
        elif decision == "remote":
            _accept_remote(draft, sync, remote, by=sync.drift_decided_by)
            apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
        else:
            apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
        sync.drift_decision = ""
        sync.drift_detected_at = None
        sync.drift_remote = {}
        sync.save()
        DraftEvent.record(
            draft,
            None,
            DraftEvent.Kind.SYNC,
            note="Accepted the MLS changes into the portal"
            if remote is not None and decision == "remote"
            else "Kept the portal version over the MLS changes",
        )


def _accept_remote(draft: Draft, sync: DraftSync, remote: RemoteSnapshot, *, by: User | None) -> None:
    """Write the remote's values into the draft, as an edit by `by` (history kept)."""
    values = remote_field_values(sync, remote)
    updates: dict[str, Any] = {}
    for spark_name, value in values.items():
        local = SPARK_TO_FIELD.get(spark_name)
        if local is None:
            continue
        model_field = Draft._meta.get_field(local)
        assert isinstance(model_field, models.Field)  # SPARK_TO_FIELD names the draft's own columns
        try:
            cleaned = (
                model_field.to_python(value) if value is not None else (None if model_field.null else "")
            )
        except (TypeError, ValueError, ValidationError):
            logger.warning("draft %s: cannot take the MLS value of %s", draft.pk, spark_name)
            continue
        if getattr(draft, local) != cleaned:
            updates[local] = cleaned
            DraftEvent.record(
                draft,
                by,
                DraftEvent.Kind.FIELD_CHANGED,
                field=local,
                old=getattr(draft, local),
                new=cleaned,
                note="Accepted from the MLS",
            )
    if updates:
        Draft.objects.filter(pk=draft.pk).update(
            **updates,
            version=F("version") + 1,
            change_seq=F("change_seq") + 1,
            updated_by=by,
            updated_at=timezone.now(),
        )
    rows = {row.remote_id: row for row in RemoteItem.objects.filter(draft_id=draft.pk).exclude(remote_id="")}
    photos = {str(r["Id"]): r for r in remote.photos}
    documents = {str(r["Id"]): r for r in remote.documents}
    gone_photos = []
    for rid, row in rows.items():
        if row.local_id is None:
            continue
        if row.kind == planner.PHOTO:
            record = photos.get(rid)
            if record is None:
                gone_photos.append(row.local_id)
                continue
            photo = Photo.objects.filter(pk=row.local_id, draft=draft).first()
            if photo is not None and (
                photo.name != record.get("Name") or photo.caption != (record.get("Caption") or "")
            ):
                photo.update_text(
                    name=record.get("Name") or photo.name, caption=record.get("Caption") or "", by=by
                )
        else:
            record = documents.get(rid)
            document = Document.objects.filter(pk=row.local_id, draft=draft).first()
            if document is None:
                continue
            if record is None:
                Document.trash_many(draft, [document.pk], by=by)
            elif document.name != record.get("Name") or document.privacy != record.get("Privacy"):
                document.update(
                    name=record.get("Name") or document.name,
                    privacy=record.get("Privacy") or document.privacy,
                    by=by,
                )
    if gone_photos:
        Photo.trash_many(draft, gone_photos, by=by)
