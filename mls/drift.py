"""Drift: a change made in the MLS by someone else, found and resolved.

`check_drift` (beat, every few minutes) reads the remote's ModificationTimestamp of synced
drafts; a draft whose remote changed is compared with the mirror, and a difference the portal
did not make pauses its push until a person chooses "keep portal version" or "accept remote"
(`resolve_drift`, request side); the push applies the choice (`apply_drift_decision`).

The rooms, units, tours and videos are compared too (docs/architecture.md#drift-of-listing-parts):
a record changed or deleted in the MLS, or one the portal did not make, is drift. Keeping the
portal's version makes the mirror say what the MLS holds, so the planner updates, re-creates and
deletes; accepting the MLS's takes its records into the draft's parts, with history.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from drafts.fields import SPARK_TO_FIELD
from drafts.models import Draft, DraftEvent, ListingPart
from drafts.models.parts import part_kinds, video_embed_html
from media_manager.models import Document, Photo
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound

from . import enqueue, metadata, planner
from .leased import SyncLease
from .models import PROMOTION_OWNED, DraftSync, RemoteCall, RemoteItem, RemotePart, SyncState
from .part_records import (
    BRANDED,
    PART_KINDS,
    READ_RAW,
    UNBRANDED,
    is_record_of,
    record_attributes,
    record_hash,
)
from .remote import all_incomplete_listings, parse_time
from .state import (
    RemoteSnapshot,
    apply_remote_to_mirror,
    differences,
    part_label,
    read_remote,
    remote_field_values,
)

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
                remote = (
                    None if gone else read_remote(ListingRef.for_incomplete(draft.remote_id), with_parts=True)
                )
            except SparkNotFound:
                remote = None
            now = timezone.now()
            if remote is None:
                found: dict[str, Any] = {"listing": LISTING_GONE}
            else:
                found = differences(sync, remote)
                part_changes = part_differences(draft, sync, remote.parts or {})
                if part_changes:
                    found["parts"] = part_changes
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
        remote = (
            read_remote(ListingRef.for_incomplete(draft.remote_id), with_parts=True)
            if draft.remote_id
            else None
        )
    except SparkNotFound:
        remote = None
    with pusher.recording():
        sync = DraftSync.objects.select_for_update().get(pk=draft.pk)
        decision = sync.drift_decision
        if remote is None:
            # The remote listing is gone: create it again from the portal.
            Draft.objects.filter(pk=draft.pk).update(remote_id="", remote_resource_uri="")
            RemoteItem.objects.filter(draft_id=draft.pk).delete()
            RemotePart.objects.filter(draft_id=draft.pk).delete()
            sync.confirmed_fields, sync.photo_order, sync.document_order = {}, [], []
            sync.primary_photo = ""
            sync.part_order = {}
        elif decision == "remote":
            _accept_remote(draft, sync, remote, by=sync.drift_decided_by)
            apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
            _accept_remote_parts(draft, sync, remote.parts or {}, by=sync.drift_decided_by)
        else:
            apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
            mirror_remote_parts(sync, remote.parts or {})
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


# --- Rooms, units, tours and videos ------------------------------------------------------------

KIND_PLURALS = {"room": "rooms", "unit": "units", "tour": "virtual tours", "video": "videos"}
_IFRAME_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def part_differences(
    draft: Draft, sync: DraftSync, remote_parts: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Where the remote's rooms, units, tours and videos differ from what it last confirmed to us:
    a record changed or deleted there, one we did not make, their order. In plain words for the
    sync page (`label`, `change`)."""
    rows = [row for row in RemotePart.objects.filter(draft_id=sync.draft_id) if not row.sending]
    changes: list[dict[str, Any]] = []
    if not rows and not any(remote_parts.values()):
        return changes
    labels = _attribute_labels(draft.property_type)
    for kind in PART_KINDS:
        records = {str(record["Id"]): record for record in remote_parts.get(kind, [])}
        known = {row.remote_id for row in rows if row.kind == kind and row.remote_id}
        for row in rows:
            if row.kind != kind or not row.remote_id or row.local_id is None:
                continue
            label = row.label or ListingPart.Kind(kind).label
            if row.variant == BRANDED:
                label += ", its branded link"
            record = records.get(row.remote_id)
            if record is None:
                changes.append(
                    {"kind": kind, "id": row.remote_id, "label": label, "change": "deleted in the MLS"}
                )
            elif not is_record_of(kind, row.attributes, record):
                changes.append(
                    {
                        "kind": kind,
                        "id": row.remote_id,
                        "label": label,
                        "change": "changed in the MLS",
                        "remote": _describe(kind, record_attributes(kind, record), labels),
                    }
                )
        for rid, record in records.items():
            if rid not in known:
                changes.append(
                    {
                        "kind": kind,
                        "id": rid,
                        "label": f"{ListingPart.Kind(kind).label} not made by the portal",
                        "change": "added in the MLS",
                        "remote": _describe(kind, record_attributes(kind, record), labels),
                    }
                )
        both = known & set(records)
        confirmed = [rid for rid in (sync.part_order or {}).get(kind, []) if rid in both]
        if [rid for rid in records if rid in both] != confirmed:
            changes.append(
                {
                    "kind": kind,
                    "id": "",
                    "label": KIND_PLURALS[kind].capitalize(),
                    "change": "order changed in the MLS",
                }
            )
    return changes


