"""The draft and the remote as the planner sees them, and the remote read back.

`local_state` is the draft as the remote should show it; `mirror_state` is the remote as it
last confirmed it (`DraftSync` and `RemoteItem` rows); the planner (mls/planner.py) closes the
gap. `read_remote`, `differences` and `apply_remote_to_mirror` read the remote itself, for the
read-back after a lost answer and for drift.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from drafts.models import Draft, ListingPart
from drafts.models.parts import FIELDED_KINDS, sent_to_mls
from media_manager.models import Document, Photo, ProcessingState
from media_manager.storage_io import read_bytes
from spark.client import ListingRef

from . import planner, reads
from .models import DraftSync, ItemKind, PromotionItem, RemoteItem, RemotePart
from .part_records import PART_KINDS, record_hash
from .remote import client, list_items, parse_time, read_with_retry

# What the remote shows instead of a value we may not read.
MASKED = "********"


def remote_file_name(kind: str, upload_token: str) -> str:
    """The FileName we give the remote: our token, so a lost upload can be recognised."""
    return f"{uuid.UUID(str(upload_token)).hex}.{'jpg' if kind == planner.PHOTO else 'pdf'}"


def local_state(draft: Draft, previous: planner.LocalState | None = None) -> planner.LocalState:
    """The draft as the remote should show it. Read `draft` first: the media read after it are
    at least as new, so confirming `draft.change_seq` never claims more than was pushed.

    `previous`: the state this push read last. Every change to the media bumps `change_seq` in
    its own transaction (`Draft.mark_changed`), so while the draft still shows the same
    `change_seq` its photos and documents are the ones read then: they are not read again.
    (A photo upload does not bump it, but an unprocessed photo is nothing the push can send;
    its processing bumps it.)"""
    if draft.is_deleted:
        # In the trash: the remote should show nothing, so nothing else needs reading.
        return planner.LocalState(seq=draft.change_seq, fields={}, trashed=True)
    if previous is not None and not previous.trashed and previous.seq == draft.change_seq:
        return planner.LocalState(
            seq=draft.change_seq,
            fields=draft.spark_fields(),
            photos=previous.photos,
            documents=previous.documents,
            parts=previous.parts,
        )

    # Plain values, not model instances: this runs on every pass of every push.
    photos = tuple(
        planner.LocalItem(
            kind=planner.PHOTO,
            local_id=pk,
            upload_token=str(token),
            name=name,
            caption=caption,
            primary=primary,
            content_hash=sha256,
            uploadable=state == ProcessingState.READY and bool(master),
            content_name=master or "",
            remote_copy=remote_id,
        )
        for pk, token, name, caption, primary, sha256, state, master, remote_id in reads.values_of(
            "local photos", Photo, _local_photos, draft=draft.pk
        )
    )
    documents = tuple(
        planner.LocalItem(
            kind=planner.DOCUMENT,
            local_id=pk,
            upload_token=str(token),
            name=name,
            privacy=privacy,
            content_hash=sha256,
            uploadable=bool(file),
            content_name=file or "",
            remote_copy=remote_id,
        )
        for pk, token, name, privacy, sha256, file, remote_id in reads.values_of(
            "local documents", Document, _local_documents, draft=draft.pk
        )
    )
    return planner.LocalState(
        seq=draft.change_seq,
        fields=draft.spark_fields(),
        photos=photos,
        documents=documents,
        parts=local_parts(draft.pk, draft.property_type),
    )


def _local_photos(draft: int) -> QuerySet[Photo, tuple[Any, ...]]:
    return (
        Photo.objects.active()
        .filter(draft_id=draft)
        .order_by("position", "pk")
        .values_list(
            "pk", "upload_token", "name", "caption", "is_primary", "sha256", "state", "master", "remote_id"
        )
    )


def _local_documents(draft: int) -> QuerySet[Document, tuple[Any, ...]]:
    return (
        Document.objects.active()
        .filter(draft_id=draft)
        .order_by("position", "pk")
        .values_list("pk", "upload_token", "name", "privacy", "sha256", "file", "remote_id")
    )


def part_label(part: ListingPart, number: int) -> str:
    """How a person finds the part in the editor: "Room 2 (Kitchen)"."""
    title = part.title
    head = f"{part.get_kind_display()} {number}"
    return f"{head} ({title})" if title and title != f"#{part.position + 1}" else head


def local_parts(draft_id: int, property_type: str | None = None) -> dict[str, tuple[planner.LocalPart, ...]]:
    """The draft's rooms, units, tours and videos as the remote should hold them, per kind in
    local order, each with its records (`ListingPart.remote_records()`) and their hashes.

    Only the kinds the draft's property type has (`sent_to_mls`): units left on a draft that is
    no longer multi family stay in the draft but not in the MLS (removed there if they were).
    `property_type` is read when the caller has not and there are rooms or units to judge."""
    parts = reads.listing_parts(draft_id)
    if property_type is None and any(part.kind in FIELDED_KINDS for part in parts):
        property_type = Draft.objects.values_list("property_type", flat=True).get(pk=draft_id)
    by_kind: dict[str, list[planner.LocalPart]] = {kind: [] for kind in PART_KINDS}
    for part in sent_to_mls(parts, property_type or ""):
        number = len(by_kind[part.kind]) + 1
        records = tuple(
            planner.LocalPartRecord(variant, attributes, record_hash(attributes))
            for variant, attributes in part.remote_records()
        )
        by_kind[part.kind].append(planner.LocalPart(part.kind, part.pk, part_label(part, number), records))
    return {kind: tuple(found) for kind, found in by_kind.items() if found}


def mirror_state(
    draft: Draft,
    sync: DraftSync,
    rows: list[RemoteItem] | None = None,
    part_rows: list[RemotePart] | None = None,
) -> planner.MirrorState:
    if rows is None:
        rows = list(RemoteItem.objects.filter(draft_id=draft.pk))
    items = tuple(
        planner.MirrorItem(
            kind=row.kind,
            local_id=row.local_id,
            remote_id=row.remote_id,
            sending=row.sending,
            name=row.name,
            caption=row.caption,
            privacy=row.privacy,
            content_hash=row.content_sha256,
            failed_seq=row.failed_seq,
        )
        for row in rows
    )
    parts = tuple(
        planner.MirrorPart(
            kind=row.kind,
            local_id=row.local_id,
            variant=row.variant,
            remote_id=row.remote_id,
            group_id=row.group_id,
            content_hash=row.content_sha256,
            sending=row.sending,
            failed_seq=row.failed_seq,
        )
        for row in (part_rows if part_rows is not None else reads.mirror_parts(draft.pk))
    )
    return planner.MirrorState(
        parts=parts,
        part_order={kind: tuple(ids) for kind, ids in (sync.part_order or {}).items()},
        remote_id=draft.remote_id,
        create_pending=sync.create_sent_at is not None,
        fields=sync.confirmed_fields or {},
        fields_failed_seq=sync.fields_failed_seq,
        items=items,
        photo_order=tuple(sync.photo_order or ()),
        document_order=tuple(sync.document_order or ()),
        primary_photo=sync.primary_photo,
        verify_after=sync.verify_after,
        order_seen_at={
            planner.PHOTO: sync.photo_order_seen_at,
            planner.DOCUMENT: sync.document_order_seen_at,
        },
        order_pushed_at={
            planner.PHOTO: sync.photo_order_pushed_at,
            planner.DOCUMENT: sync.document_order_pushed_at,
        },
        edits_seen_at=sync.edits_seen_at,
        edits_pushed_at=sync.edits_pushed_at,
    )


def edits_fingerprint(local: planner.LocalState) -> str:
    """What the edit ops compare (fields; photos' names, captions and primary; documents' names
    and privacy), as one hash: the push notes when it changes, to coalesce a burst of edits."""
    records = {
        "fields": local.fields,
        "photos": [[item.local_id, item.name, item.caption, item.primary] for item in local.photos],
        "documents": [[item.local_id, item.name, item.privacy] for item in local.documents],
    }
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()


def timing(now: dt.datetime | None = None) -> planner.Timing:
    return planner.Timing(
        now=now or timezone.now(),
        order_settle=float(settings.SYNC_ORDER_SETTLE_SECONDS),
        order_min_interval=float(settings.SYNC_ORDER_MIN_INTERVAL_SECONDS),
        edit_settle=float(settings.SYNC_EDIT_SETTLE_SECONDS),
        edit_min_interval=float(settings.SYNC_EDIT_MIN_INTERVAL_SECONDS),
    )


def first_line(body: Mapping[str, Any]) -> str:
    """The first address line the remote derives from these fields (its StreetAddress)."""
    parts = [
        body.get(name)
        for name in ("StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix", "StreetDirSuffix")
    ]
    line = " ".join(str(part) for part in parts if part not in (None, ""))
    extra = body.get("StreetAdditionalInfo")
    return f"{line} {extra}".strip() if extra else line


def read_content(kind: str, local_id: int, name: str = "") -> bytes:
    """The stored bytes of an item. `name` is the file read together with the hash the op
    records (so the bytes sent are the bytes recorded); without it, looked up now."""
    if not name and kind == planner.PHOTO:
        name = Photo.objects.values_list("master", flat=True).get(pk=local_id)
    elif not name:
        name = Document.objects.values_list("file", flat=True).get(pk=local_id)
    return read_bytes(name)


def set_local_remote_id(kind: str, local_id: int | None, remote_id: str) -> None:
    """Copy the confirmed remote id onto the media row, for people (the mirror is the record)."""
    if local_id is None:
        return
    model = Photo if kind == planner.PHOTO else Document
    model.objects.filter(pk=local_id).update(remote_id=remote_id)


def upload_candidates(row: RemoteItem | PromotionItem, unknown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Remote items that may be `row`'s lost upload: by our token in any of its attributes
    (FileName, Uri), else by what we sent (Name and Caption; Name for documents)."""
    token = row.upload_token.hex if row.upload_token else ""
    if token:
        by_token = [record for record in unknown if token in json.dumps(record, default=str)]
        if by_token:
            return by_token
    if row.kind == ItemKind.PHOTO:
        return [
            record
            for record in unknown
            if record.get("Name") == row.name and (record.get("Caption") or "") == (row.caption or "")
        ]
    return [record for record in unknown if record.get("Name") == row.name]


