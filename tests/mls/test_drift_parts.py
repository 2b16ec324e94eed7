"""Drift of the rooms, units, tours and videos against the sandbox over real HTTP: someone else
changes, deletes or adds a record in the MLS (the sandbox's PartRecord changed directly); the
drift check notices it and names it; "keep portal version" puts the draft's parts back, "accept
MLS changes" takes the MLS's into the draft with history (docs/architecture.md#drift-of-listing-parts).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from drafts.models import DraftEvent, ListingPart
from mls import drift, metadata, push
from mls.models import DraftSync, RemotePart, SyncState
from sandbox.config import new_spark_id
from sandbox.models import Listing as SandboxListing
from sandbox.models import PartRecord
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


@pytest.fixture
def draft(agent, sync_env):
    # The MLS's room fields read, so a multi-select value comes back as a list.
    metadata.refresh()
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2)
    add_part(draft, "room", fields={"RoomName": "Kitchen", "LevelOrFloor": "Main"})
    add_part(
        draft,
        "room",
        fields={"RoomName": "Primary Bedroom", "LevelOrFloor": "Upper", "RoomFeature": ["Walk-in Closet"]},
    )
    add_part(draft, "tour", name="3D walk", url="https://tours.example/1", branded_url="https://b.example/1")
    add_part(
        draft, "video", name="Drone", url="https://vimeo.com/123456", caption="From above", privacy="Public"
    )
    assert drain(draft)[-1] == push.Outcome.SYNCED
    return draft


def records(draft, collection: str) -> list[PartRecord]:
    return list(
        PartRecord.objects.filter(listing__spark_id=draft.remote_id, collection=collection).order_by(
            "position"
        )
    )


def someone_else_changed(draft) -> None:
    """The listing's modification time moves, as the MLS's own edit moves it."""
    SandboxListing.objects.filter(spark_id=draft.remote_id).update(modified_at=timezone.now())
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)


def change_record(record: PartRecord, **attributes) -> None:
    record.attributes = {**record.attributes, **attributes}
    record.modified_at = timezone.now()
    record.save()


def add_record(draft, collection: str, attributes: dict, group_id: str = "") -> PartRecord:
    listing = SandboxListing.objects.get(spark_id=draft.remote_id)
    last = PartRecord.objects.filter(listing=listing, collection=collection).count()
    return PartRecord.objects.create(
        listing=listing,
        collection=collection,
        spark_id=new_spark_id(),
        group_id=group_id,
        position=last + 1,
        attributes=attributes,
        modified_at=timezone.now(),
    )


def the_mls_edits(draft) -> None:
    """The kitchen moved to the basement, the bedroom deleted, an office added; the tour renamed
    and its branded link deleted; the video made private."""
    kitchen, bedroom = records(draft, "rooms")
    change_record(kitchen, LevelOrFloor="Basement")
    bedroom.delete()
    add_record(draft, "rooms", {"RoomName": "Office", "LevelOrFloor": "Upper"})
    unbranded, branded = records(draft, "virtualtours")
    change_record(unbranded, Name="Virtual walk", Uri="https://tours.example/2")
    branded.delete()
    (video,) = records(draft, "videos")
    change_record(video, Privacy="Private")
    someone_else_changed(draft)


def remote_rooms(sync_env, draft) -> list[dict]:
    return [
        {name: value for name, value in room["Fields"].items() if value}
        for room in sorted(sync_env.remote(draft)["Rooms"], key=lambda room: room["Order"])
    ]


def test_our_own_edits_of_the_parts_are_not_drift(sync_env, draft):
    assert drift.check_drift() == 0
    kitchen, bedroom = ListingPart.objects.filter(draft=draft, kind="room").order_by("position")
    change_part(kitchen, fields={"RoomName": "Kitchen", "LevelOrFloor": "Upper"})
    remove_part(bedroom)
    bath = add_part(draft, "room", fields={"RoomName": "Bathroom"})
    reorder_parts(draft, "room", [bath, kitchen])
    change_part(ListingPart.objects.get(draft=draft, kind="tour"), branded_url="")
    drain(draft)
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)
    assert drift.check_drift() == 0
    assert DraftSync.objects.get(pk=draft.pk).state == SyncState.SYNCED


def test_parts_changed_deleted_added_and_reordered_in_the_mls_are_drift(sync_env, draft):
    the_mls_edits(draft)
    assert drift.check_drift() == 1
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.DRIFT
    changes = {(change["label"], change["change"]) for change in row.drift_remote["parts"]}
    assert changes == {
        ("Room 1 (Kitchen)", "changed in the MLS"),
        ("Room 2 (Primary Bedroom)", "deleted in the MLS"),
        ("Room not made by the portal", "added in the MLS"),
        ("Virtual tour 1 (3D walk)", "changed in the MLS"),
        ("Virtual tour 1 (3D walk), its branded link", "deleted in the MLS"),
        ("Video 1 (Drone)", "changed in the MLS"),
    }
    kitchen = next(c for c in row.drift_remote["parts"] if c["label"] == "Room 1 (Kitchen)")
    assert "Basement" in kitchen["remote"] and "RoomName" not in kitchen["remote"]  # labels, not names


def test_the_sync_page_names_the_parts_changed_in_the_mls(sync_env, draft, agent_client):
    the_mls_edits(draft)
    drift.check_drift()
    page = agent_client.get(reverse("mls:draft_sync", args=[draft.pk])).content.decode()
    assert "Room 1 (Kitchen): changed in the MLS (MLS: “Room Name: Kitchen, Room Level: Basement”" in page
    assert "Room 2 (Primary Bedroom): deleted in the MLS" in page
    assert "Virtual tour 1 (3D walk), its branded link: deleted in the MLS" in page
    assert "Room not made by the portal: added in the MLS (MLS: “Room Name: Office" in page


def test_an_order_changed_in_the_mls_is_drift(sync_env, draft):
    kitchen, bedroom = records(draft, "rooms")
    PartRecord.objects.filter(pk=kitchen.pk).update(position=2)
    PartRecord.objects.filter(pk=bedroom.pk).update(position=1)
    someone_else_changed(draft)
    assert drift.check_drift() == 1
    assert DraftSync.objects.get(pk=draft.pk).drift_remote["parts"] == [
        {"kind": "room", "id": "", "label": "Rooms", "change": "order changed in the MLS"}
    ]


def test_keeping_the_portal_version_puts_the_parts_back(sync_env, draft, agent):
    the_mls_edits(draft)
    assert drift.check_drift() == 1
    stranger = records(draft, "rooms")[-1].spark_id
    assert drift.resolve_drift(draft, keep="portal", by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert remote_rooms(sync_env, draft) == [
        {"RoomName": "Kitchen", "LevelOrFloor": "Main"},
        {"RoomName": "Primary Bedroom", "LevelOrFloor": "Upper", "RoomFeature": "Walk-in Closet"},
    ]
    assert stranger not in {record.spark_id for record in records(draft, "rooms")}
    # The changed ones updated, the deleted ones created again, the stranger deleted.
    assert sync_env.count("rooms.update") == 1 and sync_env.count("rooms.create") == 3
    assert sync_env.count("rooms.delete") == 1
    assert sync_env.count("virtualtours.update") == 1 and sync_env.count("videos.update") == 1
    assert not RemotePart.objects.filter(draft=draft, local_id__isnull=True).exists()
    assert DraftSync.objects.get(pk=draft.pk).state == SyncState.SYNCED
    # The MLS now shows what the mirror says: no drift left.
    someone_else_changed(draft)
    assert drift.check_drift() == 0


def test_accepting_the_mls_version_takes_its_parts_into_the_draft(sync_env, draft, agent):
    the_mls_edits(draft)
    assert drift.check_drift() == 1
    calls = sync_env.calls()
    writes = ("rooms.create", "rooms.update", "rooms.delete", "virtualtours.update", "videos.update")
    before = {route: sync_env.count(route) for route in writes}
    assert drift.resolve_drift(draft, keep="remote", by=agent)
    assert sync_env.calls() == calls  # the request side records the choice only
    drain(draft)
    rooms = list(ListingPart.objects.filter(draft=draft, kind="room").order_by("position"))
    assert [room.fields for room in rooms] == [
        {"RoomName": "Kitchen", "LevelOrFloor": "Basement"},
        {"RoomName": "Office", "LevelOrFloor": "Upper"},
    ]
    tour = ListingPart.objects.get(draft=draft, kind="tour")
    assert (tour.name, tour.url, tour.branded_url) == ("Virtual walk", "https://tours.example/2", "")
    video = ListingPart.objects.get(draft=draft, kind="video")
    assert (video.url, video.privacy) == ("https://vimeo.com/123456", "Private")
    notes = set(
        DraftEvent.objects.filter(draft=draft, kind=DraftEvent.Kind.PART).values_list("note", flat=True)
    )
    assert {
        "Changed room Kitchen as in the MLS",
        "Removed room Primary Bedroom (deleted in the MLS)",
        "Added room Office from the MLS",
        "Changed virtual tour Virtual walk as in the MLS",
        "Changed video Drone as in the MLS",
    } <= notes
    event = DraftEvent.objects.get(draft=draft, note="Changed room Kitchen as in the MLS")
    assert event.actor == agent and event.new_value["fields"]["LevelOrFloor"] == "Basement"
    assert_in_sync(sync_env, draft)
    # Nothing of the portal's had to be written: the draft took what the MLS shows.
    assert {route: sync_env.count(route) for route in writes} == before
    someone_else_changed(draft)
    assert drift.check_drift() == 0


def test_accepting_keeps_a_multi_select_value_a_list_and_adopts_a_branded_link(sync_env, draft, agent):
    bedroom = records(draft, "rooms")[1]
    change_record(bedroom, RoomFeature="Walk-in Closet,Ceiling Fan")
    (video,) = records(draft, "videos")
    add_record(
        draft,
        "videos",
        {"Name": "Drone", "Type": "branded", "ObjectHtml": '<iframe src="https://b.example/v"></iframe>'},
        group_id=video.group_id,
    )
    someone_else_changed(draft)
    assert drift.check_drift() == 1
    drift.resolve_drift(draft, keep="remote", by=agent)
    drain(draft)
    bedroom_part = ListingPart.objects.filter(draft=draft, kind="room").order_by("position")[1]
    assert bedroom_part.fields["RoomFeature"] == ["Walk-in Closet", "Ceiling Fan"]
    video_part = ListingPart.objects.get(draft=draft, kind="video")
    assert video_part.branded_url == "https://b.example/v"
    assert RemotePart.objects.get(draft=draft, local_id=video_part.pk, variant="branded").remote_id
    assert sync_env.count("videos.create") == 1 and sync_env.count("videos.delete") == 0  # adopted
    assert_in_sync(sync_env, draft)


def test_a_listing_gone_from_the_mls_forgets_the_parts_mirror_too(sync_env, draft, agent):
    SandboxListing.objects.filter(spark_id=draft.remote_id).delete()
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)
    assert drift.check_drift() == 1
    drift.resolve_drift(draft, keep="portal", by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert sync_env.count("rooms.create") == 4  # twice each: the new listing has them again