def mirror_remote_parts(sync: DraftSync, remote_parts: Mapping[str, list[dict[str, Any]]]) -> None:
    """Make the mirror of the parts say what the remote holds, so the planner puts the draft's
    back: a record gone is created again, one that differs is sent again, one the portal did not
    make is deleted, and the remote's order is the mirror's. Sets `sync.part_order` (the caller
    saves `sync`); call inside the recording transaction."""
    part_order = dict(sync.part_order or {})
    for kind in PART_KINDS:
        records = {str(record["Id"]): record for record in remote_parts.get(kind, [])}
        rows = list(RemotePart.objects.filter(draft_id=sync.draft_id, kind=kind))
        for row in rows:
            if not row.remote_id or row.sending:
                continue
            record = records.get(row.remote_id)
            if record is None and row.local_id is None:
                row.delete()  # a stranger we were to delete: already gone
            elif record is None:
                RemotePart.objects.filter(pk=row.pk).update(remote_id="", content_sha256="")
            elif row.local_id is not None and not is_record_of(kind, row.attributes, record):
                RemotePart.objects.filter(pk=row.pk).update(content_sha256="")
        known = {row.remote_id for row in rows if row.remote_id}
        for rid in records:
            if rid not in known:
                RemotePart.objects.create(draft_id=sync.draft_id, kind=kind, local_id=None, remote_id=rid)
        if records or kind in part_order:
            part_order[kind] = list(records)
    sync.part_order = part_order


