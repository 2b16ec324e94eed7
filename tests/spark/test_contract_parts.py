"""The client's listing-parts methods (spark/parts.py) against a Spark server over real HTTP:
rooms, units, virtual tours, videos and their metadata, on incomplete and live listings.

Runs against the sandbox and, when SPARK_CONTRACT_API_URL and SPARK_CONTRACT_ACCESS_TOKEN are set,
against the real API (tests/spark/conftest.py). Room and unit attribute names and values come from
the MLS's own rooms/units metadata, so the real copy sends what that MLS knows. Live listings,
fault switches and the journal are sandbox only.
"""

from __future__ import annotations

import time

import pytest

from spark.client import ListingRef, SparkClient
from spark.errors import (
    SparkConnectionError,
    SparkError,
    SparkMethodNotAllowed,
    SparkNotFound,
    SparkServerError,
    SparkValidationError,
)
from tests.spark.conftest import MINIMAL_DRAFT

pytestmark = [pytest.mark.django_db(transaction=True)]

MISSING_ID = "19990101000000000000000000"
TOUR = {"Name": "3D walk-through", "Uri": "https://tours.example/611-8th", "Type": "unbranded"}
VIDEO = {
    "Name": "Drone video",
    "Caption": "From above",
    "ObjectHtml": '<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ" allowfullscreen></iframe>',
    "Type": "unbranded",
}


@pytest.fixture
def listing_ref(spark_target, spark) -> ListingRef:
    """A live listing; created only on the sandbox, never in a live MLS."""
    if not spark_target.is_sandbox:
        pytest.skip("would create a live listing")
    return ListingRef.for_listing(spark.create_listing(dict(MINIMAL_DRAFT)).resource_id)


@pytest.fixture(params=["incomplete", "listing"])
def parent(request, draft_ref) -> ListingRef:
    """Every part lives under both kinds of listing."""
    if request.param == "incomplete":
        return draft_ref
    return request.getfixturevalue("listing_ref")


def meta_attributes(spark: SparkClient, kind: str, property_type: str) -> tuple[str, str, str]:
    """(a list field, one of its values, a free-text field) visible for ``property_type``,
    read from the MLS's rooms or units metadata."""
    listed = (spark.room_fields() if kind == "rooms" else spark.unit_fields()).first
    visible = {name: spec for name, spec in listed.items() if property_type in spec.get("MlsVisible", [])}
    picklist = next(n for n, s in visible.items() if s.get("HasList") and not s.get("MultiSelect"))
    free_text = next(n for n, s in visible.items() if not s.get("HasList"))
    one = spark.room_field(picklist) if kind == "rooms" else spark.unit_field(picklist)
    values = one.first[picklist]["FieldList"]
    return picklist, values[0]["Value"], free_text


def ids(result) -> list[str]:
    return [item["Id"] for item in result.results]


# --- rooms and units ------------------------------------------------------------------------------


def test_room_lifecycle(spark, parent):
    picklist, value, free_text = meta_attributes(spark, "rooms", "A")
    created = spark.create_part(parent, "rooms", {picklist: value, free_text: "12"})
    assert 200 <= created.status < 300
    room_id = created.resource_id
    assert room_id

    labelled = spark.list_parts(parent, "rooms")
    assert ids(labelled) == [room_id]
    fields = labelled.first["Fields"]
    assert isinstance(fields, list) and all(isinstance(entry, dict) and len(entry) == 1 for entry in fields)
    assert value in [next(iter(entry.values())) for entry in fields]
    raw = spark.list_parts(parent, "rooms", raw=True).first["Fields"]
    assert raw[picklist] == value and raw[free_text] == "12"
    assert spark.get_part(parent, "rooms", room_id).first["Id"] == room_id

    spark.update_part(parent, "rooms", room_id, {picklist: value, free_text: "14"})
    assert spark.list_parts(parent, "rooms", raw=True).first["Fields"][free_text] == "14"

    second = spark.create_part(parent, "rooms", {picklist: value, free_text: None}).resource_id
    assert ids(spark.list_parts(parent, "rooms")) == [room_id, second]
    spark.reorder_parts(parent, "rooms", [second, room_id])
    assert ids(spark.list_parts(parent, "rooms")) == [second, room_id]

    spark.delete_part(parent, "rooms", room_id)
    assert ids(spark.list_parts(parent, "rooms")) == [second]
    with pytest.raises(SparkNotFound):
        spark.get_part(parent, "rooms", room_id)


