"""Listing parts (rooms, units, virtual tours, videos) through the sync engine against the
sandbox over real HTTP: created, edited, removed and reordered so the remote equals the draft;
a lost create adopted, never duplicated; a refusal that names the part and holds only it; the
trash and a restore."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from drafts.models import Draft, ListingPart
from mls import metadata, push
from mls.models import DraftSync, RemotePart, SyncState
from tests.factories import DraftFactory
from tests.mls.sync_support import (
    add_part,
    assert_in_sync,
    change_part,
    drain,
    remove_part,
    reorder_parts,
)

pytestmark = pytest.mark.django_db(transaction=True)

YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
def draft_with_parts(agent):
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2)
    add_part(draft, "room", fields={"RoomName": "Kitchen", "LevelOrFloor": "Main", "Length": "12"})
    add_part(
        draft,
        "room",
        fields={"RoomName": "Primary Bedroom", "LevelOrFloor": "Upper", "RoomFeature": ["Walk-in Closet"]},
    )
    add_part(draft, "tour", name="3D walk", url="https://tours.example/1", branded_url="https://b.example/1")
    add_part(draft, "video", name="Drone", url=YOUTUBE, caption="From above", privacy="Public")
    draft.refresh_from_db()
    return draft


def test_parts_are_created_with_the_listing_and_a_second_push_sends_nothing(sync_env, draft_with_parts):
    assert drain(draft_with_parts)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft_with_parts)
    assert sync_env.count("rooms.create") == 2
    # The tour's unbranded link, then its branded one with the unbranded one's GroupId.
    assert sync_env.count("virtualtours.create") == 2
    assert sync_env.count("videos.create") == 1
    # Appended in order: no reorder needed.
    assert sync_env.count("rooms.reorder") == sync_env.count("virtualtours.reorder") == 0
    calls = sync_env.calls()
    DraftSync.objects.filter(pk=draft_with_parts.pk).update(confirmed_seq=0)
    assert push.push_draft(draft_with_parts.pk) == push.Outcome.SYNCED
    assert sync_env.calls() == calls


def test_edits_removals_and_reorders_reach_the_remote(sync_env, draft_with_parts):
    drain(draft_with_parts)
    kitchen, bedroom = ListingPart.objects.filter(draft=draft_with_parts, kind="room").order_by("position")
    tour = ListingPart.objects.get(draft=draft_with_parts, kind="tour")
    change_part(kitchen, fields={"RoomName": "Kitchen", "LevelOrFloor": "Basement", "Length": "14"})
    bath = add_part(draft_with_parts, "room", fields={"RoomName": "Bathroom", "LevelOrFloor": "Main"})
    reorder_parts(draft_with_parts, "room", [bath, bedroom, kitchen])
    change_part(tour, branded_url="")
    drain(draft_with_parts)
    assert_in_sync(sync_env, draft_with_parts)
    assert sync_env.count("rooms.update") == 1
    assert sync_env.count("rooms.reorder") == 1
    assert sync_env.count("virtualtours.delete") == 1

    remove_part(bedroom)
    change_part(tour, branded_url="https://b.example/2")
    drain(draft_with_parts)
    assert_in_sync(sync_env, draft_with_parts)
    assert sync_env.count("rooms.delete") == 1
    assert RemotePart.objects.filter(draft=draft_with_parts, kind="room").count() == 2


def test_a_lost_create_answer_is_adopted_not_sent_twice(sync_env, draft_with_parts):
    sync_env.control.faults(
        {"kind": "drop_after_apply", "routes": ["rooms.create", "virtualtours.create"], "times": 2}
    )
    drain(draft_with_parts, timeout=60)
    assert_in_sync(sync_env, draft_with_parts)
    # Each record created once: the dropped answers were found in the list.
    assert sync_env.count("rooms.create") == 2
    assert sync_env.count("virtualtours.create") == 2
    assert sync_env.count("rooms.raw") >= 1


def test_server_errors_on_parts_end_in_sync_without_duplicates(sync_env, draft_with_parts):
    routes = [
        f"{collection}.{verb}"
        for collection in ("rooms", "virtualtours", "videos")
        for verb in ("create", "update", "reorder", "list", "raw", "get")
    ]
    sync_env.control.faults(
        {"kind": "server_error", "status": 502, "probability": 0.4, "routes": routes},
        {"kind": "drop_after_apply", "probability": 0.3, "routes": routes},
        seed=11,
    )
    drain(draft_with_parts, timeout=90)
    kitchen = ListingPart.objects.filter(draft=draft_with_parts, kind="room").first()
    change_part(kitchen, fields={"RoomName": "Kitchen", "LevelOrFloor": "Upper"})
    reorder_parts(
        draft_with_parts, "room", list(ListingPart.objects.filter(draft=draft_with_parts, kind="room"))[::-1]
    )
    drain(draft_with_parts, timeout=90)
    sync_env.control.clear_faults()
    drain(draft_with_parts, timeout=30)
    assert_in_sync(sync_env, draft_with_parts)


def test_a_refused_room_names_the_room_and_holds_only_it(sync_env, agent):
    draft = DraftFactory(list_agent=agent)
    add_part(draft, "room", fields={"RoomName": "Kitchen"})
    bad = add_part(draft, "room", fields={"RoomName": "Garage", "LevelOrFloor": "Main"})
    add_part(draft, "tour", name="Walk", url="https://tours.example/9")
    assert drain(draft)[-1] == push.Outcome.FAILED
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.FAILED
    assert row.error_message.startswith("The MLS refused Room 2 (Garage): ")
    assert "Room Name" in row.error_message or "RoomName" in row.error_message
    refused = RemotePart.objects.get(draft=draft, local_id=bad.pk)
    assert refused.error_message.startswith("Room 2 (Garage): ")
    # The other room and the tour went on.
    listing = sync_env.remote(draft)
    assert [record["Fields"]["RoomName"] for record in listing["Rooms"]] == ["Kitchen"]
    assert len(listing["VirtualTours"]) == 1
    # The agent fixes it: sent again, and all is in sync.
    change_part(bad, fields={"RoomName": "Office", "LevelOrFloor": "Main"})
    draft.refresh_from_db()
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)


def test_trash_drops_the_parts_and_a_restore_creates_them_again(sync_env, draft_with_parts, agent):
    drain(draft_with_parts)
    draft_with_parts.move_to_trash(by=agent)
    drain(draft_with_parts)
    assert not RemotePart.objects.filter(draft=draft_with_parts).exists()
    assert DraftSync.objects.get(pk=draft_with_parts.pk).part_order == {}
    assert sync_env.control.state()["incomplete_listings"] == []
    draft_with_parts.restore_from_trash(by=agent)
    drain(draft_with_parts)
    assert_in_sync(sync_env, draft_with_parts)
    assert sync_env.count("rooms.create") == 4


def test_a_multi_family_draft_carries_its_units(sync_env, agent):
    draft = DraftFactory(list_agent=agent, property_type="B", property_sub_type="DU")
    first = add_part(draft, "unit", fields={"unit_nbr": "2 Bedroom", "ActualRent": "1200", "BathsTotal": "1"})
    add_part(draft, "unit", fields={"unit_nbr": "Studio", "ActualRent": "800"})
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)
    change_part(first, fields={"unit_nbr": "2 Bedroom", "ActualRent": "1250", "BathsTotal": "1.5"})
    reorder_parts(draft, "unit", list(ListingPart.objects.filter(draft=draft, kind="unit"))[::-1])
    draft.refresh_from_db()
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert sync_env.count("units.create") == 2
    assert sync_env.count("units.update") == 1
    assert sync_env.count("units.reorder") == 1


def change_type(draft, property_type: str, sub_type: str) -> None:
    """The property type changed in the editor (the draft marked changed with it)."""
    with transaction.atomic():
        Draft.objects.filter(pk=draft.pk).update(property_type=property_type, property_sub_type=sub_type)
        draft.mark_changed()
    draft.refresh_from_db()


def test_units_leave_the_mls_while_the_draft_is_not_multi_family_and_come_back_with_it(sync_env, agent):
    draft = DraftFactory(list_agent=agent, property_type="B", property_sub_type="DU")
    add_part(draft, "unit", fields={"unit_nbr": "Studio", "ActualRent": "800"})
    add_part(draft, "unit", fields={"unit_nbr": "1 Bedroom", "ActualRent": "950"})
    add_part(draft, "room", fields={"RoomName": "Kitchen"})
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert len(sync_env.remote(draft)["Units"]) == 2

    change_type(draft, "A", "SF")
    assert drain(draft)[-1] == push.Outcome.SYNCED
    listing = sync_env.remote(draft)
    assert not listing.get("Units")
    assert sync_env.count("units.delete") == 2
    assert not RemotePart.objects.filter(draft=draft, kind="unit").exists()
    # The draft keeps them, the room stays in the MLS, and a push finds nothing more to do.
    assert ListingPart.objects.filter(draft=draft, kind="unit").count() == 2
    assert [record["Fields"]["RoomName"] for record in listing["Rooms"]] == ["Kitchen"]
    assert_in_sync(sync_env, draft)

    change_type(draft, "B", "DU")
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert len(sync_env.remote(draft)["Units"]) == 2
    assert sync_env.count("units.create") == 4
    assert_in_sync(sync_env, draft)


def test_rooms_leave_the_mls_on_a_type_without_room_fields(sync_env, agent):
    assert metadata.refresh().failed == []  # the MLS's lists say which types have rooms
    draft = DraftFactory(list_agent=agent)
    add_part(draft, "room", fields={"RoomName": "Kitchen"})
    add_part(draft, "tour", name="Walk", url="https://tours.example/3")
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert len(sync_env.remote(draft)["Rooms"]) == 1

    change_type(draft, "C", "")  # land: the MLS shows no room fields for it
    drain(draft)
    listing = sync_env.remote(draft)
    assert not listing.get("Rooms") and len(listing["VirtualTours"]) == 1
    assert not RemotePart.objects.filter(draft=draft, kind="room").exists()
    assert ListingPart.objects.filter(draft=draft, kind="room").count() == 1


def test_the_editor_shows_a_refused_room_in_the_mls_words_until_its_fix_is_in_the_mls(
    sync_env, agent, client
):
    assert metadata.refresh().failed == []  # the editor names the fields as the MLS labels them
    draft = DraftFactory(list_agent=agent)
    kitchen = add_part(draft, "room", fields={"RoomName": "Kitchen", "LevelOrFloor": "Main"})
    # A value outside the MLS's list (the form would refuse it; an older copy of the list did not).
    attic = add_part(draft, "room", fields={"RoomName": "Bedroom", "LevelOrFloor": "Attic"})
    assert drain(draft)[-1] == push.Outcome.FAILED
    client.force_login(agent)

    body = client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    line = body[body.index(f'id="part-{attic.pk}"') :]
    line = line[: line.index("</li>")]
    assert (
        "The MLS refused this:</strong> Room Level: &#x27;Attic&#x27; is not one of its list values" in line
    )
    assert "In the MLS" in body[body.index(f'id="part-{kitchen.pk}"') :].split("</li>")[0]
    assert 'id="parts-room-poll" hidden>' in body  # settled: nothing polls

    fixed = client.post(
        reverse("drafts:part_edit", args=[draft.pk, attic.pk]),
        {f"part{attic.pk}-RoomName": "Bedroom", f"part{attic.pk}-LevelOrFloor": "Upper"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "The MLS refused this" not in fixed and f'id="part-state-{attic.pk}"' in fixed
    assert "Waiting" in fixed and 'hx-trigger="every' in fixed
    draft.refresh_from_db()
    assert drain(draft)[-1] == push.Outcome.SYNCED
    answer = client.get(
        reverse("drafts:part_states", args=[draft.pk, "room"]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert answer.count("In the MLS") == 2 and "hx-trigger" not in answer
