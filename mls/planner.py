"""What to send: the local draft and the remote mirror in, the calls that close the gap out.

Pure: no database, no HTTP, no clock (`now` is an argument). mls/push.py takes a snapshot
of the draft and of the mirror, asks `plan()`, makes the calls, records each confirmed one
in the mirror, and asks again, until the plan is empty.

Dependency order (docs/architecture.md#the-order-of-calls): create the remote listing (or find
the one a lost answer created); update changed fields; per kind (photos, then documents):
settle any upload whose answer was lost before anything else, delete removed items, upload
new ones (in local order, so appends land in order), replace changed pictures, update
names/captions/privacy, set the primary photo, and only then, once every item has a remote
id and the set is settled, apply the order. Then the listing parts, per kind (rooms, units,
virtual tours, videos: `_plan_parts`): settle records whose create answer was lost, delete
the records of removed parts, create missing ones (a tour's or video's unbranded record before
its branded one, which carries the unbranded one's GroupId), update changed ones, and once
all have ids, reorder.

A draft in the trash has no remote listing: the plan deletes it (after finding the one a lost
create answer may have made), and nothing else. Restoring the draft starts again from an empty
mirror, so the normal path creates a fresh listing with its photos and documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard, get_args

from spark.client import Privacy

from .part_records import BRANDED, PART_KINDS, UNBRANDED

PHOTO = "photo"
DOCUMENT = "document"
KINDS = (PHOTO, DOCUMENT)
# Where the remote's order of each kind is kept (the mirror, a promotion job).
ORDER_FIELDS = {PHOTO: "photo_order", DOCUMENT: "document_order"}
PRIVACIES: tuple[str, ...] = get_args(Privacy)


def _is_privacy(value: str) -> TypeGuard[Privacy]:
    return value in PRIVACIES


def document_privacy(value: str) -> Privacy:
    """A document's privacy as the MLS spells it (`Document.privacy` holds only these)."""
    if not _is_privacy(value):
        raise ValueError(f"Not a document privacy the MLS knows: {value!r}")
    return value


# --- State in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalItem:
    """A photo or document of the draft as the portal holds it (not in the trash)."""

    kind: str
    local_id: int
    upload_token: str = ""
    name: str = ""
    caption: str = ""
    primary: bool = False
    privacy: str = ""
    content_hash: str = ""
    # Photos: a processed master exists. Documents: always.
    uploadable: bool = True
    # Where the bytes are stored, read with `content_hash` so an upload sends what it records.
    content_name: str = ""
    # The remote id copied onto the media row for people (the mirror is the record; the
    # planner never reads this: the push keeps the copy up to date).
    remote_copy: str = ""


@dataclass(frozen=True)
class LocalState:
    seq: int
    fields: Mapping[str, Any]
    photos: tuple[LocalItem, ...] = ()  # in local order
    documents: tuple[LocalItem, ...] = ()
    # In the trash: the remote must hold no incomplete listing for it.
    trashed: bool = False
    # Rooms, units, tours and videos: part kind -> the parts in local order.
    parts: Mapping[str, tuple[LocalPart, ...]] = field(default_factory=dict)

    def items(self, kind: str) -> tuple[LocalItem, ...]:
        return self.photos if kind == PHOTO else self.documents


@dataclass(frozen=True)
class LocalPartRecord:
    """One MLS record of a part (`ListingPart.remote_records()`): "" for a room or unit,
    "unbranded" or "branded" for a tour's or video's link."""

    variant: str
    attributes: Mapping[str, Any]
    content_hash: str


@dataclass(frozen=True)
class LocalPart:
    kind: str
    local_id: int
    # What people call it in a refusal: "Room 2 (Kitchen)".
    label: str
    records: tuple[LocalPartRecord, ...]


@dataclass(frozen=True)
class MirrorItem:
    """A photo or document as the remote last confirmed it (or as last sent, while `sending`)."""

    kind: str
    local_id: int | None
    remote_id: str = ""
    sending: bool = False
    name: str = ""
    caption: str = ""
    privacy: str = ""
    content_hash: str = ""
    failed_seq: int | None = None

    def blocked_at(self, seq: int) -> bool:
        return self.failed_seq is not None and self.failed_seq >= seq