def test_an_unknown_room_attribute_is_a_validation_error_naming_it(spark, draft_ref):
    picklist, value, _free_text = meta_attributes(spark, "rooms", "A")
    with pytest.raises(SparkValidationError) as caught:
        spark.create_part(draft_ref, "rooms", {picklist: value, "NoSuchRoomField": "1"})
    assert caught.value.status == 400 and caught.value.permanent
    assert "NoSuchRoomField" in [error.field for error in caught.value.field_errors]
    assert spark.list_parts(draft_ref, "rooms").results == []


def test_a_room_value_outside_its_list_is_a_validation_error(spark, draft_ref):
    picklist, _value, _free_text = meta_attributes(spark, "rooms", "A")
    with pytest.raises(SparkValidationError) as caught:
        spark.create_part(draft_ref, "rooms", {picklist: "Not A Value Of Any List"})
    assert picklist in [error.field for error in caught.value.field_errors]


def test_unit_lifecycle_on_a_multi_family_draft(spark):
    multi_family = {**MINIMAL_DRAFT, "PropertyType": "B"}
    multi_family.pop("PropertySubType")
    ref = ListingRef.for_incomplete(spark.create_incomplete_listing(multi_family).resource_id)
    try:
        picklist, value, free_text = meta_attributes(spark, "units", "B")
        unit_id = spark.create_part(ref, "units", {picklist: value, free_text: "1200"}).resource_id
        assert ids(spark.list_parts(ref, "units")) == [unit_id]
        assert spark.list_parts(ref, "units", raw=True).first["Fields"][free_text] == "1200"
        spark.update_part(ref, "units", unit_id, {picklist: value, free_text: "1250"})
        assert spark.get_part(ref, "units", unit_id).first["Id"] == unit_id
        spark.reorder_parts(ref, "units", [unit_id])
        spark.delete_part(ref, "units", unit_id)
        assert spark.list_parts(ref, "units").results == []
    finally:
        spark.delete_incomplete_listing(ref.id)


# --- virtual tours and videos ---------------------------------------------------------------------


def test_virtual_tours_pair_branded_with_unbranded_by_group(spark, parent):
    unbranded = spark.create_part(parent, "virtualtours", TOUR).resource_id
    assert unbranded
    group = spark.get_part(parent, "virtualtours", unbranded).first["GroupId"]
    assert group

    branded_link = "https://tours.example/611-8th?agent=anna"
    branded = spark.create_part(
        parent, "virtualtours", {**TOUR, "Uri": branded_link, "Type": "branded", "GroupId": group}
    ).resource_id
    tours = {tour["Id"]: tour for tour in spark.list_parts(parent, "virtualtours").results}
    assert set(tours) == {unbranded, branded}
    assert tours[branded]["GroupId"] == group and tours[branded]["Type"] == "branded"
    assert tours[branded]["Uri"] == branded_link

    spark.update_part(parent, "virtualtours", unbranded, {**TOUR, "Name": "Walk-through"})
    assert spark.get_part(parent, "virtualtours", unbranded).first["Name"] == "Walk-through"
    spark.reorder_parts(parent, "virtualtours", [branded, unbranded])
    assert ids(spark.list_parts(parent, "virtualtours")) == [branded, unbranded]
    spark.delete_part(parent, "virtualtours", branded)
    assert ids(spark.list_parts(parent, "virtualtours")) == [unbranded]


def test_a_group_id_from_elsewhere_is_refused(spark, draft_ref):
    with pytest.raises(SparkValidationError):
        spark.create_part(draft_ref, "virtualtours", {**TOUR, "Type": "branded", "GroupId": MISSING_ID})
    assert spark.list_parts(draft_ref, "virtualtours").results == []