def refresh_order(draft_id: int, kind: str, remote: list[dict[str, Any]]) -> None:
    """Take the remote's order (and primary) as the mirror's, for the items we know."""
    known = set(
        RemoteItem.objects.filter(draft_id=draft_id, kind=kind)
        .exclude(remote_id="")
        .values_list("remote_id", flat=True)
    )
    order = [str(record["Id"]) for record in remote if str(record["Id"]) in known]
    if kind == planner.PHOTO:
        primary = next((str(r["Id"]) for r in remote if r.get("Primary") and str(r["Id"]) in known), "")
        DraftSync.objects.filter(pk=draft_id).update(photo_order=order, primary_photo=primary)
    else:
        DraftSync.objects.filter(pk=draft_id).update(document_order=order)


# The listing expansions that carry each part kind's records (rooms and units in raw form, keyed
# by attribute name as we send them): one read of the listing brings them all.
PART_EXPANSIONS = {"room": "RoomsRaw", "unit": "UnitsRaw", "tour": "VirtualTours", "video": "Videos"}


@dataclass
class RemoteSnapshot:
    fields: dict[str, Any]
    photos: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    modified_at: dt.datetime | None
    # Part kind -> its records in the remote's order; None when not read.
    parts: dict[str, list[dict[str, Any]]] | None = None


