"""Rooms, units, virtual tours and videos (sandbox/api_parts.py), for listings and incomplete listings."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.conftest import MISSING_ID, envelope_error

pytestmark = pytest.mark.django_db(transaction=True)

BEDROOM = {"RoomName": "Bedroom", "LevelOrFloor": "Upper", "Length": "12", "Width": "11"}
TOUR = {"Name": "3D walk-through", "Uri": "https://tours.example/611-8th", "Type": "unbranded"}
VIDEO = {
    "Name": "Drone video",
    "Caption": "From above",
    "ObjectHtml": '<iframe src="https://player.example/1"></iframe>',
    "Type": "unbranded",
}


@pytest.fixture(params=["incomplete", "listing"])
def owner(request, sandbox) -> str:
    if request.param == "incomplete":
        return f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    return f"/v1/listings/{sandbox.create_listing()}"


def create(sandbox, path: str, body: dict) -> str:
    response = sandbox.post(path, body)
    assert response.status_code == 201, response.text
    result = response.json()["D"]["Results"][0]
    assert result["ResourceUri"] == f"{path}/{result['Id']}"
    return result["Id"]


def attribute_errors(response) -> dict[str, str]:
    """Attribute -> message of a 400's ``Errors`` (InvalidRecord > InvalidAttribute)."""
    assert envelope_error(response) == (400, 1053)
    (record,) = response.json()["D"]["Errors"]
    assert record["Type"] == "InvalidRecord"
    return {entry["Attribute"]: entry["Message"] for entry in record["Errors"]}


# --- rooms and units ------------------------------------------------------------------------------


def test_room_reads_labelled_and_raw(sandbox, owner):
    room_id = create(
        sandbox, f"{owner}/rooms", {"Fields": {**BEDROOM, "RoomFeature": "Fireplace,Walk-in Closet"}}
    )
    (labelled,) = sandbox.results(f"{owner}/rooms")
    assert labelled["Id"] == room_id
    assert labelled["ResourceUri"] == f"{owner}/rooms/{room_id}"
    assert labelled["Fields"] == [
        {"Room Name": "Bedroom"},
        {"Room Level": "Upper"},
        {"Length": "12"},
        {"Width": "11"},
        {"Room Remarks": None},
        {"Room Features": "Fireplace,Walk-in Closet"},
    ]
    (raw,) = sandbox.results(f"{owner}/rooms/raw")
    assert raw["Fields"] == {**BEDROOM, "Description": None, "RoomFeature": "Fireplace,Walk-in Closet"}
    assert sandbox.results(f"{owner}/rooms/{room_id}") == [labelled]
    assert sandbox.results(f"{owner}/rooms/raw/{room_id}") == [raw]


def test_room_put_replaces_the_record_and_delete_removes_it(sandbox, owner):
    room_id = create(sandbox, f"{owner}/rooms", {"Fields": BEDROOM})
    assert sandbox.put(f"{owner}/rooms/{room_id}", {"Fields": {"RoomName": "Office"}}).status_code == 200
    assert sandbox.results(f"{owner}/rooms/raw/{room_id}")[0]["Fields"]["RoomName"] == "Office"
    # Replaced, not merged: the level, length and width sent before are gone.
    assert sandbox.results(f"{owner}/rooms/raw/{room_id}")[0]["Fields"]["LevelOrFloor"] is None
    assert sandbox.delete(f"{owner}/rooms/{room_id}").status_code == 200
    assert sandbox.results(f"{owner}/rooms") == []
    assert envelope_error(sandbox.get(f"{owner}/rooms/{room_id}")) == (404, 404)
    assert envelope_error(sandbox.delete(f"{owner}/rooms/{room_id}")) == (404, 404)