@dataclass(frozen=True)
class MirrorPart:
    """One record of a part as the remote last confirmed it (or as sent, while `sending`).
    `local_id` None: a record we found and must remove (a copy a lost create made)."""

    kind: str
    local_id: int | None
    variant: str
    remote_id: str = ""
    group_id: str = ""
    content_hash: str = ""
    sending: bool = False
    failed_seq: int | None = None

    def blocked_at(self, seq: int) -> bool:
        return self.failed_seq is not None and self.failed_seq >= seq


@dataclass(frozen=True)
class MirrorState:
    remote_id: str = ""
    create_pending: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)
    fields_failed_seq: int | None = None
    items: tuple[MirrorItem, ...] = ()
    photo_order: tuple[str, ...] = ()
    document_order: tuple[str, ...] = ()
    primary_photo: str = ""
    verify_after: dt.datetime | None = None
    # When the local order was last seen to change, and last pushed (coalescing).
    order_seen_at: Mapping[str, dt.datetime | None] = field(default_factory=dict)
    order_pushed_at: Mapping[str, dt.datetime | None] = field(default_factory=dict)
    # When the draft's fields or media records (names, captions, primary, privacy) were last
    # seen to change, and when such an edit was last pushed (coalescing, as for the order).
    edits_seen_at: dt.datetime | None = None
    edits_pushed_at: dt.datetime | None = None
    parts: tuple[MirrorPart, ...] = ()
    # Part kind -> the remote's order of its records, as last confirmed.
    part_order: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def order(self, kind: str) -> tuple[str, ...]:
        return self.photo_order if kind == PHOTO else self.document_order

    def items_of(self, kind: str) -> list[MirrorItem]:
        return [item for item in self.items if item.kind == kind]


@dataclass(frozen=True)
class Timing:
    now: dt.datetime
    # A reorder within `order_min_interval` of the last one waits until the local order has
    # been still for `order_settle`: twenty drags in five seconds become one or two calls.
    order_settle: float = 1.0
    order_min_interval: float = 10.0
    # The same for edits of fields and media records: the first goes at once, the ones that
    # follow within `edit_min_interval` wait until the draft has been still for `edit_settle`,
    # so twenty saves of a price in five seconds become two calls, each with the latest value.
    edit_settle: float = 1.0
    edit_min_interval: float = 10.0


# --- Calls out -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    # After this op the mirror changes in ways the rest of the plan did not foresee.
    replan_after: ClassVar[bool] = False

    @property
    def kind_of_item(self) -> str | None:
        return getattr(self, "kind", None)


@dataclass(frozen=True)
class FindListing(Op):
    """A create was sent without a confirmed answer: look for the listing it may have made."""

    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class CreateListing(Op):
    fields: Mapping[str, Any]
    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class DeleteListing(Op):
    """Remove the remote incomplete listing (the draft is in the trash)."""

    remote_id: str
    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class Verify(Op):
    """Read the remote back (fields, photos, documents) after a write whose answer was lost."""

    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class UpdateFields(Op):
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class ReconcileItems(Op):
    """List the remote's items and adopt the ones whose upload answer was lost."""

    kind: str
    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class Forget(Op):
    """Drop the mirror row of an item that never reached the remote and is gone locally."""

    kind: str
    local_id: int


@dataclass(frozen=True)
class Delete(Op):
    kind: str
    local_id: int | None
    remote_id: str


@dataclass(frozen=True)
class Upload(Op):
    kind: str
    local_id: int
    upload_token: str
    name: str
    content_hash: str
    caption: str = ""
    primary: bool = False
    privacy: str = ""
    content_name: str = ""


@dataclass(frozen=True)
class Replace(Op):
    """A new picture for a photo the remote has (rotated or replaced locally)."""

    kind: str
    local_id: int
    remote_id: str
    upload_token: str
    name: str
    caption: str
    content_hash: str
    content_name: str = ""