def read_remote(ref: ListingRef, *, with_parts: bool = False) -> RemoteSnapshot:
    """The listing's fields, photos and documents; `with_parts`: its rooms, units, tours and
    videos too, through the listing's expansions (no extra call)."""
    api = client()
    expand = list(PART_EXPANSIONS.values()) if with_parts else None
    listing = read_with_retry(api.get_incomplete_listing, ref.id, expand=expand)
    fields = dict(((listing.first or {}).get("StandardFields")) or {})
    parts = None
    if with_parts:
        parts = {
            kind: [
                record
                for record in fields.pop(key, None) or []
                if isinstance(record, dict) and record.get("Id")
            ]
            for kind, key in PART_EXPANSIONS.items()
        }
    return RemoteSnapshot(
        fields=fields,
        photos=list_items(planner.PHOTO, ref),
        documents=list_items(planner.DOCUMENT, ref),
        modified_at=parse_time(fields.get("ModificationTimestamp")),
        parts=parts,
    )


def remote_field_values(sync: DraftSync, remote: RemoteSnapshot) -> dict[str, Any]:
    """The remote's values of the fields we push (masked and custom fields left out)."""
    return {
        name: remote.fields[name]
        for name in (sync.confirmed_fields or {})
        if name != "CustomFields" and name in remote.fields and remote.fields[name] != MASKED
    }


