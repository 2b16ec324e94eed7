"""The sandbox's metadata services over HTTP: custom fields, field order, rooms and units fields,
the MLS's own sub-types, conditional GET (ETag, Last-Modified, 304) and the fault switches."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import envelope_error

pytestmark = pytest.mark.django_db(transaction=True)

CONDITIONAL = ["/v1/standardfields", "/v1/standardfields/City", "/v1/customfields", "/v1/fields/order"]


def test_residential_sub_types_are_the_mls_list(sandbox):
    sub_type = sandbox.results("/v1/standardfields/PropertySubType")[0]["PropertySubType"]
    residential = [
        (e["Value"], e["Name"]) for e in sub_type["FieldList"] if "A" in e.get("Applies To", ["A"])
    ]
    assert residential == [("SF", "Single Family"), ("CN", "Condominium"), ("TH", "Townhouse")]


def test_custom_fields_are_grouped(sandbox):
    response = sandbox.get("/v1/customfields")
    assert response.status_code == 200
    body = response.json()["D"]
    assert body["LastUpdated"]
    groups = {name: group for result in body["Results"] for name, group in result.items()}
    features = groups["Features"]
    assert features["Label"] == "Features"
    assert features["Fields"]["Heating"]["MultiSelect"] is True
    assert features["Fields"]["Heating"]["ResourceUri"] == "/v1/customfields/Heating"
    heating = sandbox.results("/v1/customfields/Heating")[0]["Heating"]
    assert {"Name": "Geothermal", "Value": "Geothermal"} in heating["FieldList"]
    assert sandbox.results("/v1/customfields/Garage%20Stalls")[0]["Garage Stalls"]["HasList"] is False
    assert envelope_error(sandbox.get("/v1/customfields/Nope")) == (404, 404)


def test_field_order_lists_only_the_fields_of_the_type(sandbox):
    every = sandbox.results("/v1/fields/order")[0]
    assert list(every) == ["A", "B", "C", "D", "E", "F"]
    land = sandbox.results("/v1/fields/order/C")
    assert land == every["C"]
    names = [entry["Field"] for group in land for entries in group.values() for entry in entries]
    assert "BedsTotal" not in names and "Zoning" in names and "Style" not in names
    residential = sandbox.results("/v1/fields/order/A")
    assert [next(iter(group)) for group in residential] == [
        "Listing Information",
        "Location",
        "Property Details",
        "Features",
        "Remarks",
    ]
    first = residential[0]["Listing Information"][0]
    assert first == {
        "Label": "Property Type",
        "Domain": "StandardFields",
        "Field": "PropertyType",
        "GroupField": "ListingInfo",
        "FieldCategory": "Main",
        "Detail": False,
        "Searchable": True,
        "FormatWithCommas": False,
        "OriginalCustomField": None,
        "Type": "Character",
    }
    assert envelope_error(sandbox.get("/v1/fields/order/Z")) == (404, 404)


def test_rooms_and_units_fields(sandbox):
    rooms = sandbox.results("/v1/rooms")[0]
    assert rooms["RoomName"]["MlsVisible"] == ["A", "B", "E", "F"]
    assert rooms["RoomFeature"]["MultiSelect"] is True and rooms["RoomFeature"]["Type"] == "Boolean"
    assert sandbox.results("/v1/mls/20000426143505724628000000/rooms")[0] == rooms
    level = sandbox.results("/v1/rooms/LevelOrFloor")[0]["LevelOrFloor"]
    assert [e["Value"] for e in level["FieldList"]] == ["Basement", "Main", "Upper"]
    units = sandbox.results("/v1/units")[0]
    assert all(field["MlsVisible"] == ["B"] for field in units.values())
    assert envelope_error(sandbox.get("/v1/mls/19990101000000000000000000/units")) == (404, 404)
    assert envelope_error(sandbox.put("/v1/rooms", {})) == (405, 405)


@pytest.mark.parametrize("path", CONDITIONAL)
def test_conditional_get_answers_304_with_an_empty_body(sandbox, path):
    first = sandbox.get(path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    same = sandbox.get(path, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["ETag"] == etag
    assert sandbox.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    older = sandbox.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert older.status_code == 200 and older.json() == first.json()
    # If-None-Match decides when both are sent.
    both = sandbox.get(path, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert both.status_code == 200


def test_a_metadata_change_gives_new_validators(sandbox):
    first = sandbox.get("/v1/customfields")
    sandbox.options(metadata_revision=1)
    changed = sandbox.get("/v1/customfields", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert changed.json()["D"]["LastUpdated"] > first.json()["D"]["LastUpdated"]


def test_services_the_pages_do_not_make_conditional_always_answer(sandbox):
    for path in ("/v1/propertytypes", "/v1/rooms", "/v1/units", "/v1/listings/rules/propertytypes/A"):
        response = sandbox.get(path, headers={"If-None-Match": "*"})
        assert response.status_code == 200 and "ETag" not in response.headers


def test_faults_apply_to_the_new_routes(sandbox):
    sandbox.faults({"kind": "server_error", "status": 503, "routes": ["customfields.list", "roomsmeta.get"]})
    assert envelope_error(sandbox.get("/v1/customfields")) == (503, 1510)
    assert envelope_error(sandbox.get("/v1/rooms/RoomName")) == (503, 1510)
    assert sandbox.get("/v1/rooms").status_code == 200
    counts = sandbox.calls()["counts"]
    assert counts["customfields.list"] == 1 and counts["roomsmeta.get"] == 1 and counts["roomsmeta.list"] == 1