@dataclass(frozen=True)
class UpdatePhoto(Op):
    """One PUT of the photo record: any of its name, its caption and the primary flag."""

    kind: str
    local_id: int
    remote_id: str
    name: str | None = None
    caption: str | None = None
    primary: bool = False


@dataclass(frozen=True)
class SetPrimary(Op):
    kind: str
    local_id: int
    remote_id: str


@dataclass(frozen=True)
class RenameDocument(Op):
    kind: str
    local_id: int
    remote_id: str
    name: str


@dataclass(frozen=True)
class SetPrivacy(Op):
    kind: str
    local_id: int
    remote_id: str
    privacy: str


@dataclass(frozen=True)
class Reorder(Op):
    kind: str
    remote_ids: tuple[str, ...]
    local_ids: tuple[int, ...]


@dataclass(frozen=True)
class ReconcileParts(Op):
    """List the remote's records of a part kind and adopt the ones whose create answer was lost."""

    kind: str
    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class ForgetPart(Op):
    """Drop the mirror row of a part record that never reached the remote and is gone locally."""

    kind: str
    local_id: int
    variant: str


@dataclass(frozen=True)
class DeletePart(Op):
    kind: str
    local_id: int | None
    variant: str
    remote_id: str


@dataclass(frozen=True)
class CreatePart(Op):
    kind: str
    local_id: int
    variant: str
    attributes: Mapping[str, Any]
    content_hash: str
    label: str = ""
    # A branded record's: the GroupId of its unbranded twin.
    group_id: str = ""


@dataclass(frozen=True)
class UpdatePart(Op):
    kind: str
    local_id: int
    variant: str
    remote_id: str
    attributes: Mapping[str, Any]
    content_hash: str
    label: str = ""
    group_id: str = ""


@dataclass(frozen=True)
class ReadPartGroup(Op):
    """Read the GroupId the remote gave an unbranded record (its branded twin needs it)."""

    kind: str
    local_id: int
    variant: str
    remote_id: str
    replan_after: ClassVar[bool] = True


@dataclass(frozen=True)
class ReorderParts(Op):
    kind: str
    remote_ids: tuple[str, ...]


# Edits of what the remote already holds, coalesced in a burst (`Timing.edit_settle`).
EDIT_OPS = (UpdateFields, UpdatePhoto, SetPrimary, RenameDocument, SetPrivacy)


@dataclass(frozen=True)
class Plan:
    ops: list[Op]
    # Nothing to do now, but come back then (a reorder settling, a read-back due).
    wait_until: dt.datetime | None = None
    # What the remote refused at this change_seq: the draft is not in sync but waits for a person.
    blocked: tuple[str, ...] = ()
    # Edits are held for a burst to settle (part of what `wait_until` waits for).
    edits_held: bool = False

    @property
    def done(self) -> bool:
        return not self.ops and self.wait_until is None


# --- Planning ------------------------------------------------------------------------------


# Values JSON carries unchanged: two of the same one of these types compare as they are.
_PLAIN = (str, int, bool, type(None))


def same_value(a: Any, b: Any) -> bool:
    """Equality of two field values as JSON carries them (1 == 1.0, tuples == lists)."""
    if type(a) is type(b) and type(a) in _PLAIN:
        # Most fields, on every plan of every push: no JSON round trip needed for these.
        return bool(a == b)
    return _normal(a) == _normal(b)


def _normal(value: Any) -> object:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def changed_fields(local: Mapping[str, Any], confirmed: Mapping[str, Any]) -> dict[str, Any]:
    missing = object()
    return {
        name: value
        for name, value in local.items()
        if (old := confirmed.get(name, missing)) is missing or not same_value(old, value)
    }