def differences(sync: DraftSync, remote: RemoteSnapshot) -> dict[str, Any]:
    """Where the remote differs from what it last confirmed to us."""
    found: dict[str, Any] = {}
    confirmed = sync.confirmed_fields or {}
    fields = {
        name: {"portal": confirmed.get(name), "remote": value}
        for name, value in remote_field_values(sync, remote).items()
        if not planner.same_value(confirmed.get(name), value)
    }
    if fields:
        found["fields"] = fields
    rows = {
        row.remote_id: row for row in RemoteItem.objects.filter(draft_id=sync.draft_id).exclude(remote_id="")
    }
    for kind, records, order in (
        (planner.PHOTO, remote.photos, sync.photo_order),
        (planner.DOCUMENT, remote.documents, sync.document_order),
    ):
        mine = {rid for rid, row in rows.items() if row.kind == kind}
        remote_ids = [str(record["Id"]) for record in records]
        changes: list[dict[str, Any]] = []
        for rid in sorted(mine - set(remote_ids)):
            changes.append({"id": rid, "change": "deleted in the MLS", "name": rows[rid].name})
        for record in records:
            rid = str(record["Id"])
            row = rows.get(rid)
            if row is None or row.kind != kind:
                changes.append({"id": rid, "change": "added in the MLS", "name": record.get("Name", "")})
                continue
            for attribute, mine_value in (
                ("Name", row.name),
                ("Caption", row.caption),
                ("Privacy", row.privacy),
            ):
                if attribute == "Caption" and kind == planner.DOCUMENT:
                    continue
                if attribute == "Privacy" and kind == planner.PHOTO:
                    continue
                theirs = record.get(attribute)
                if theirs is not None and (theirs or "") != (mine_value or ""):
                    changes.append(
                        {
                            "id": rid,
                            "change": f"{attribute.lower()} changed",
                            "portal": mine_value,
                            "remote": theirs,
                        }
                    )
        if [rid for rid in remote_ids if rid in mine] != [rid for rid in order if rid in set(remote_ids)]:
            changes.append({"id": "", "change": "order changed in the MLS"})
        if kind == planner.PHOTO:
            primary = next((str(r["Id"]) for r in records if r.get("Primary")), "")
            if sync.primary_photo and primary and primary != sync.primary_photo:
                changes.append({"id": primary, "change": "primary photo changed in the MLS"})
        if changes:
            found[f"{kind}s"] = changes
    return found


def apply_remote_to_mirror(sync: DraftSync, remote: RemoteSnapshot, *, adopt_duplicates: bool) -> None:
    """Make the mirror say what the remote really holds, so the planner closes the gap.

    With `adopt_duplicates`, remote items we do not know whose Name (and Caption) equal an
    item we do know are taken for copies our own lost requests made, and deleted next.
    """
    sync.confirmed_fields = {**(sync.confirmed_fields or {}), **remote_field_values(sync, remote)}
    for kind, records in ((planner.PHOTO, remote.photos), (planner.DOCUMENT, remote.documents)):
        rows = list(RemoteItem.objects.filter(draft_id=sync.draft_id, kind=kind))
        by_remote = {row.remote_id: row for row in rows if row.remote_id}
        present = {str(record["Id"]): record for record in records}
        for rid, row in by_remote.items():
            if rid not in present and not row.sending:
                # Gone from the remote: the planner uploads it again (or forgets it).
                RemoteItem.objects.filter(pk=row.pk).update(remote_id="", content_sha256="")
                set_local_remote_id(kind, row.local_id, "")
            elif rid in present:
                record = present[rid]
                RemoteItem.objects.filter(pk=row.pk).update(
                    name=record.get("Name", row.name) or "",
                    caption=(record.get("Caption") if record.get("Caption") is not None else row.caption)
                    if kind == planner.PHOTO
                    else row.caption,
                    privacy=record.get("Privacy", row.privacy) or ""
                    if kind == planner.DOCUMENT
                    else row.privacy,
                )
        known_texts = {(row.name, row.caption if kind == planner.PHOTO else "") for row in by_remote.values()}
        orphans = []
        for rid, record in present.items():
            if rid in by_remote:
                continue
            text = (record.get("Name") or "", (record.get("Caption") or "") if kind == planner.PHOTO else "")
            if not adopt_duplicates or text in known_texts:
                orphans.append(rid)
        for rid in orphans:
            RemoteItem.objects.get_or_create(draft_id=sync.draft_id, kind=kind, local_id=None, remote_id=rid)
        known = set(by_remote) | set(orphans)
        order = [rid for rid in present if rid in known]
        if kind == planner.PHOTO:
            sync.photo_order = order
            sync.primary_photo = next(
                (rid for rid, r in present.items() if r.get("Primary") and rid in known), ""
            )
        else:
            sync.document_order = order