def test_video_lifecycle_with_privacy(spark, parent):
    first = spark.create_part(parent, "videos", VIDEO).resource_id
    kitchen = {**VIDEO, "Name": "Kitchen", "Privacy": "Public"}
    second = spark.create_part(parent, "videos", kitchen).resource_id
    video = spark.get_part(parent, "videos", second).first
    assert (video["Name"], video["Caption"], video["Type"]) == ("Kitchen", "From above", "unbranded")
    assert "youtube.com/embed/dQw4w9WgXcQ" in video["ObjectHtml"]
    spark.update_part(parent, "videos", first, {**VIDEO, "Caption": "Seen from above"})
    assert spark.get_part(parent, "videos", first).first["Caption"] == "Seen from above"
    spark.reorder_parts(parent, "videos", [second, first])
    assert ids(spark.list_parts(parent, "videos")) == [second, first]
    spark.delete_part(parent, "videos", first)
    spark.delete_part(parent, "videos", second)
    assert spark.list_parts(parent, "videos").results == []


def test_a_tour_needs_a_web_address(spark, draft_ref):
    with pytest.raises(SparkValidationError):
        spark.create_part(draft_ref, "virtualtours", {**TOUR, "Uri": "not a link"})


@pytest.mark.parametrize("incomplete", [True, False])
def test_tour_and_video_metadata(spark, incomplete):
    for meta in (spark.virtual_tours_meta(incomplete=incomplete), spark.videos_meta(incomplete=incomplete)):
        body = meta.first
        assert isinstance(body["Branding"]["Enabled"], bool)
        assert body["Privacy"]["Default"] in body["Privacy"]["Options"]
        assert {"Public", "Private"} <= set(body["Privacy"]["Options"])


def test_reorder_of_a_collection_that_is_not_whole_is_refused(spark_target, spark, draft_ref):
    if not spark_target.is_sandbox:
        pytest.skip("whether a partial reorder is refused is our reading (sandbox)")
    first = spark.create_part(draft_ref, "videos", VIDEO).resource_id
    spark.create_part(draft_ref, "videos", {**VIDEO, "Name": "Second"})
    with pytest.raises(SparkValidationError):
        spark.reorder_parts(draft_ref, "videos", [first])


def test_client_refuses_raw_tours_and_unsafe_ids(spark, draft_ref):
    with pytest.raises(ValueError, match="no raw form"):
        spark.list_parts(draft_ref, "virtualtours", raw=True)
    with pytest.raises(ValueError):
        spark.get_part(draft_ref, "rooms", "../photos")


# --- sandbox only: 405s, faults ---------------------------------------------------------------------


@pytest.mark.sandbox_only
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("DELETE", "rooms"),
        ("POST", "rooms/raw"),
        ("PUT", "units/raw"),
        ("DELETE", "virtualtours"),
        ("DELETE", "videos"),
    ],
)
def test_undocumented_verbs_are_405(spark, draft_ref, method, suffix):
    with pytest.raises(SparkMethodNotAllowed) as caught:
        spark.request(
            method,
            f"{draft_ref.path}/{suffix}",
            route="contract.not_allowed",
            body={} if method in ("POST", "PUT") else None,
        )
    assert caught.value.status == 405 and caught.value.permanent


@pytest.mark.sandbox_only
def test_a_server_error_on_create_is_transient_and_applies_nothing(spark, sandbox, draft_ref):
    sandbox.faults({"kind": "server_error", "status": 503, "routes": ["rooms.create"], "times": 1})
    with pytest.raises(SparkServerError) as caught:
        spark.create_part(draft_ref, "rooms", {"RoomName": "Kitchen"})
    assert caught.value.transient
    assert spark.list_parts(draft_ref, "rooms").results == []
    assert spark.create_part(draft_ref, "rooms", {"RoomName": "Kitchen"}).resource_id


@pytest.mark.sandbox_only
def test_a_dropped_tour_create_is_ambiguous_and_was_applied(spark, sandbox, draft_ref):
    sandbox.faults({"kind": "drop_after_apply", "routes": ["virtualtours.create"], "times": 1})
    with pytest.raises(SparkError) as caught:
        spark.create_part(draft_ref, "virtualtours", TOUR)
    assert isinstance(caught.value, SparkConnectionError | SparkServerError)
    assert caught.value.ambiguous
    deadline = time.monotonic() + 5
    while not any(c["fault"] == "drop_after_apply" for c in sandbox.calls()["journal"]):
        assert time.monotonic() < deadline, "the dropped call was never journaled"
        time.sleep(0.05)
    # The tour exists: a client must settle by reading the collection before sending again.
    assert [tour["Name"] for tour in spark.list_parts(draft_ref, "virtualtours").results] == [TOUR["Name"]]