def plan(local: LocalState, mirror: MirrorState, timing: Timing) -> Plan:
    """The calls that make the remote equal to `local`, in dependency order."""
    seq = local.seq
    if local.trashed:
        return _plan_trashed(mirror)
    if not mirror.remote_id:
        if mirror.create_pending:
            return Plan([FindListing()])
        if mirror.fields_failed_seq is not None and mirror.fields_failed_seq >= seq:
            return Plan([], blocked=("listing",))
        return Plan([CreateListing(dict(local.fields))])
    if mirror.verify_after is not None and mirror.verify_after <= timing.now:
        return Plan([Verify()])

    ops: list[Op] = []
    blocked: list[str] = []
    waits: list[dt.datetime] = []
    if mirror.verify_after is not None:
        waits.append(mirror.verify_after)
    if mirror.fields_failed_seq is not None and mirror.fields_failed_seq >= seq:
        blocked.append("fields")
    else:
        changes = changed_fields(local.fields, mirror.fields)
        if changes:
            ops.append(UpdateFields(changes))
    for kind in KINDS:
        kind_ops, wait, kind_blocked = _plan_items(kind, local, mirror, timing)
        ops.extend(kind_ops)
        blocked.extend(kind_blocked)
        if wait is not None:
            waits.append(wait)
    for part_kind in PART_KINDS:
        part_ops, part_blocked = _plan_parts(part_kind, local, mirror)
        ops.extend(part_ops)
        blocked.extend(part_blocked)
    hold = _edits_hold(mirror, timing) if any(isinstance(op, EDIT_OPS) for op in ops) else None
    if hold is not None:
        if any(isinstance(op, UpdateFields) for op in ops):
            # What follows may depend on the fields (units only on a multi-family type): all wait.
            ops = []
        else:
            ops = [op for op in ops if not isinstance(op, EDIT_OPS)]
        waits.append(hold)
    return Plan(
        ops,
        wait_until=min(waits) if waits and not ops else None,
        blocked=tuple(blocked),
        edits_held=hold is not None,
    )


def _edits_hold(mirror: MirrorState, timing: Timing) -> dt.datetime | None:
    """When edits may go, if not now: an edit pushed within `edit_min_interval` makes the next
    ones wait until the draft has been still for `edit_settle` (at most until the interval ends),
    so a burst of saves goes as one call with the last values."""
    pushed_at, seen_at, now = mirror.edits_pushed_at, mirror.edits_seen_at, timing.now
    if pushed_at is None or (now - pushed_at).total_seconds() >= timing.edit_min_interval:
        return None
    if seen_at is None or (now - seen_at).total_seconds() >= timing.edit_settle:
        return None
    return min(
        seen_at + dt.timedelta(seconds=timing.edit_settle),
        pushed_at + dt.timedelta(seconds=timing.edit_min_interval),
    )


def _plan_trashed(mirror: MirrorState) -> Plan:
    """Nothing of a trashed draft stays in the MLS. Its items, order and pending read-backs do
    not matter: deleting the listing removes them all (a lost delete is simply sent again)."""
    if mirror.remote_id:
        return Plan([DeleteListing(mirror.remote_id)])
    if mirror.create_pending:
        # A create whose answer was lost may have made a listing: find it, then delete it.
        return Plan([FindListing()])
    return Plan([])