def _accept_remote_parts(
    draft: Draft, sync: DraftSync, remote_parts: Mapping[str, list[dict[str, Any]]], *, by: User | None
) -> None:
    """Take the remote's rooms, units, tours and videos into the draft, as edits by `by` (history
    kept): attribute values of rooms and units; name, links, caption and privacy of tours and
    videos; parts deleted there removed, records added there added, in the remote's order. Then
    the mirror says what the remote holds (`mirror_remote_parts`), with the records added there
    adopted by their new parts, so nothing is sent that the remote already shows."""
    specs = {kind: {spec.name: spec for spec in _field_specs(kind, draft.property_type)} for kind in READ_RAW}
    allowed = part_kinds(draft.property_type)
    notes: list[str] = []
    for kind in PART_KINDS:
        records = {str(record["Id"]): record for record in remote_parts.get(kind, [])}
        rows = {
            (row.local_id, row.variant): row
            for row in RemotePart.objects.filter(draft_id=draft.pk, kind=kind, local_id__isnull=False)
            if row.remote_id and not row.sending
        }
        parts = list(ListingPart.objects.filter(draft_id=draft.pk, kind=kind).order_by("position", "pk"))
        kept: list[ListingPart] = []
        for part in parts:
            values = _remote_values(part, rows, records, specs.get(kind, {}))
            if values is None:
                notes.append(f"Removed {part.kind_label} {part.title} (deleted in the MLS)")
                _record_part_change(draft, by, part, note=notes[-1])
                part.delete()
                continue
            kept.append(part)
            changed = {name: value for name, value in values.items() if getattr(part, name) != value}
            if changed:
                old = {name: getattr(part, name) for name in changed}
                for name, value in changed.items():
                    setattr(part, name, value)
                part.updated_at = timezone.now()
                part.save()
                notes.append(f"Changed {part.kind_label} {part.title} as in the MLS")
                _record_part_change(draft, by, part, note=notes[-1], old=old, new=changed)
        known = {row.remote_id for row in RemotePart.objects.filter(draft_id=draft.pk, kind=kind)}
        strangers = [record for rid, record in records.items() if rid not in known]
        adopted: list[tuple[ListingPart, str, str]] = []
        if strangers and kind in allowed:
            adopted = _parts_from_records(draft, kind, strangers, kept, rows, records, specs.get(kind, {}))
            # One part may adopt two records (a link and its branded twin); unsaved, so by identity.
            for part in {id(part): part for part, _variant, _rid in adopted}.values():
                if part.pk is None:
                    part.position = len(kept)
                    kept.append(part)
                    notes.append(f"Added {part.kind_label} {part.title} from the MLS")
                else:
                    notes.append(f"Changed {part.kind_label} {part.title} as in the MLS")
                part.updated_at = timezone.now()
                part.save()
                _record_part_change(draft, by, part, note=notes[-1])
        _take_remote_order(kept, rows, records, adopted)
        _adopt_records(draft, kind, kept, records, adopted)
    mirror_remote_parts(sync, remote_parts)
    if notes:
        Draft.objects.filter(pk=draft.pk).update(
            change_seq=F("change_seq") + 1, updated_by=by, updated_at=timezone.now()
        )


