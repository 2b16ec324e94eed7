"""Publishing, step PARTS: the draft's rooms, units, virtual tours and videos onto the live
listing (`ListingRef.for_listing(live id)`), then their order; and the comparison the VERIFY
step makes of them (mls/publishing.py calls both).

Resumable without duplicates, as the uploads are: each create's intent (what it sends) is
written on its `PromotionPart` before the request, and a run that finds one still `sending`
lists the live collection and adopts the record equal to it before creating anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Protocol

from django.utils import timezone

from drafts.models import Draft
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound

from . import planner
from .failures import is_transient
from .leased import settle_seconds
from .models import Promotion, PromotionPart
from .part_operations import PartNotYet, list_parts, part_body
from .part_records import (
    BRANDED,
    COLLECTIONS,
    PART_KINDS,
    UNBRANDED,
    is_record_of,
    refusal_words,
    settle_lost_creates,
)
from .remote import client, read_with_retry
from .state import local_parts


class PartRefused(Exception):
    """The live listing refused a part: the message names it ("Room 2 (Kitchen): ...")."""


class PartsJob(Protocol):
    """What the steps need of the publishing job (mls/publishing.py `Publisher`)."""

    draft_id: int
    purpose: str

    @property
    def job(self) -> Promotion: ...

    @property
    def ref(self) -> ListingRef: ...

    def save_job(self, **values: Any) -> None: ...

    def recording(self) -> contextlib.AbstractContextManager[None]: ...


def publish_parts(job: PartsJob, draft: Draft) -> int:
    """Make the live listing's parts equal to the draft's; the number of records it holds."""
    wanted = local_parts(draft.pk)
    total = 0
    for kind in PART_KINDS:
        total += _publish_kind(job, kind, wanted.get(kind, ()))
    return total


def _rows(job: PartsJob, kind: str) -> dict[tuple[int, str], PromotionPart]:
    return {
        (row.local_id, row.variant): row
        for row in PromotionPart.objects.filter(promotion_id=job.draft_id, kind=kind)
    }


def _set_order(job: PartsJob, kind: str, order: list[str]) -> None:
    job.save_job(part_order={**(job.job.part_order or {}), kind: order})


def _publish_kind(job: PartsJob, kind: str, parts: tuple[planner.LocalPart, ...]) -> int:
    rows = _rows(job, kind)
    if any(row.sending for row in rows.values()):
        _settle_lost_creates(job, kind, rows)
        rows = _rows(job, kind)
    api = client()
    keys = {(part.local_id, record.variant) for part in parts for record in part.records}
    for key, row in list(rows.items()):
        if key in keys:
            continue
        if row.remote_id:
            job.purpose = f"remove {kind} {row.local_id}"
            with contextlib.suppress(SparkNotFound):
                api.delete_part(job.ref, COLLECTIONS[kind], row.remote_id)
        with job.recording():
            row.delete()
        del rows[key]
        _set_order(
            job, kind, [rid for rid in (job.job.part_order or {}).get(kind, []) if rid != row.remote_id]
        )

    order: list[str] = []
    for part in parts:
        variants = {record.variant for record in part.records}
        for record in part.records:
            group_id = ""
            if record.variant == BRANDED and UNBRANDED in variants:
                group_id = _group_of(job, kind, rows[(part.local_id, UNBRANDED)])
            found = rows.get((part.local_id, record.variant))
            try:
                if found is None or not found.remote_id:
                    row = _create(job, kind, part, record, group_id, found)
                else:
                    row = found
                    if row.content_sha256 != record.content_hash or (group_id and row.group_id != group_id):
                        _update(job, kind, part, record, group_id, row)
            except SparkError as error:
                if is_transient(error):
                    raise
                words = refusal_words(error.message, [item.message or "" for item in error.field_errors])
                raise PartRefused(f"{part.label}: {words}") from error
            rows[(part.local_id, record.variant)] = row
            order.append(row.remote_id)
    if len(order) > 1 and list((job.job.part_order or {}).get(kind, [])) != order:
        job.purpose = f"order the {COLLECTIONS[kind]}"
        api.reorder_parts(job.ref, COLLECTIONS[kind], order)
    if list((job.job.part_order or {}).get(kind, [])) != order:
        _set_order(job, kind, order)
    return len(order)


def _settle_lost_creates(job: PartsJob, kind: str, rows: dict[tuple[int, str], PromotionPart]) -> None:
    records = list_parts(kind, job.ref)
    known = {row.remote_id for row in rows.values() if row.remote_id}
    sending = [(row.pk, row.attributes) for row in rows.values() if row.sending]
    adopted, copies = settle_lost_creates(kind, sending, known, records)
    now = timezone.now()
    waits: list[dt.datetime] = []
    for row in rows.values():
        if not row.sending:
            continue
        record = adopted.get(row.pk)
        with job.recording():
            if record is not None:
                PromotionPart.objects.filter(pk=row.pk).update(
                    remote_id=str(record["Id"]),
                    group_id=str(record.get("GroupId") or row.attributes.get("GroupId") or ""),
                    sending=False,
                    confirmed_at=now,
                )
                continue
            settle_until = (row.sending_since or now) + dt.timedelta(seconds=settle_seconds())
            if now < settle_until:
                waits.append(settle_until)
            else:
                PromotionPart.objects.filter(pk=row.pk).update(sending=False, remote_id="")
    for record in copies:
        # A second copy a lost answer made: the live listing must hold each part once.
        job.purpose = f"remove a copy of a {kind}"
        with contextlib.suppress(SparkNotFound):
            client().delete_part(job.ref, COLLECTIONS[kind], str(record["Id"]))
    # The live listing's order of the records it is now known to hold.
    ours = {row.remote_id for row in rows.values() if row.remote_id} | {
        str(r["Id"]) for r in adopted.values()
    }
    _set_order(job, kind, [str(r["Id"]) for r in records if str(r["Id"]) in ours])
    if waits:
        raise PartNotYet(min(waits))


def _group_of(job: PartsJob, kind: str, twin: PromotionPart) -> str:
    """The GroupId of an unbranded record (read back once: the create answers only its Id)."""
    if twin.group_id:
        return twin.group_id
    job.purpose = f"read the group of {kind} {twin.local_id}"
    record = read_with_retry(client().get_part, job.ref, COLLECTIONS[kind], twin.remote_id).first or {}
    group_id = str(record.get("GroupId") or "")
    if not group_id:
        raise RuntimeError(f"The MLS gave {kind} {twin.remote_id} no GroupId")
    with job.recording():
        PromotionPart.objects.filter(pk=twin.pk).update(group_id=group_id)
    twin.group_id = group_id
    return group_id


def _create(
    job: PartsJob,
    kind: str,
    part: planner.LocalPart,
    record: planner.LocalPartRecord,
    group_id: str,
    row: PromotionPart | None,
) -> PromotionPart:
    body = part_body(record.attributes, group_id)
    job.purpose = f"add {part.label}"[:200]
    # The intent first: a lost answer is looked for in the live collection before sending again.
    with job.recording():
        row, _ = PromotionPart.objects.update_or_create(
            promotion_id=job.draft_id,
            kind=kind,
            local_id=part.local_id,
            variant=record.variant,
            defaults=dict(
                remote_id="",
                group_id=group_id,
                attributes=body,
                content_sha256=record.content_hash,
                sending=True,
                sending_since=timezone.now(),
            ),
        )
    try:
        result = client().create_part(job.ref, COLLECTIONS[kind], body)
    except SparkError as error:
        if not error.ambiguous:
            PromotionPart.objects.filter(pk=row.pk).update(sending=False)
        raise
    remote_id = result.resource_id
    if not remote_id:
        raise PartNotYet(timezone.now())  # answered without its id: the list settles it
    with job.recording():
        PromotionPart.objects.filter(pk=row.pk).update(
            remote_id=remote_id, sending=False, confirmed_at=timezone.now()
        )
    row.remote_id, row.sending = remote_id, False
    order = [rid for rid in (job.job.part_order or {}).get(kind, []) if rid != remote_id]
    _set_order(job, kind, [*order, remote_id])
    return row


def _update(
    job: PartsJob,
    kind: str,
    part: planner.LocalPart,
    record: planner.LocalPartRecord,
    group_id: str,
    row: PromotionPart,
) -> None:
    body = part_body(record.attributes, group_id)
    job.purpose = f"update {part.label}"[:200]
    client().update_part(job.ref, COLLECTIONS[kind], row.remote_id, body)
    changes: dict[str, Any] = {
        "attributes": body,
        "content_sha256": record.content_hash,
        "confirmed_at": timezone.now(),
    }
    if group_id:
        changes["group_id"] = group_id
    with job.recording():
        PromotionPart.objects.filter(pk=row.pk).update(**changes)
    row.content_sha256, row.group_id = record.content_hash, group_id or row.group_id


def compare_parts(job: PartsJob, draft: Draft) -> list[str]:
    """What differs between the live listing's parts and the draft's, with the job's records
    forgotten (or extras removed) so the PARTS step puts it right."""
    problems: list[str] = []
    wanted = local_parts(draft.pk)
    for kind in PART_KINDS:
        rows = _rows(job, kind)
        parts = wanted.get(kind, ())
        if not rows and not parts:
            continue
        records = list_parts(kind, job.ref)
        by_remote = {row.remote_id: row for row in rows.values() if row.remote_id}
        listed = [str(record["Id"]) for record in records]
        for record in records:
            rid = str(record["Id"])
            row = by_remote.get(rid)
            if row is None:
                job.purpose = f"remove an extra {kind}"
                with contextlib.suppress(SparkNotFound):
                    client().delete_part(job.ref, COLLECTIONS[kind], rid)
                problems.append(f"removed an extra {kind}")
            elif not is_record_of(kind, row.attributes, record):
                with job.recording():
                    PromotionPart.objects.filter(pk=row.pk).update(content_sha256="")
                problems.append(f"{kind} {row.local_id} differs")
        missing = [row for rid, row in by_remote.items() if rid not in listed]
        if missing:
            with job.recording():
                PromotionPart.objects.filter(pk__in=[row.pk for row in missing]).delete()
            problems.append(f"{len(missing)} {kind}(s) missing")
        expected = {(part.local_id, record.variant) for part in parts for record in part.records}
        absent = [key for key in expected if key not in rows or not rows[key].remote_id]
        if absent:
            problems.append(f"{len(absent)} {kind}(s) not added")
        ours = [rid for rid in listed if rid in by_remote]
        if ours != list((job.job.part_order or {}).get(kind, [])):
            problems.append(f"{kind} order differs")
            _set_order(job, kind, [])
    return problems