def _plan_items(
    kind: str, local: LocalState, mirror: MirrorState, timing: Timing
) -> tuple[list[Op], dt.datetime | None, list[str]]:
    seq = local.seq
    mirrored = {m.local_id: m for m in mirror.items_of(kind) if m.local_id is not None}
    orphans = [m for m in mirror.items_of(kind) if m.local_id is None]
    # An upload whose answer was lost is settled first: until we know whether the remote made
    # it, deleting, re-sending or ordering around it could duplicate or misplace it.
    if any(m.sending for m in [*mirrored.values(), *orphans]):
        return [ReconcileItems(kind)], None, []

    items = local.items(kind)
    active = {item.local_id: item for item in items}
    ops: list[Op] = []
    blocked = [
        f"{kind}:{m.local_id}" for m in mirrored.values() if m.local_id in active and m.blocked_at(seq)
    ]
    m: MirrorItem | None

    for m in orphans:
        if m.blocked_at(seq):
            blocked.append(f"{kind}:{m.remote_id}")
        elif m.remote_id:
            ops.append(Delete(kind, None, m.remote_id))
    for local_id, m in mirrored.items():
        if local_id in active:
            continue
        if m.blocked_at(seq):
            blocked.append(f"{kind}:{local_id}")
        else:
            ops.append(Delete(kind, local_id, m.remote_id) if m.remote_id else Forget(kind, local_id))

    for item in items:
        m = mirrored.get(item.local_id)
        if m is not None and m.blocked_at(seq):
            continue
        if m is None or not m.remote_id:
            if item.uploadable:
                ops.append(
                    Upload(
                        kind,
                        item.local_id,
                        upload_token=item.upload_token,
                        name=item.name,
                        content_hash=item.content_hash,
                        caption=item.caption,
                        primary=item.primary,
                        privacy=item.privacy,
                        content_name=item.content_name,
                    )
                )
        elif (
            kind == PHOTO
            and item.uploadable
            and item.content_hash
            and m.content_hash
            and item.content_hash != m.content_hash
        ):
            ops.append(
                Replace(
                    kind,
                    item.local_id,
                    remote_id=m.remote_id,
                    upload_token=item.upload_token,
                    name=item.name,
                    caption=item.caption,
                    content_hash=item.content_hash,
                    content_name=item.content_name,
                )
            )

    replacing = {op.local_id for op in ops if isinstance(op, Replace)}
    for item in items:
        m = mirrored.get(item.local_id)
        if m is None or not m.remote_id or m.blocked_at(seq) or item.local_id in replacing:
            continue
        if kind == PHOTO:
            name = item.name if item.name != m.name else None
            caption = item.caption if item.caption != m.caption else None
            if name is not None or caption is not None:
                ops.append(UpdatePhoto(kind, item.local_id, m.remote_id, name=name, caption=caption))
        else:
            if item.name != m.name:
                ops.append(RenameDocument(kind, item.local_id, m.remote_id, item.name))
            if item.privacy and item.privacy != m.privacy:
                ops.append(SetPrivacy(kind, item.local_id, m.remote_id, item.privacy))

    primary = next((item for item in items if item.primary), None) if kind == PHOTO else None
    if primary is not None:
        m = mirrored.get(primary.local_id)
        if m is not None and m.remote_id and not m.blocked_at(seq) and mirror.primary_photo != m.remote_id:
            # The photo's PUT carries Name, Caption and Primary together (docs/spark-protocol.md#photos):
            # a new caption and the star on one photo are one call.
            update = next(
                (op for op in ops if isinstance(op, UpdatePhoto) and op.local_id == primary.local_id), None
            )
            if update is None:
                ops.append(SetPrimary(kind, primary.local_id, m.remote_id))
            else:
                ops[ops.index(update)] = dataclasses.replace(update, primary=True)

    wait = None
    if not any(isinstance(op, Delete | Forget | Upload | Replace) for op in ops):
        # Remote items we failed to delete are still there: they keep the last places.
        stuck = [
            m.remote_id
            for m in [*orphans, *(m for lid, m in mirrored.items() if lid not in active)]
            if m.remote_id and m.blocked_at(seq)
        ]
        reorder, wait = _plan_order(kind, items, mirrored, mirror, timing, stuck)
        if reorder is not None:
            ops.append(reorder)
    return ops, wait, blocked