def test_room_validation_names_every_bad_attribute(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    response = sandbox.post(
        f"{owner}/rooms",
        {
            "Fields": {
                "RoomName": "Ballroom",
                "RoomLevel": "1",
                "Length": 12,
                "RoomFeature": "Fireplace,Moat",
                "Width": None,
            }
        },
    )
    errors = attribute_errors(response)
    assert set(errors) == {"RoomName", "RoomLevel", "Length", "RoomFeature"}
    assert "Ballroom" in errors["RoomName"] and "Moat" in errors["RoomFeature"]
    assert "not a room field" in errors["RoomLevel"]
    assert sandbox.results(f"{owner}/rooms") == []
    # The same checks on PUT; the record stays as it was.
    room_id = create(sandbox, f"{owner}/rooms", {"Fields": BEDROOM})
    assert set(attribute_errors(sandbox.put(f"{owner}/rooms/{room_id}", {"Fields": {"Width": 11}}))) == {
        "Width"
    }
    assert sandbox.results(f"{owner}/rooms/raw/{room_id}")[0]["Fields"]["Width"] == "11"


@pytest.mark.parametrize("body", [{}, {"Fields": {}}, {"Fields": ["RoomName"]}, {"RoomName": "Bedroom"}])
def test_room_body_must_be_fields_object(sandbox, body):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    assert envelope_error(sandbox.post(f"{owner}/rooms", body)) == (400, 1053)


def test_units_only_for_multi_family(sandbox):
    single = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    errors = attribute_errors(sandbox.post(f"{single}/units", {"Fields": {"unit_nbr": "Studio"}}))
    assert "property type A" in errors["unit_nbr"]
    assert sandbox.results(f"{single}/units") == []

    multi = f"/v1/listings/incomplete/{sandbox.create_incomplete(PropertyType='B', PropertySubType='DU')}"
    unit_id = create(sandbox, f"{multi}/units", {"Fields": {"unit_nbr": "2 Bedroom", "ActualRent": "1200"}})
    (unit,) = sandbox.results(f"{multi}/units")
    assert unit["Id"] == unit_id
    assert {"Unit Type": "2 Bedroom"} in unit["Fields"] and {"Rent": "1200"} in unit["Fields"]
    assert set(attribute_errors(sandbox.post(f"{multi}/units", {"Fields": {"BathsTotal": "7"}}))) == {
        "BathsTotal"
    }
    # Rooms are not visible for land (C): refused by attribute.
    land = f"/v1/listings/incomplete/{sandbox.create_incomplete(PropertyType='C', PropertySubType='RL')}"
    assert set(attribute_errors(sandbox.post(f"{land}/rooms", {"Fields": BEDROOM}))) == set(BEDROOM)


def test_rooms_reorder_must_list_exactly_the_current_ids(sandbox, owner):
    first = create(sandbox, f"{owner}/rooms", {"Fields": {"RoomName": "Kitchen"}})
    second = create(sandbox, f"{owner}/rooms", {"Fields": {"RoomName": "Office"}})
    third = create(sandbox, f"{owner}/rooms", {"Fields": {"RoomName": "Laundry"}})

    def order() -> list[str]:
        return [room["Id"] for room in sandbox.results(f"{owner}/rooms")]

    assert order() == [first, second, third]
    for bad in (
        [{"Id": third}, {"Id": first}],  # one missing
        [{"Id": third}, {"Id": first}, {"Id": second}, {"Id": MISSING_ID}],  # one too many
        [{"Id": third}, {"Id": third}, {"Id": first}, {"Id": second}],  # twice
        [{"Id": third, "Order": 1}, {"Id": first}, {"Id": second}],  # only Id
    ):
        assert envelope_error(sandbox.put(f"{owner}/rooms", {"Rooms": bad})) == (400, 1053)
    assert order() == [first, second, third]
    wanted = [third, first, second]
    assert sandbox.put(f"{owner}/rooms", {"Rooms": [{"Id": i} for i in wanted]}).status_code == 200
    assert order() == wanted
    sandbox.delete(f"{owner}/rooms/{first}")
    assert order() == [third, second]


# --- virtual tours and videos ---------------------------------------------------------------------


def test_tour_lifecycle_with_group_pairing(sandbox, owner):
    unbranded = create(sandbox, f"{owner}/virtualtours", TOUR)
    (tour,) = sandbox.results(f"{owner}/virtualtours")
    assert tour["Id"] == unbranded and len(tour["GroupId"]) == 26
    assert (tour["Name"], tour["Uri"], tour["Type"]) == (TOUR["Name"], TOUR["Uri"], "unbranded")
    assert tour["Privacy"] == "Private"  # the metadata's Default
    group = tour["GroupId"]

    branded_body = {**TOUR, "Type": "branded", "GroupId": group, "Privacy": "Public"}
    branded = create(sandbox, f"{owner}/virtualtours", branded_body)
    second = sandbox.results(f"{owner}/virtualtours/{branded}")[0]
    assert second["GroupId"] == group and second["Privacy"] == "Public"
    # At most one record per Type in a group.
    assert envelope_error(sandbox.post(f"{owner}/virtualtours", {**TOUR, "GroupId": group})) == (400, 1053)
    # A GroupId that is not one of this listing's tours.
    assert envelope_error(sandbox.post(f"{owner}/virtualtours", {**TOUR, "GroupId": MISSING_ID})) == (
        400,
        1053,
    )
    # A new unbranded tour without GroupId gets its own group.
    other = create(sandbox, f"{owner}/virtualtours", {**TOUR, "Name": "Garden"})
    assert sandbox.results(f"{owner}/virtualtours/{other}")[0]["GroupId"] not in ("", group)

    # PUT keeps the group when the body omits it; it may not make a second branded one.
    assert sandbox.put(f"{owner}/virtualtours/{unbranded}", {**TOUR, "Name": "Walk"}).status_code == 200
    updated = sandbox.results(f"{owner}/virtualtours/{unbranded}")[0]
    assert (updated["Name"], updated["GroupId"]) == ("Walk", group)
    clash = {**TOUR, "Type": "branded"}
    assert envelope_error(sandbox.put(f"{owner}/virtualtours/{unbranded}", clash)) == (400, 1053)

    assert sandbox.delete(f"{owner}/virtualtours/{branded}").status_code == 200
    assert [t["Id"] for t in sandbox.results(f"{owner}/virtualtours")] == [unbranded, other]


def test_video_lifecycle_and_reorder(sandbox, owner):
    first = create(sandbox, f"{owner}/videos", VIDEO)
    second = create(sandbox, f"{owner}/videos", {**VIDEO, "Name": "Kitchen", "Privacy": "Automatic"})
    video = sandbox.results(f"{owner}/videos/{second}")[0]
    assert video["ObjectHtml"] == VIDEO["ObjectHtml"] and video["Caption"] == "From above"
    assert (video["Privacy"], video["CurrentPrivacy"]) == ("Automatic", "Public")
    assert envelope_error(sandbox.put(f"{owner}/videos", {"Videos": [{"Id": second}]})) == (400, 1053)
    assert sandbox.put(f"{owner}/videos", {"Videos": [{"Id": second}, {"Id": first}]}).status_code == 200
    assert [v["Id"] for v in sandbox.results(f"{owner}/videos")] == [second, first]
    assert sandbox.put(f"{owner}/videos/{first}", {**VIDEO, "Caption": "New"}).status_code == 200
    assert sandbox.results(f"{owner}/videos/{first}")[0]["Caption"] == "New"


@pytest.mark.parametrize(
    ("collection", "change", "code"),
    [
        ("virtualtours", {"Name": None}, 1050),
        ("virtualtours", {"Name": "  "}, 1053),
        ("virtualtours", {"Uri": None}, 1050),
        ("virtualtours", {"Uri": "ftp://tours.example/x"}, 1053),
        ("virtualtours", {"Uri": "javascript:alert(1)"}, 1053),
        ("virtualtours", {"Type": None}, 1050),
        ("virtualtours", {"Type": "fancy"}, 1053),
        ("virtualtours", {"Privacy": "HasEdit"}, 1053),
        ("virtualtours", {"Caption": "tours have none"}, 1053),
        ("videos", {"ObjectHtml": None}, 1050),
        ("videos", {"Name": None}, 1050),
        ("videos", {"Privacy": "DataShare"}, 1053),
        ("videos", {"Uri": "https://video.example"}, 1053),
    ],
)
def test_tour_and_video_bodies_are_checked(sandbox, collection, change, code):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    body = {**(TOUR if collection == "virtualtours" else VIDEO), **change}
    body = {key: value for key, value in body.items() if value is not None}
    assert envelope_error(sandbox.post(f"{owner}/{collection}", body)) == (400, code)
    assert sandbox.results(f"{owner}/{collection}") == []


def test_branded_refused_when_branding_is_off(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.options(branded_parts_enabled=False)
    assert sandbox.results("/v1/listings/incomplete/virtualtours/meta")[0]["Branding"]["Enabled"] is False
    assert envelope_error(sandbox.post(f"{owner}/virtualtours", {**TOUR, "Type": "branded"})) == (400, 1053)
    create(sandbox, f"{owner}/virtualtours", TOUR)


def test_ruby_style_wrapped_body_is_accepted(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    create(sandbox, f"{owner}/videos", {"Videos": [VIDEO]})
    assert sandbox.results(f"{owner}/videos")[0]["Name"] == VIDEO["Name"]


@pytest.mark.parametrize("path", ["/v1/listings/virtualtours/meta", "/v1/listings/incomplete/videos/meta"])
def test_tour_and_video_metadata(sandbox, path):
    (meta,) = sandbox.results(path)
    assert meta["Branding"]["Enabled"] is True
    assert meta["Privacy"] == {
        "Default": "Private",
        "Options": ["Public", "Private", "Automatic"],
        "OffMarketStandardStatuses": ["Closed"],
    }


# --- 405s, faults, listing life -------------------------------------------------------------------


def test_undocumented_verbs_are_405(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    room = create(sandbox, f"{owner}/rooms", {"Fields": BEDROOM})
    tour = create(sandbox, f"{owner}/virtualtours", TOUR)
    refused = [
        ("DELETE", f"{owner}/rooms"),
        ("POST", f"{owner}/rooms/raw"),
        ("PUT", f"{owner}/rooms/raw"),
        ("DELETE", f"{owner}/units/raw"),
        ("POST", f"{owner}/rooms/{room}"),
        ("DELETE", f"{owner}/virtualtours"),
        ("POST", f"{owner}/virtualtours/{tour}"),
        ("DELETE", f"{owner}/videos"),
        ("POST", "/v1/listings/virtualtours/meta"),
        ("PUT", "/v1/listings/incomplete/videos/meta"),
    ]
    for method, path in refused:
        assert envelope_error(sandbox.call(method, path)) == (405, 405), (method, path)
    counts = sandbox.calls()["counts"]
    assert counts["rooms.not_allowed"] == 4
    assert counts["units.not_allowed"] == 1
    assert counts["virtualtours.not_allowed"] == 3
    assert counts["videos.not_allowed"] == 2


def test_missing_listing_is_404(sandbox):
    for path in (f"/v1/listings/{MISSING_ID}/rooms", f"/v1/listings/incomplete/{MISSING_ID}/videos"):
        assert envelope_error(sandbox.get(path)) == (404, 404)


def test_faults_apply_to_part_routes(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.faults({"kind": "server_error", "status": 503, "routes": ["virtualtours.create"], "times": 1})
    assert envelope_error(sandbox.post(f"{owner}/virtualtours", TOUR)) == (503, 1510)
    assert sandbox.results(f"{owner}/virtualtours") == []
    create(sandbox, f"{owner}/virtualtours", TOUR)
    sandbox.faults({"kind": "drop_after_apply", "routes": ["rooms.create"], "times": 1})
    with pytest.raises(requests.exceptions.ConnectionError):  # closed unanswered
        sandbox.post(f"{owner}/rooms", {"Fields": BEDROOM})
    # Applied although never answered; the journal says so.
    assert len(sandbox.results(f"{owner}/rooms")) == 1
    entry = sandbox.control("GET", "calls?route=rooms.create")["journal"][0]
    assert entry["fault"] == "drop_after_apply" and entry["applied"] is True


def test_expansions_state_and_delete_cascade(sandbox):
    listing_id = sandbox.create_listing()
    owner = f"/v1/listings/{listing_id}"
    room = create(sandbox, f"{owner}/rooms", {"Fields": BEDROOM})
    create(sandbox, f"{owner}/virtualtours", TOUR)
    create(sandbox, f"{owner}/videos", VIDEO)
    fields = sandbox.results(owner, params={"_expand": "Rooms,RoomsRaw,Units,VirtualTours,Videos"})[0][
        "StandardFields"
    ]
    assert [r["Id"] for r in fields["Rooms"]] == [room]
    assert fields["Rooms"][0]["Fields"][0] == {"Room Name": "Bedroom"}
    assert fields["RoomsRaw"][0]["Fields"]["RoomName"] == "Bedroom"
    assert fields["Units"] == []
    assert fields["VirtualTours"][0]["Uri"] == TOUR["Uri"]
    assert fields["Videos"][0]["Name"] == VIDEO["Name"]
    (state,) = sandbox.state()["listings"]
    assert state["Rooms"][0]["Fields"]["RoomName"] == "Bedroom" and state["Rooms"][0]["Order"] == 1
    assert len(state["VirtualTours"]) == len(state["Videos"]) == 1


def test_promotion_keeps_parts_and_deleting_the_draft_removes_them(sandbox):
    sandbox.options(promotion_endpoint=True)
    draft_id = sandbox.create_incomplete()
    draft = f"/v1/listings/incomplete/{draft_id}"
    room = create(sandbox, f"{draft}/rooms", {"Fields": BEDROOM})
    tour = create(sandbox, f"{draft}/virtualtours", TOUR)
    assert sandbox.post(f"{draft}/promote").status_code == 200
    live = f"/v1/listings/{draft_id}"
    (room_read,) = sandbox.results(f"{live}/rooms")
    assert room_read["Id"] == room and room_read["ResourceUri"] == f"{live}/rooms/{room}"
    assert [t["Id"] for t in sandbox.results(f"{live}/virtualtours")] == [tour]

    other = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    create(sandbox, f"{other}/videos", VIDEO)
    assert sandbox.delete(other).status_code == 200
    assert envelope_error(sandbox.get(f"{other}/videos")) == (404, 404)
    assert sum(len(item["Videos"]) for item in sandbox.state()["incomplete_listings"]) == 0


def test_the_sandbox_page_shows_the_parts_of_a_live_listing(sandbox):
    listing_id = sandbox.create_listing(PropertyType="B", PropertySubType="DU")
    owner = f"/v1/listings/{listing_id}"
    create(sandbox, f"{owner}/rooms", {"Fields": {**BEDROOM, "Description": "Sunny <corner>"}})
    create(sandbox, f"{owner}/units", {"Fields": {"unit_nbr": "Studio", "ActualRent": "950"}})
    create(sandbox, f"{owner}/virtualtours", TOUR)
    create(sandbox, f"{owner}/videos", VIDEO)
    response = sandbox.http.get(sandbox.url("/"), timeout=10)
    assert response.status_code == 200
    article = response.text.split(f'id="listing-{listing_id}"', 1)[1].split("</article>", 1)[0]
    assert "Rooms (1)" in article and "Units (1)" in article
    assert "<dt>Room Level</dt><dd>Upper</dd>" in article
    assert "Sunny &lt;corner&gt;" in article  # escaped, never markup
    assert "<dt>Rent</dt><dd>950</dd>" in article
    assert f'<a href="{TOUR["Uri"]}" rel="noopener noreferrer">{TOUR["Name"]}</a>' in article
    assert "Virtual tours (1)" in article and "Videos (1)" in article
    assert VIDEO["Name"] in article and "&lt;iframe" in article
