"""The planner for listing parts (rooms, units, virtual tours, videos) on its own: local parts and
the mirror of their remote records in, calls out (no database, no HTTP)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from mls.part_records import BRANDED, UNBRANDED, is_record_of, record_hash
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