def _plan_order(
    kind: str,
    items: Iterable[LocalItem],
    mirrored: Mapping[int, MirrorItem],
    mirror: MirrorState,
    timing: Timing,
    stuck: list[str],
) -> tuple[Reorder | None, dt.datetime | None]:
    """The full wanted order, once the set of remote items is settled; None if already so."""
    remote_ids: list[str] = []
    local_ids: list[int] = []
    for item in items:
        m = mirrored.get(item.local_id)
        if m is not None and m.remote_id:
            remote_ids.append(m.remote_id)
            local_ids.append(item.local_id)
        # Items the remote refused, or photos not processed yet, have no remote place.
    remote_ids.extend(stuck)
    if not local_ids or tuple(remote_ids) == mirror.order(kind):
        return None, None
    now = timing.now
    pushed_at = mirror.order_pushed_at.get(kind)
    seen_at = mirror.order_seen_at.get(kind)
    if pushed_at is None or (now - pushed_at).total_seconds() >= timing.order_min_interval:
        return Reorder(kind, tuple(remote_ids), tuple(local_ids)), None
    if seen_at is None or (now - seen_at).total_seconds() >= timing.order_settle:
        return Reorder(kind, tuple(remote_ids), tuple(local_ids)), None
    settle_at = seen_at + dt.timedelta(seconds=timing.order_settle)
    interval_at = pushed_at + dt.timedelta(seconds=timing.order_min_interval)
    return None, min(settle_at, interval_at)


def _plan_parts(kind: str, local: LocalState, mirror: MirrorState) -> tuple[list[Op], list[str]]:
    """The calls that make the remote's records of one part kind equal to the draft's parts."""
    seq = local.seq
    rows = [m for m in mirror.parts if m.kind == kind]
    # A create whose answer was lost is settled first, as an upload is.
    if any(m.sending for m in rows):
        return [ReconcileParts(kind)], []
    parts = local.parts.get(kind, ())
    wanted = {(part.local_id, record.variant) for part in parts for record in part.records}
    mirrored = {(m.local_id, m.variant): m for m in rows if m.local_id is not None}
    ops: list[Op] = []
    blocked: list[str] = []
    stuck: list[str] = []

    for row in rows:
        if row.local_id is not None and (row.local_id, row.variant) in wanted:
            continue
        if row.blocked_at(seq):
            blocked.append(f"{kind}:{row.local_id if row.local_id is not None else row.remote_id}")
            if row.remote_id:
                stuck.append(row.remote_id)
        elif row.remote_id:
            ops.append(DeletePart(kind, row.local_id, row.variant, row.remote_id))
        elif row.local_id is not None:
            ops.append(ForgetPart(kind, row.local_id, row.variant))

    order: list[str] = []
    waiting = False
    for part in parts:
        variants = {record.variant for record in part.records}
        for record in part.records:
            m = mirrored.get((part.local_id, record.variant))
            if m is not None and m.blocked_at(seq):
                blocked.append(f"{kind}:{part.local_id}")
                if m.remote_id:
                    order.append(m.remote_id)
                continue
            group_id = ""
            if record.variant == BRANDED and UNBRANDED in variants:
                twin = mirrored.get((part.local_id, UNBRANDED))
                if twin is None or not twin.remote_id:
                    # Created after its unbranded twin (this plan creates it; the next one this).
                    waiting = True
                    continue
                if not twin.group_id:
                    ops.append(ReadPartGroup(kind, part.local_id, UNBRANDED, twin.remote_id))
                    waiting = True
                    continue
                group_id = twin.group_id
            if m is None or not m.remote_id:
                ops.append(
                    CreatePart(
                        kind,
                        part.local_id,
                        record.variant,
                        attributes=dict(record.attributes),
                        content_hash=record.content_hash,
                        label=part.label,
                        group_id=group_id,
                    )
                )
                waiting = True
                continue
            order.append(m.remote_id)
            if m.content_hash != record.content_hash or (group_id and m.group_id != group_id):
                ops.append(
                    UpdatePart(
                        kind,
                        part.local_id,
                        record.variant,
                        remote_id=m.remote_id,
                        attributes=dict(record.attributes),
                        content_hash=record.content_hash,
                        label=part.label,
                        group_id=group_id,
                    )
                )

    # The order once every record has its id and nothing is being added or removed.
    settled = not waiting and not any(isinstance(op, DeletePart | ForgetPart) for op in ops)
    wanted_order = (*order, *stuck)
    if settled and len(wanted_order) > 1 and wanted_order != tuple(mirror.part_order.get(kind, ())):
        ops.append(ReorderParts(kind, wanted_order))
    return ops, sorted(set(blocked))
