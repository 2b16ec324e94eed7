"""The planner for listing parts (rooms, units, virtual tours, videos) on its own: local parts and
the mirror of their remote records in, calls out (no database, no HTTP)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mls.part_records import BRANDED, UNBRANDED, is_record_of, record_attributes, record_hash
from mls.planner import (
    CreatePart,
    DeleteListing,
    DeletePart,
    ForgetPart,
    LocalPart,
    LocalPartRecord,
    LocalState,
    MirrorPart,
    MirrorState,
    ReadPartGroup,
    ReconcileParts,
    ReorderParts,
    Timing,
    UpdatePart,
    plan,
)

NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
T = Timing(now=NOW)
FIELDS = {"ListPrice": 250000, "City": "Fargo"}


def rec(variant: str, **attributes: Any) -> LocalPartRecord:
    return LocalPartRecord(variant, attributes, record_hash(attributes))


def room(local_id: int, name: str = "Kitchen", level: str = "1") -> LocalPart:
    return LocalPart(
        "room", local_id, f"Room {local_id} ({name})", (rec("", RoomName=name, RoomLevel=level),)
    )


def tour(local_id: int, url: str = "https://tour/1", branded: str = "") -> LocalPart:
    records = [rec(UNBRANDED, Name="Tour", Type=UNBRANDED, Uri=url)]
    if branded:
        records.append(rec(BRANDED, Name="Tour", Type=BRANDED, Uri=branded))
    return LocalPart("tour", local_id, f"Virtual tour {local_id}", tuple(records))


def local(**parts: tuple[LocalPart, ...]) -> LocalState:
    return LocalState(seq=5, fields=FIELDS, parts=parts)


def confirmed(part: LocalPart, variant: str = "", remote_id: str = "", group_id: str = "") -> MirrorPart:
    record = next(r for r in part.records if r.variant == variant)
    return MirrorPart(
        part.kind,
        part.local_id,
        variant,
        remote_id=remote_id or f"R{part.local_id}{variant[:1]}",
        group_id=group_id,
        content_hash=record.content_hash,
    )


def mirror(*parts: MirrorPart, **order: tuple[str, ...]) -> MirrorState:
    return MirrorState(remote_id="L1", fields=FIELDS, parts=parts, part_order=order)


def part_ops(local_state: LocalState, mirror_state: MirrorState) -> list[Any]:
    return plan(local_state, mirror_state, T).ops


def test_new_rooms_are_created_in_local_order_once_the_listing_exists():
    rooms = (room(1, "Kitchen"), room(2, "Bedroom"))
    ops = part_ops(local(room=rooms), mirror())
    assert [(type(op), op.local_id) for op in ops] == [(CreatePart, 1), (CreatePart, 2)]
    assert ops[0].attributes == {"RoomName": "Kitchen", "RoomLevel": "1"}
    assert ops[1].label == "Room 2 (Bedroom)"
    # No listing yet: the listing first, the parts after it.
    assert [type(op).__name__ for op in plan(local(room=rooms), MirrorState(), T).ops] == ["CreateListing"]


def test_a_synced_room_set_plans_nothing():
    rooms = (room(1), room(2, "Bedroom"))
    m = mirror(confirmed(rooms[0]), confirmed(rooms[1]), room=("R1", "R2"))
    assert plan(local(room=rooms), m, T).done


def test_a_changed_room_is_updated_in_place():
    before, after = room(1, level="1"), room(1, level="2")
    ops = part_ops(local(room=(after,)), mirror(confirmed(before), room=("R1",)))
    assert ops == [
        UpdatePart(
            "room",
            1,
            "",
            "R1",
            {"RoomName": "Kitchen", "RoomLevel": "2"},
            after.records[0].content_hash,
            label="Room 1 (Kitchen)",
        )
    ]


def test_a_removed_room_is_deleted_and_one_never_sent_is_forgotten():
    kept, gone = room(1), room(2, "Bedroom")
    never_sent = MirrorPart("room", 3, "", remote_id="")
    ops = part_ops(
        local(room=(kept,)), mirror(confirmed(kept), confirmed(gone), never_sent, room=("R1", "R2"))
    )
    assert DeletePart("room", 2, "", "R2") in ops
    assert ForgetPart("room", 3, "") in ops
    assert not any(isinstance(op, ReorderParts) for op in ops)


def test_order_is_applied_only_when_every_record_has_an_id():
    a, b, c = room(1), room(2, "Bedroom"), room(3, "Bath")
    # b and a swapped locally; c not created yet: create first, no reorder in the same plan.
    m = mirror(confirmed(a), confirmed(b), room=("R1", "R2"))
    ops = part_ops(local(room=(b, a, c)), m)
    assert [type(op) for op in ops] == [CreatePart]
    m = mirror(confirmed(a), confirmed(b), confirmed(c), room=("R1", "R2", "R3"))
    assert part_ops(local(room=(b, a, c)), m) == [ReorderParts("room", ("R2", "R1", "R3"))]


def test_a_lost_create_is_settled_before_anything_else_of_its_kind():
    a, b = room(1), room(2, "Bedroom")
    lost = dataclasses.replace(confirmed(b), remote_id="", sending=True)
    ops = part_ops(local(room=(a, b), tour=(tour(7),)), mirror(lost))
    # Rooms wait for the list (no second create of b, no create of a meanwhile); tours go on.
    assert ops[0] == ReconcileParts("room")
    assert not any(isinstance(op, CreatePart) and op.kind == "room" for op in ops)
    assert any(isinstance(op, CreatePart) and op.kind == "tour" for op in ops)


def test_a_lost_create_adopted_is_not_sent_again():
    """After the list adopted the record the lost answer made, the mirror has its id: no
    second create, only the rest."""
    a, b = room(1), room(2, "Bedroom")
    adopted = confirmed(b, remote_id="R9")
    ops = part_ops(local(room=(a, b)), mirror(adopted, room=("R9",)))
    assert ops == [
        CreatePart("room", 1, "", dict(a.records[0].attributes), a.records[0].content_hash, label=a.label)
    ]


def test_matching_a_listed_record_with_what_was_sent():
    sent = {"RoomName": "Kitchen", "RoomLevel": "1", "Length": None}
    raw = {"Id": "X", "Fields": [{"RoomName": "Kitchen"}, {"RoomLevel": "1"}, {"Length": None}]}
    assert is_record_of("room", sent, raw)
    assert not is_record_of("room", sent, {"Id": "X", "Fields": {"RoomName": "Kitchen", "RoomLevel": "2"}})
    # A value we never sent means another record.
    assert not is_record_of("room", sent, {"Fields": {"RoomName": "Kitchen", "RoomLevel": "1", "Width": "9"}})
    tour_sent = {"Name": "T", "Type": "unbranded", "Uri": "https://a", "GroupId": "G"}
    assert is_record_of(
        "tour", tour_sent, {"Id": "1", "GroupId": "Z", "Name": "T", "Type": "unbranded", "Uri": "https://a"}
    )
    assert not is_record_of("tour", tour_sent, {"Name": "T", "Type": "branded", "Uri": "https://a"})


def test_branded_is_created_after_the_unbranded_with_its_group_id():
    t = tour(1, branded="https://branded/1")
    first = part_ops(local(tour=(t,)), mirror())
    # Only the unbranded record: the branded one needs its GroupId.
    assert [(type(op), op.variant) for op in first] == [(CreatePart, UNBRANDED)]
    assert first[0].group_id == ""
    # Unbranded created, its GroupId not read yet: read it.
    no_group = mirror(confirmed(t, UNBRANDED, remote_id="U1"), tour=("U1",))
    assert part_ops(local(tour=(t,)), no_group) == [ReadPartGroup("tour", 1, UNBRANDED, "U1")]
    with_group = mirror(confirmed(t, UNBRANDED, remote_id="U1", group_id="G1"), tour=("U1",))
    ops = part_ops(local(tour=(t,)), with_group)
    assert [(type(op), op.variant, op.group_id) for op in ops] == [(CreatePart, BRANDED, "G1")]
    assert ops[0].attributes["Uri"] == "https://branded/1"


def test_branded_follows_a_new_unbranded_group():
    t = tour(1, branded="https://branded/1")
    m = mirror(
        confirmed(t, UNBRANDED, remote_id="U2", group_id="G2"),
        confirmed(t, BRANDED, remote_id="B1", group_id="G1"),
        tour=("U2", "B1"),
    )
    ops = part_ops(local(tour=(t,)), m)
    assert [(type(op), op.variant, op.group_id) for op in ops] == [(UpdatePart, BRANDED, "G2")]


def test_a_removed_branded_link_deletes_only_that_record():
    with_both = tour(1, branded="https://branded/1")
    only_unbranded = tour(1)
    m = mirror(
        confirmed(with_both, UNBRANDED, remote_id="U1", group_id="G1"),
        confirmed(with_both, BRANDED, remote_id="B1", group_id="G1"),
        tour=("U1", "B1"),
    )
    assert part_ops(local(tour=(only_unbranded,)), m) == [DeletePart("tour", 1, BRANDED, "B1")]


def test_tours_keep_each_part_records_together_in_the_order():
    t1, t2 = tour(1, branded="https://b/1"), tour(2, url="https://tour/2")
    m = mirror(
        confirmed(t1, UNBRANDED, remote_id="U1", group_id="G1"),
        confirmed(t1, BRANDED, remote_id="B1", group_id="G1"),
        confirmed(t2, UNBRANDED, remote_id="U2", group_id="G2"),
        tour=("U1", "B1", "U2"),
    )
    assert part_ops(local(tour=(t2, t1)), m) == [ReorderParts("tour", ("U2", "U1", "B1"))]


def test_a_refused_part_blocks_itself_not_other_kinds():
    bad = room(1, level="99")
    refused = dataclasses.replace(MirrorPart("room", 1, ""), failed_seq=5)
    result = plan(
        local(room=(bad, room(2, "Bath")), video=(dataclasses.replace(tour(3), kind="video"),)),
        mirror(refused),
        T,
    )
    created = [(op.kind, op.local_id) for op in result.ops if isinstance(op, CreatePart)]
    assert created == [("room", 2), ("video", 3)]
    assert result.blocked == ("room:1",)
    # An edit (a later change_seq) sends it again.
    later = dataclasses.replace(local(room=(bad,)), seq=6)
    assert [type(op) for op in plan(later, mirror(refused), T).ops] == [CreatePart]


def test_a_duplicate_found_on_the_remote_is_deleted():
    a = room(1)
    copy = MirrorPart("room", None, "", remote_id="R77")
    ops = part_ops(local(room=(a,)), mirror(confirmed(a), copy, room=("R1", "R77")))
    assert ops == [DeletePart("room", None, "", "R77")]


def test_trash_deletes_the_listing_and_no_part():
    a = room(1)
    trashed = dataclasses.replace(local(room=(a,)), trashed=True)
    assert plan(trashed, mirror(confirmed(a), room=("R1",)), T).ops == [DeleteListing("L1")]


def test_restored_draft_recreates_its_parts_after_the_listing():
    """The listing delete empties the mirror; restoring starts from nothing."""
    t = tour(1, branded="https://b/1")
    restored = local(room=(room(1),), tour=(t,))
    assert [type(op).__name__ for op in plan(restored, MirrorState(), T).ops] == ["CreateListing"]
    ops = part_ops(restored, mirror())
    assert [(op.kind, op.variant) for op in ops] == [("room", ""), ("tour", UNBRANDED)]


# --- Against a simulated remote (J10 for parts) --------------------------------------------------


class SimulatedRemote:
    """The remote's part collections and the mirror the push would keep, with creates whose
    answer is lost (applied, unanswered) when `lose` says so."""

    def __init__(self, lose) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.mirror: dict[tuple[str, int | None, str, str], MirrorPart] = {}
        self.sent: dict[tuple[str, int | None, str, str], dict[str, Any]] = {}
        self.order: dict[str, tuple[str, ...]] = {}
        self.lose = lose
        self.next_id = 0

    def state(self) -> MirrorState:
        return mirror(*self.mirror.values(), **self.order)

    def _key(self, kind, local_id, variant, remote_id=""):
        return (kind, local_id, variant, remote_id if local_id is None else "")

    def run(self, op) -> None:
        from mls.part_records import settle_lost_creates

        listed = self.records.setdefault(getattr(op, "kind", ""), [])
        if isinstance(op, CreatePart):
            self.next_id += 1
            rid = f"X{self.next_id}"
            group = op.group_id or f"G{self.next_id}"
            fate = self.lose()  # 0 answered, 1 applied but the answer lost, 2 lost before applying
            if fate != 2:
                listed.append({"Id": rid, "GroupId": group, **as_listed(op.kind, op.attributes)})
            key = self._key(op.kind, op.local_id, op.variant)
            if fate:
                self.mirror[key] = MirrorPart(op.kind, op.local_id, op.variant, sending=True)
                self.sent[key] = dict(op.attributes)
            else:
                self.mirror[key] = MirrorPart(
                    op.kind,
                    op.local_id,
                    op.variant,
                    remote_id=rid,
                    group_id=op.group_id,
                    content_hash=op.content_hash,
                )
                self.order[op.kind] = (*self.order.get(op.kind, ()), rid)
        elif isinstance(op, ReconcileParts):
            rows = [m for k, m in self.mirror.items() if k[0] == op.kind]
            known = {m.remote_id for m in rows if m.remote_id}
            sending = [(k, self.sent[k]) for k, m in self.mirror.items() if k[0] == op.kind and m.sending]
            adopted, copies = settle_lost_creates(op.kind, sending, known, listed)
            for key, _sent in sending:
                m = self.mirror[key]
                record = adopted.get(key)
                # The hash of what was sent: the planner updates if the part changed since.
                self.mirror[key] = dataclasses.replace(
                    m,
                    sending=False,
                    remote_id=str(record["Id"]) if record else "",
                    group_id=str(record["GroupId"]) if record else "",
                    content_hash=record_hash(self.sent[key]) if record else "",
                )
            for record in copies:
                self.mirror[self._key(op.kind, None, "", record["Id"])] = MirrorPart(
                    op.kind, None, "", remote_id=record["Id"]
                )
            ids = {m.remote_id for m in self.mirror.values() if m.kind == op.kind and m.remote_id}
            self.order[op.kind] = tuple(r["Id"] for r in listed if r["Id"] in ids)
        elif isinstance(op, ReadPartGroup):
            record = next(r for r in listed if r["Id"] == op.remote_id)
            key = self._key(op.kind, op.local_id, op.variant)
            self.mirror[key] = dataclasses.replace(self.mirror[key], group_id=record["GroupId"])
        elif isinstance(op, UpdatePart):
            record = next(r for r in listed if r["Id"] == op.remote_id)
            group = op.group_id or record["GroupId"]
            record.clear()
            record.update({"Id": op.remote_id, "GroupId": group, **as_listed(op.kind, op.attributes)})
            key = self._key(op.kind, op.local_id, op.variant)
            self.mirror[key] = dataclasses.replace(
                self.mirror[key],
                content_hash=op.content_hash,
                group_id=op.group_id or self.mirror[key].group_id,
            )
        elif isinstance(op, DeletePart):
            listed[:] = [r for r in listed if r["Id"] != op.remote_id]
            self.mirror = {
                k: m for k, m in self.mirror.items() if m.remote_id != op.remote_id or m.kind != op.kind
            }
            self.order[op.kind] = tuple(r for r in self.order.get(op.kind, ()) if r != op.remote_id)
        elif isinstance(op, ForgetPart):
            self.mirror.pop(self._key(op.kind, op.local_id, op.variant), None)
        elif isinstance(op, ReorderParts):
            # Only the records the reorder names, in its order (as the sandbox requires all).
            assert sorted(op.remote_ids) == sorted(r["Id"] for r in listed), "reorder must name every record"
            by_id = {r["Id"]: r for r in listed}
            listed[:] = [by_id[rid] for rid in op.remote_ids]
            self.order[op.kind] = op.remote_ids
        else:
            raise AssertionError(f"unexpected op {op}")


def as_listed(kind: str, attributes: Any) -> dict[str, Any]:
    """Rooms are listed (raw) with their attributes in `Fields`; tours flat."""
    return {"Fields": dict(attributes)} if kind == "room" else dict(attributes)


def drain_parts(local_state: LocalState, remote: SimulatedRemote) -> None:
    for _round in range(200):
        result = plan(local_state, remote.state(), T)
        if result.done:
            return
        for op in result.ops:
            remote.run(op)
            if op.replan_after:
                break
    raise AssertionError("the plan never emptied")


def assert_remote_equals_local(local_state: LocalState, remote: SimulatedRemote) -> None:
    for kind in ("room", "tour"):
        wanted = [dict(r.attributes) for p in local_state.parts.get(kind, ()) for r in p.records]
        held = [record_attributes(kind, r) for r in remote.records.get(kind, [])]
        if kind == "tour":
            held = [{k: v for k, v in r.items() if k not in ("Id", "GroupId")} for r in held]
        assert held == wanted, kind
    for part in local_state.parts.get("tour", ()):
        ids = {m.variant: m.remote_id for m in remote.mirror.values() if m.local_id == part.local_id}
        groups = {r["Id"]: r["GroupId"] for r in remote.records["tour"]}
        if len(part.records) == 2:
            assert groups[ids[UNBRANDED]] == groups[ids[BRANDED]]


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "edit", "remove", "reorder", "brand", "push"]), st.integers(0, 9)),
        max_size=25,
    ),
    losses=st.lists(st.sampled_from([0, 0, 1, 2]), min_size=1, max_size=40),
)
@settings(max_examples=150, deadline=None)
def test_random_edits_with_lost_answers_end_equal_and_without_copies(steps, losses):
    # Faults are finite (then every answer arrives): an endless run of lost requests never settles.
    lost = iter(losses * 2)
    remote = SimulatedRemote(lambda: next(lost, 0))
    rooms: list[LocalPart] = [room(1), room(2, "Bedroom")]
    tours: list[LocalPart] = [tour(100, branded="https://b/100")]
    next_id = 3
    for action, n in steps:
        if action == "add":
            rooms.append(room(next_id, ("Kitchen", "Office", "Bath")[n % 3]))
            next_id += 1
        elif action == "edit" and rooms:
            old = rooms[n % len(rooms)]
            rooms[n % len(rooms)] = room(old.local_id, level=str(n))
        elif action == "remove" and rooms:
            rooms.pop(n % len(rooms))
        elif action == "reorder" and len(rooms) > 1:
            rooms.insert(0, rooms.pop(n % len(rooms)))
        elif action == "brand":
            t = tours[0]
            tours[0] = tour(100, branded="" if len(t.records) == 2 else f"https://b/{n}")
        else:
            # A partial push: a few ops of the plan, as a push cut short would make.
            state = local(room=tuple(rooms), tour=tuple(tours))
            for op in plan(state, remote.state(), T).ops[: n % 4]:
                remote.run(op)
    final = local(room=tuple(rooms), tour=tuple(tours))
    drain_parts(final, remote)
    assert_remote_equals_local(final, remote)
