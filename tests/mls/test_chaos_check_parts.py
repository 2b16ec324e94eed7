"""The chaos run's final check sees a lost, changed, duplicated or unpaired part (a guard: a
check that cannot fail would make "0 lost, 0 duplicated" meaningless)."""

from __future__ import annotations

import copy

from tests.mls.worker_harness import compare

ROOM = {"RoomName": "Kitchen", "LevelOrFloor": "Main"}


def listing() -> dict:
    return {
        "Id": "L1",
        "StandardFields": {"City": "Fargo"},
        "Photos": [],
        "Documents": [],
        "Rooms": [{"Id": "R1", "Order": 0, "Fields": {**ROOM, "Length": None}}],
        "Units": [],
        "VirtualTours": [
            {
                "Id": "T1",
                "Order": 0,
                "GroupId": "G1",
                "Name": "Walk",
                "Type": "unbranded",
                "Uri": "https://a",
            },
            {"Id": "T2", "Order": 1, "GroupId": "G1", "Name": "Walk", "Type": "branded", "Uri": "https://b"},
        ],
        "Videos": [],
    }


def dump() -> dict:
    item = {
        "id": 1,
        "remote_id": "L1",
        "change_seq": 3,
        "confirmed_seq": 3,
        "state": "synced",
        "verify_pending": False,
        "fields": {"City": "Fargo"},
        "photos": [],
        "documents": [],
        "parts": {
            "room": [ROOM],
            "unit": [],
            "tour": [["Walk", "unbranded", "https://a"], ["Walk", "branded", "https://b"]],
            "video": [],
        },
    }
    return {"drafts": [item]}


def figures(remote: dict) -> dict:
    return compare(dump(), {"incomplete_listings": [remote]})


def test_equal_parts_pass():
    result = figures(listing())
    assert (result["lost_changes"], result["duplicate_items"]) == (0, 0)


def test_a_duplicated_room_is_counted():
    remote = listing()
    remote["Rooms"].append({**copy.deepcopy(remote["Rooms"][0]), "Id": "R2", "Order": 1})
    result = figures(remote)
    assert result["duplicate_items"] == 1
    assert result["lost_changes"] == 1


def test_a_changed_or_missing_part_is_a_lost_change():
    remote = listing()
    remote["Rooms"][0]["Fields"]["LevelOrFloor"] = "Upper"
    assert figures(remote)["lost_changes"] == 1
    remote = listing()
    remote["VirtualTours"].pop()
    assert figures(remote)["lost_changes"] == 1


def test_a_branded_record_in_another_group_is_seen():
    remote = listing()
    remote["VirtualTours"][1]["GroupId"] = "G9"
    result = figures(remote)
    assert result["lost_changes"] == 1
    assert "without their unbranded twin" in str(result["mismatched_drafts"])