def _remote_values(
    part: ListingPart,
    rows: Mapping[tuple[int | None, str], RemotePart],
    records: Mapping[str, dict[str, Any]],
    specs: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The part's values as the remote's records of it say (only what they differ in from what
    was confirmed); None when the remote deleted it (a tour or video: its unbranded record)."""
    if part.kind in READ_RAW:
        row = rows.get((part.pk, ""))
        if row is None:
            return {}  # never reached the remote: nothing to take
        record = records.get(row.remote_id)
        if record is None:
            return None
        if is_record_of(part.kind, row.attributes, record):
            return {}
        return {"fields": _fields_of(part.kind, record, specs)}
    values: dict[str, Any] = {}
    unbranded, branded = rows.get((part.pk, UNBRANDED)), rows.get((part.pk, BRANDED))
    if unbranded is not None:
        record = records.get(unbranded.remote_id)
        if record is None:
            return None
        if not is_record_of(part.kind, unbranded.attributes, record):
            values.update(_link_values(part, record, sent=unbranded.attributes))
            values["url"] = _link_of(part, record, current=part.url)
    if branded is not None:
        record = records.get(branded.remote_id)
        if record is None:
            values["branded_url"] = ""
        elif not is_record_of(part.kind, branded.attributes, record):
            values["branded_url"] = _link_of(part, record, current=part.branded_url)
    return values


def _parts_from_records(
    draft: Draft,
    kind: str,
    strangers: list[dict[str, Any]],
    parts: list[ListingPart],
    rows: Mapping[tuple[int | None, str], RemotePart],
    records: Mapping[str, dict[str, Any]],
    specs: Mapping[str, Any],
) -> list[tuple[ListingPart, str, str]]:
    """(part, variant, remote id) for records the portal did not make: a new part each (rooms and
    units), one per group (tours and videos: the unbranded link, and the branded one of its group),
    or the branded link of one of our tours whose group it joined. New parts are not saved."""
    found: list[tuple[ListingPart, str, str]] = []
    if kind in READ_RAW:
        for record in strangers:
            found.append(
                (
                    ListingPart(draft=draft, kind=kind, fields=_fields_of(kind, record, specs)),
                    "",
                    str(record["Id"]),
                )
            )
        return found
    # Our links' groups as the remote says them (an unbranded record created alone was given
    # its GroupId by the remote; the mirror reads it only when a branded twin needs it).
    ours: dict[str, ListingPart] = {}
    for part in parts:
        row = rows.get((part.pk, UNBRANDED))
        if row is None or part.branded_url:
            continue
        group_id = str((records.get(row.remote_id) or {}).get("GroupId") or row.group_id)
        if group_id:
            ours[group_id] = part
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in strangers:
        groups.setdefault(str(record.get("GroupId") or record["Id"]), []).append(record)
    for group_id, members in groups.items():
        unbranded = next((r for r in members if r.get("Type") != BRANDED), None)
        branded = next((r for r in members if r.get("Type") == BRANDED), None)
        if unbranded is None and branded is not None and group_id in ours:
            part = ours.pop(group_id)
            part.branded_url = _link_of(part, branded, current="")
            found.append((part, BRANDED, str(branded["Id"])))
            continue
        # A branded link alone (its group not one of ours) becomes the new part's only link.
        first = unbranded or branded
        assert first is not None
        part = ListingPart(draft=draft, kind=kind)
        for name, value in _link_values(part, first, sent={}).items():
            setattr(part, name, value)
        part.url = _link_of(part, first, current="")
        found.append((part, UNBRANDED, str(first["Id"])))
        if unbranded is not None and branded is not None:
            part.branded_url = _link_of(part, branded, current="")
            found.append((part, BRANDED, str(branded["Id"])))
    return found


def _take_remote_order(
    parts: list[ListingPart],
    rows: Mapping[tuple[int | None, str], RemotePart],
    records: Mapping[str, dict[str, Any]],
    adopted: list[tuple[ListingPart, str, str]],
) -> None:
    """The draft's parts of one kind in the remote's order of their first record (parts the remote
    does not hold stay after them, in their order)."""
    place = {rid: index for index, rid in enumerate(records)}
    first: dict[int, int] = {}
    for (local_id, variant), row in rows.items():
        if local_id is not None and variant in ("", UNBRANDED) and row.remote_id in place:
            first[local_id] = place[row.remote_id]
    for part, variant, rid in adopted:
        if variant in ("", UNBRANDED):
            first[part.pk] = place[rid]
    ordered = sorted(parts, key=lambda part: (first.get(part.pk, len(place)), part.position))
    now = timezone.now()
    for position, part in enumerate(ordered):
        if part.position != position:
            ListingPart.objects.filter(pk=part.pk).update(position=position, updated_at=now)
            part.position = position


def _adopt_records(
    draft: Draft,
    kind: str,
    parts: list[ListingPart],
    records: Mapping[str, dict[str, Any]],
    adopted: list[tuple[ListingPart, str, str]],
) -> None:
    """Mirror rows that say the remote holds what the parts now say: the adopted records under
    their new parts, and the parts taken from the remote confirmed as they are (a record that
    still differs, e.g. markup we would write differently, is sent again)."""
    for part, variant, rid in adopted:
        RemotePart.objects.update_or_create(
            draft_id=draft.pk,
            kind=kind,
            local_id=part.pk,
            variant=variant,
            defaults={"remote_id": rid, "group_id": str(records[rid].get("GroupId") or "")},
        )
    rows = {
        (row.local_id, row.variant): row
        for row in RemotePart.objects.filter(draft_id=draft.pk, kind=kind, local_id__isnull=False)
    }
    for number, part in enumerate(parts, start=1):
        for variant, attributes in part.remote_records():
            row = rows.get((part.pk, variant))
            record = records.get(row.remote_id) if row is not None and row.remote_id else None
            if row is None or record is None or row.sending:
                continue
            # The group as the remote says it: the branded twin needs no read to pair with it.
            group_id = str(record.get("GroupId") or row.group_id)
            if is_record_of(kind, attributes, record):
                RemotePart.objects.filter(pk=row.pk).update(
                    attributes=attributes,
                    content_sha256=record_hash(attributes),
                    label=part_label(part, number)[:200],
                    group_id=group_id,
                )
            else:
                RemotePart.objects.filter(pk=row.pk).update(content_sha256="", group_id=group_id)


def _record_part_change(
    draft: Draft,
    by: User | None,
    part: ListingPart,
    *,
    note: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    DraftEvent.record(draft, by, DraftEvent.Kind.PART, field=part.kind, old=old, new=new, note=note)


def _field_specs(kind: str, property_type: str) -> list[metadata.FieldSpec]:
    return metadata.room_fields(property_type) if kind == "room" else metadata.unit_fields(property_type)


def _attribute_labels(property_type: str) -> dict[str, str]:
    return {spec.name: spec.label for kind in ("room", "unit") for spec in _field_specs(kind, property_type)}


def _fields_of(kind: str, record: Mapping[str, Any], specs: Mapping[str, Any]) -> dict[str, Any]:
    """A room's or unit's attribute values as the draft keeps them (a multi-select as a list)."""
    fields: dict[str, Any] = {}
    for name, value in record_attributes(kind, record).items():
        if value in (None, "", []):
            continue
        spec = specs.get(name)
        if spec is not None and spec.multi_select and isinstance(value, str):
            fields[name] = [item.strip() for item in value.split(",") if item.strip()]
        else:
            fields[name] = value if isinstance(value, list) else str(value)
    return fields


def _link_values(part: ListingPart, record: Mapping[str, Any], *, sent: Mapping[str, Any]) -> dict[str, Any]:
    """A tour's or video's name, caption and privacy as the record says them. The privacy only
    when the portal had set one, or for a new part: a record we sent without one shows the MLS's
    default, which is not a choice someone made."""
    values: dict[str, Any] = {"name": str(record.get("Name") or part.name)}
    if part.kind == ListingPart.Kind.VIDEO:
        values["caption"] = str(record.get("Caption") or "")
    privacy = record.get("Privacy")
    if ("Privacy" in sent or part.pk is None) and privacy in ListingPart.Privacy.values:
        values["privacy"] = privacy
    return values


def _link_of(part: ListingPart, record: Mapping[str, Any], *, current: str) -> str:
    """The link a tour's or video's record holds: a tour's `Uri`; for a video, the address its
    embed markup plays, unless that markup is the one our own link makes."""
    if part.kind == ListingPart.Kind.TOUR:
        return str(record.get("Uri") or current)
    markup = str(record.get("ObjectHtml") or "")
    if current and markup == video_embed_html(current):
        return current
    found = _IFRAME_SRC.search(markup)
    return html.unescape(found.group(1)) if found else current


def _describe(kind: str, attributes: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A record in words for the sync page: "Room Name: Kitchen, Level: Upper"; "Tour: link"."""
    if kind in READ_RAW:
        return ", ".join(
            f"{labels.get(name, name)}: {value}"
            for name, value in attributes.items()
            if value not in (None, "")
        )
    name = attributes.get("Name") or ""
    link = attributes.get("Uri") or ""
    if not link and attributes.get("ObjectHtml"):
        found = _IFRAME_SRC.search(str(attributes["ObjectHtml"]))
        link = html.unescape(found.group(1)) if found else ""
    return f"{name}: {link}" if name and link else str(name or link)
