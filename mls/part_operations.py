"""What each listing-part op of a plan sends to the MLS and records once it is confirmed
(rooms, units, virtual tours, videos: mls/planner.py `_plan_parts`).

A create writes its intent (what it sends) on the `RemotePart` row before the request; when
the answer is lost, the next plan lists the collection and adopts the record equal to what was
sent, or, once a late answer can no longer land, sends it again. `PushCalls` inherits these.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from drafts.models import Draft
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound

from . import planner
from .leased import SyncLease, settle_seconds
from .models import RemotePart
from .part_records import COLLECTIONS, READ_RAW, is_record_of, settle_lost_creates
from .remote import client, read_with_retry


class PartNotYet(Exception):
    """The remote may still be creating a part record: look again at `until`."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__("The MLS may still be creating a room, unit, tour or video.")
        self.until = until


def list_parts(kind: str, ref: ListingRef) -> list[dict[str, Any]]:
    """The records of one part kind of listing `ref`, in the remote's order (rooms and units in
    their raw form, keyed as we send them)."""
    result = read_with_retry(client().list_parts, ref, COLLECTIONS[kind], raw=kind in READ_RAW)
    return [record for record in result.results if isinstance(record, dict) and record.get("Id")]


def part_body(attributes: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    body = dict(attributes)
    if group_id:
        body["GroupId"] = group_id
    return body


class PartCalls(SyncLease):
    """The part ops of a push (mixed into `PushCalls`)."""

    def _part_rows(self, kind: str) -> list[RemotePart]:
        return list(RemotePart.objects.filter(draft_id=self.draft_id, kind=kind))

    def _set_part_order(self, kind: str, order: list[str]) -> None:
        self.save_row(part_order={**(self.row.part_order or {}), kind: order})

    def _op_ReconcileParts(self, op: planner.ReconcileParts, draft: Draft, context: Any) -> None:
        records = list_parts(op.kind, context.listing)
        rows = self._part_rows(op.kind)
        known = {row.remote_id for row in rows if row.remote_id}
        sending = [(row.pk, row.attributes) for row in rows if row.sending]
        adopted, copies = settle_lost_creates(op.kind, sending, known, records)
        now = timezone.now()
        waits: list[dt.datetime] = []
        with self.recording():
            for row in rows:
                if not row.sending:
                    continue
                record = adopted.get(row.pk)
                if record is not None:
                    RemotePart.objects.filter(pk=row.pk).update(
                        remote_id=str(record["Id"]),
                        group_id=str(record.get("GroupId") or row.attributes.get("GroupId") or ""),
                        sending=False,
                        confirmed_at=now,
                    )
                    known.add(str(record["Id"]))
                    continue
                settle_until = (row.sending_since or now) + dt.timedelta(seconds=settle_seconds())
                if now < settle_until:
                    waits.append(settle_until)
                else:
                    # No record holds it and a late answer can no longer land: send it again.
                    RemotePart.objects.filter(pk=row.pk).update(sending=False, remote_id="")
            for record in copies:
                RemotePart.objects.get_or_create(
                    draft_id=self.draft_id, kind=op.kind, local_id=None, remote_id=str(record["Id"])
                )
                known.add(str(record["Id"]))
            self._set_part_order(op.kind, [str(r["Id"]) for r in records if str(r["Id"]) in known])
        if waits:
            raise PartNotYet(min(waits))

    def _op_CreatePart(self, op: planner.CreatePart, draft: Draft, context: Any) -> None:
        body = part_body(op.attributes, op.group_id)
        key: dict[str, Any] = dict(
            draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, variant=op.variant
        )
        # The intent first: if the answer is lost, the next plan lists and adopts.
        with self.recording():
            RemotePart.objects.update_or_create(
                **key,
                defaults=dict(
                    remote_id="",
                    group_id=op.group_id,
                    attributes=body,
                    content_sha256=op.content_hash,
                    label=op.label[:200],
                    sending=True,
                    sending_since=timezone.now(),
                ),
            )
        try:
            result = client().create_part(context.listing, COLLECTIONS[op.kind], body)
        except SparkError as error:
            if not error.ambiguous:
                RemotePart.objects.filter(**key).update(sending=False)
            raise
        remote_id = result.resource_id
        if not remote_id:
            return  # answered without its id: the list settles it (the row is still `sending`)
        with self.recording():
            RemotePart.objects.filter(**key).update(
                remote_id=remote_id,
                sending=False,
                failed_seq=None,
                error_message="",
                error_code=None,
                error_at=None,
                confirmed_at=timezone.now(),
            )
            order = [rid for rid in (self.row.part_order or {}).get(op.kind, []) if rid != remote_id]
            self._set_part_order(op.kind, [*order, remote_id])

    def _op_ReadPartGroup(self, op: planner.ReadPartGroup, draft: Draft, context: Any) -> None:
        key = dict(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, variant=op.variant)
        try:
            record = read_with_retry(
                client().get_part, context.listing, COLLECTIONS[op.kind], op.remote_id
            ).first
        except SparkNotFound:
            with self.recording():
                RemotePart.objects.filter(**key).update(remote_id="", content_sha256="")
                self._drop_from_order(op.kind, op.remote_id)
            return
        group_id = str((record or {}).get("GroupId") or "")
        if not group_id:
            # Worth another try (the push backs off): the branded twin cannot be paired without it.
            raise RuntimeError(f"The MLS gave {op.kind} {op.remote_id} no GroupId")
        with self.recording():
            RemotePart.objects.filter(**key).update(group_id=group_id)

    def _op_UpdatePart(self, op: planner.UpdatePart, draft: Draft, context: Any) -> None:
        body = part_body(op.attributes, op.group_id)
        key = dict(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, variant=op.variant)
        try:
            client().update_part(context.listing, COLLECTIONS[op.kind], op.remote_id, body)
        except SparkNotFound:
            # Gone from the remote (removed in the MLS): the next plan creates it again.
            with self.recording():
                RemotePart.objects.filter(**key).update(remote_id="", content_sha256="")
                self._drop_from_order(op.kind, op.remote_id)
            return
        changes: dict[str, Any] = dict(
            attributes=body,
            content_sha256=op.content_hash,
            label=op.label[:200],
            failed_seq=None,
            error_message="",
            error_code=None,
            error_at=None,
            confirmed_at=timezone.now(),
        )
        if op.group_id:
            changes["group_id"] = op.group_id
        with self.recording():
            RemotePart.objects.filter(**key).update(**changes)

    def _op_DeletePart(self, op: planner.DeletePart, draft: Draft, context: Any) -> None:
        with contextlib.suppress(SparkNotFound):  # already gone: a lost answer, or removed in the MLS
            client().delete_part(context.listing, COLLECTIONS[op.kind], op.remote_id)
        with self.recording():
            RemotePart.objects.filter(draft_id=self.draft_id, kind=op.kind, remote_id=op.remote_id).delete()
            self._drop_from_order(op.kind, op.remote_id)

    def _op_ForgetPart(self, op: planner.ForgetPart, draft: Draft, context: Any) -> None:
        with self.recording():
            RemotePart.objects.filter(
                draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, variant=op.variant, remote_id=""
            ).delete()

    def _op_ReorderParts(self, op: planner.ReorderParts, draft: Draft, context: Any) -> None:
        client().reorder_parts(context.listing, COLLECTIONS[op.kind], list(op.remote_ids))
        with self.recording():
            self._set_part_order(op.kind, list(op.remote_ids))

    def _drop_from_order(self, kind: str, remote_id: str) -> None:
        self._set_part_order(
            kind, [rid for rid in (self.row.part_order or {}).get(kind, []) if rid != remote_id]
        )

    def refresh_parts(self, ref: ListingRef) -> None:
        """The read-back after a lost answer: make the mirror of the parts say what the remote
        holds (a record gone is created again, one that differs is sent again, a copy equal to
        one of ours is deleted), and take the remote's order."""
        kinds = set(RemotePart.objects.filter(draft_id=self.draft_id).values_list("kind", flat=True))
        for kind in sorted(kinds):
            records = list_parts(kind, ref)
            by_id = {str(record["Id"]): record for record in records}
            rows = self._part_rows(kind)
            known = {row.remote_id for row in rows if row.remote_id}
            with self.recording():
                for row in rows:
                    if not row.remote_id or row.sending:
                        continue
                    record = by_id.get(row.remote_id)
                    if record is None:
                        RemotePart.objects.filter(pk=row.pk).update(remote_id="", content_sha256="")
                    elif not is_record_of(kind, row.attributes, record):
                        RemotePart.objects.filter(pk=row.pk).update(content_sha256="")
                ours = [row.attributes for row in rows if row.remote_id and row.local_id is not None]
                for rid, record in by_id.items():
                    if rid not in known and any(is_record_of(kind, sent, record) for sent in ours):
                        RemotePart.objects.get_or_create(
                            draft_id=self.draft_id, kind=kind, local_id=None, remote_id=rid
                        )
                        known.add(rid)
                self._set_part_order(kind, [str(r["Id"]) for r in records if str(r["Id"]) in known])
