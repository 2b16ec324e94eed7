"""Incomplete listings and listings: CRUD, rules (warnings vs fatal), masking, paging, _filter, nearby."""

from __future__ import annotations

import re
import time

import pytest

from tests.sandbox.conftest import AGENT, DRAFT, envelope_error

pytestmark = pytest.mark.django_db(transaction=True)


def test_incomplete_create_answers_ids_like_spark_and_warnings_with_success(sandbox):
    response = sandbox.post("/v1/listings/incomplete", {"PropertyType": "A", "City": "Fargo"})
    assert response.status_code == 201
    body = response.json()["D"]
    assert body["Success"] is True
    (created,) = body["Results"]
    assert re.fullmatch(r"\d{26}", created["Id"])
    assert created["ResourceUri"] == f"/v1/listings/incomplete/{created['Id']}"
    (record,) = body["Errors"]
    assert record["Type"] == "InvalidRecord"
    assert record["Record"] == {"PropertyType": "A", "City": "Fargo"}
    required = {error["Rule"]["Field"] for error in record["Errors"] if error["Type"] == "RuleViolation"}
    assert {"ListPrice", "StreetNumber", "PostalCode", "BedsTotal"} <= required
    assert sandbox.results(f"/v1/listings/incomplete/{created['Id']}")[0]["StandardFields"]["City"] == "Fargo"


def test_incomplete_warning_status_is_configurable(sandbox):
    sandbox.options(warning_rule_status="Warn")
    body = sandbox.post("/v1/listings/incomplete", {"City": "Fargo"}).json()["D"]
    assert {error["Rule"]["Status"] for error in body["Errors"][0]["Errors"]} == {"Warn"}


def test_invalid_attributes_are_fatal_even_on_incomplete_listings(sandbox):
    response = sandbox.post("/v1/listings/incomplete", {"ListPrice": "cheap", "Colour": "red"})
    assert envelope_error(response) == (400, 1053)
    errors = response.json()["D"]["Errors"][0]["Errors"]
    assert {(e["Type"], e["Attribute"]) for e in errors} == {
        ("InvalidAttribute", "ListPrice"),
        ("InvalidAttribute", "Colour"),
    }
    assert sandbox.results("/v1/listings/incomplete") == []


def test_ruby_gem_wrapped_body_is_accepted(sandbox):
    response = sandbox.post("/v1/listings/incomplete", {"IncompleteListings": [dict(DRAFT)]})
    assert response.status_code == 201
    assert "Errors" not in response.json()["D"]


def test_incomplete_list_is_abridged_and_get_is_full(sandbox):
    listing_id = sandbox.create_incomplete()
    (row,) = sandbox.results("/v1/listings/incomplete")
    fields = row["StandardFields"]
    assert fields["UnparsedFirstLineAddress"] == "611 8th St S"
    assert fields["UnparsedAddress"] == "611 8th St S, Fargo, ND 58103"
    assert fields["ListAgentFirstName"] == "Joe" and fields["ListOfficeName"] == "BigBrokerCo"
    assert "YearBuilt" not in fields and "PropertyType" not in fields
    full = sandbox.results(f"/v1/listings/incomplete/{listing_id}")[0]["StandardFields"]
    assert full["YearBuilt"] == 1884 and full["ListAgentId"] == AGENT
    assert full["MlsStatus"] == "Incomplete"


def test_update_changes_modification_timestamp_and_answers_warnings(sandbox):
    listing_id = sandbox.create_incomplete()
    path = f"/v1/listings/incomplete/{listing_id}"
    before = sandbox.results(path)[0]["StandardFields"]["ModificationTimestamp"]
    time.sleep(0.01)
    response = sandbox.put(path, {"PostalCode": "58102", "BedsTotal": None})
    assert response.status_code == 200
    body = response.json()["D"]
    assert body["Success"] is True
    assert [e["Rule"]["Field"] for e in body["Errors"][0]["Errors"]] == ["BedsTotal"]
    after = sandbox.results(path)[0]["StandardFields"]
    assert after["PostalCode"] == "58102" and after["BedsTotal"] is None
    assert after["ModificationTimestamp"] > before


def test_delete_incomplete_listing(sandbox):
    path = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    assert sandbox.delete(path).json() == {"D": {"Success": True}}
    assert envelope_error(sandbox.get(path)) == (404, 404)


def test_listing_rules_are_fatal_on_create_update_and_validation(sandbox):
    incomplete = dict(DRAFT, BedsTotal=None, PostalCode="581")
    incomplete = {key: value for key, value in incomplete.items() if value is not None}
    for path in ("/v1/listings", "/v1/listings/validation"):
        response = sandbox.post(path, incomplete)
        assert envelope_error(response) == (400, 1053), path
        errors = response.json()["D"]["Errors"][0]["Errors"]
        assert {(e["Rule"]["Field"], e["Rule"]["Action"]) for e in errors} == {
            ("BedsTotal", "SET_REQUIRED"),
            ("PostalCode", "REJECT"),
        }
        assert {e["Rule"]["Status"] for e in errors} == {"Fatal"}
    assert sandbox.results("/v1/listings") == []
    assert sandbox.post("/v1/listings/validation", DRAFT).json() == {"D": {"Success": True}}
    assert sandbox.results("/v1/listings") == []
    listing_id = sandbox.create_listing()
    path = f"/v1/listings/{listing_id}"
    assert envelope_error(sandbox.put(path, {"ListPrice": 0})) == (400, 1053)
    assert envelope_error(sandbox.put(f"{path}/validation", {"ListPrice": 0})) == (400, 1053)
    assert sandbox.results(path)[0]["StandardFields"]["ListPrice"] == DRAFT["ListPrice"]
    assert sandbox.put(path, {"ListPrice": 99000}).status_code == 200
    assert sandbox.results(path)[0]["StandardFields"]["ListPrice"] == 99000


def test_listing_fields_not_visible_for_the_property_type_are_masked(sandbox):
    house = sandbox.create_listing(PrivateRemarks="Key under the mat")
    land = sandbox.create_listing(PropertyType="C", PropertySubType="RL", LotSizeAcres=2.5, BedsTotal=3)
    house_fields = sandbox.results(f"/v1/listings/{house}")[0]["StandardFields"]
    assert house_fields["PrivateRemarks"] == "********"
    assert house_fields["BedsTotal"] == 8
    land_fields = sandbox.results(f"/v1/listings/{land}")[0]["StandardFields"]
    assert land_fields["BedsTotal"] == "********" and land_fields["YearBuilt"] == "********"
    assert land_fields["LotSizeAcres"] == 2.5
    state = {item["Id"]: item for item in sandbox.state()["listings"]}
    assert state[house]["StandardFields"]["PrivateRemarks"] == "Key under the mat"
    listing_number = sandbox.results(f"/v1/listings/{house}")[0]["StandardFields"]["ListingId"]
    assert re.fullmatch(r"\d{2}-\d{4}", listing_number)


def test_paging_across_pages(sandbox):
    ids = [sandbox.create_listing(ListPrice=100000 + n) for n in range(23)]
    pages = []
    for page in (1, 2, 3):
        body = sandbox.get("/v1/listings", params={"_pagination": 1, "_limit": 10, "_page": page}).json()["D"]
        pages.append([row["Id"] for row in body["Results"]])
        assert body["Pagination"] == {"TotalRows": 23, "PageSize": 10, "TotalPages": 3, "CurrentPage": page}
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [listing_id for page in pages for listing_id in page] == ids
    assert "Pagination" not in sandbox.get("/v1/listings").json()["D"]
    assert len(sandbox.results("/v1/listings")) == 10  # default _limit
    count = sandbox.get("/v1/listings", params={"_pagination": "count"}).json()["D"]
    assert count["Results"] == [] and count["Pagination"]["TotalRows"] == 23
    assert len(sandbox.results("/v1/listings", params={"_limit": 25})) == 23
    skip = sandbox.get("/v1/listings", params={"_pagination": 1, "_skip": 20}).json()["D"]
    assert skip["Pagination"]["CurrentOffset"] == 20 and len(skip["Results"]) == 3
    assert envelope_error(sandbox.get("/v1/listings", params={"_limit": 26})) == (400, 1053)
    assert envelope_error(sandbox.get("/v1/listings", params={"_page": 0})) == (400, 1053)
    sandbox.options(limit_over_max="clamp")
    assert len(sandbox.results("/v1/listings", params={"_limit": 100})) == 23


FILTER_CASES = [
    ("City Eq 'Fargo'", {"fargo-a", "fargo-b"}),
    ("City Eq 'fargo'", {"fargo-a", "fargo-b"}),
    ("City Ne 'Fargo'", {"moorhead", "grand-forks"}),
    ("City Eq 'Fargo','Moorhead'", {"fargo-a", "fargo-b", "moorhead"}),
    ("City Eq 'Grand*'", {"grand-forks"}),
    ("ListPrice Gt 200000", {"fargo-b", "grand-forks"}),
    ("ListPrice Ge 200000", {"moorhead", "fargo-b", "grand-forks"}),
    ("ListPrice Lt 200000", {"fargo-a"}),
    ("ListPrice Le 200000", {"fargo-a", "moorhead"}),
    ("ListPrice Bt 150000,250000", {"moorhead", "fargo-b"}),
    ("City Eq 'Fargo' And ListPrice Gt 200000", {"fargo-b"}),
    ("City Eq 'Moorhead' Or ListPrice Gt 280000", {"moorhead", "grand-forks"}),
    ("Not City Eq 'Fargo'", {"moorhead", "grand-forks"}),
    ("City Eq 'Fargo' Not ListPrice Gt 200000", {"fargo-a"}),
    ("(Not City Eq 'Fargo') Or YearBuilt Ge 2000", {"moorhead", "grand-forks", "fargo-b"}),
    ("StreetName Eq 'O\\'Neill'", {"grand-forks"}),
    ("SubdivisionName Eq NULL", {"fargo-a", "moorhead", "grand-forks"}),
    ("PropertyType Eq 'A' And BathsTotal Eq 2.0", {"fargo-a"}),
    ("ModificationTimestamp Gt 2000-01-01T00:00:00Z", {"fargo-a", "fargo-b", "moorhead", "grand-forks"}),
    ("Location Eq radius('46.8772 -96.7898', 5.0)", {"fargo-a", "fargo-b", "moorhead"}),
]


@pytest.fixture
def four_listings(sandbox):
    rows = {
        "fargo-a": {"City": "Fargo", "ListPrice": 100000, "BathsTotal": 2, "YearBuilt": 1950},
        "fargo-b": {"City": "Fargo", "ListPrice": 250000, "SubdivisionName": "Westgate", "YearBuilt": 2005},
        "moorhead": {
            "City": "Moorhead",
            "StateOrProvince": "MN",
            "ListPrice": 200000,
            "Latitude": 46.8738,
            "Longitude": -96.7678,
            "YearBuilt": 1990,
        },
        "grand-forks": {
            "City": "Grand Forks",
            "ListPrice": 300000,
            "StreetName": "O'Neill",
            "Latitude": 47.9253,
            "Longitude": -97.0329,
            "YearBuilt": 2010,
        },
    }
    return {sandbox.create_listing(**fields): name for name, fields in rows.items()}


@pytest.mark.parametrize(("expression", "expected"), FILTER_CASES)
def test_filter_operators(sandbox, four_listings, expression, expected):
    rows = sandbox.results("/v1/listings", params={"_filter": expression})
    assert {four_listings[row["Id"]] for row in rows} == expected


@pytest.mark.parametrize(
    "expression",
    [
        "City Eq",
        "City Eq 'Fargo",
        "Nope Eq 'x'",
        "City Gt 'Fargo'",
        "ListPrice Eq 'cheap'",
        "ListPrice Bt 1",
        "ListPrice Gt 1,2",
        "City Eq 'Fargo' And",
        "City Eq 'Fargo' And Not ListPrice Gt 1",
        "(City Eq 'Fargo'",
        "PublicRemarks Eq 'x'",
    ],
)
def test_filter_errors_are_1040_with_sparkql_errors(sandbox, expression):
    response = sandbox.get("/v1/listings", params={"_filter": expression})
    assert envelope_error(response) == (400, 1040)
    assert response.json()["D"]["SparkQLErrors"][0]["Expression"] == expression


def test_incomplete_listings_filter_only_on_the_documented_fields(sandbox):
    first = sandbox.create_incomplete()
    sandbox.create_incomplete(StreetNumber="12", StreetName="Main", StreetSuffix="Ave", StreetDirSuffix=None)
    assert envelope_error(sandbox.get("/v1/listings/incomplete", params={"_filter": "City Eq 'Fargo'"})) == (
        400,
        1040,
    )
    rows = sandbox.results("/v1/listings/incomplete", params={"_filter": f"Id Eq '{first}'"})
    assert [row["Id"] for row in rows] == [first]
    rows = sandbox.results("/v1/listings/incomplete", params={"_filter": "StreetAddress Eq '12 main ave'"})
    assert len(rows) == 1 and rows[0]["Id"] != first


def test_orderby_select_and_expand(sandbox, four_listings):
    rows = sandbox.results("/v1/listings", params={"_orderby": "-ListPrice", "_select": "City,ListPrice"})
    assert [row["StandardFields"]["ListPrice"] for row in rows] == [300000, 250000, 200000, 100000]
    assert set(rows[0]["StandardFields"]) == {"City", "ListPrice"}
    rows = sandbox.results("/v1/listings", params={"_orderby": "+City,-ListPrice"})
    assert [four_listings[row["Id"]] for row in rows] == ["fargo-b", "fargo-a", "grand-forks", "moorhead"]
    assert envelope_error(sandbox.get("/v1/listings", params={"_orderby": "PublicRemarks"})) == (400, 1053)
    listing_id = next(iter(four_listings))
    owner = f"/v1/listings/{listing_id}"
    sandbox.add_photo(owner, "One")
    sandbox.add_photo(owner, "Two")
    sandbox.upload_document(owner, "Survey", "private")
    (row,) = sandbox.results(owner, params={"_expand": "Photos,Documents"})
    assert [p["Name"] for p in row["StandardFields"]["Photos"]] == ["One", "Two"]
    assert row["StandardFields"]["Documents"][0]["Privacy"] == "Private"
    (row,) = sandbox.results(owner, params={"_expand": "PrimaryPhoto,Permissions,CustomFields"})
    assert [p["Name"] for p in row["StandardFields"]["Photos"]] == ["One"]
    assert row["Permissions"]["EditableSettings"]["Photos"] is True
    assert envelope_error(sandbox.get(owner, params={"_expand": "Photos,PrimaryPhoto"})) == (400, 1053)


def test_custom_fields_round_trip(sandbox):
    custom = {"Contract Information": {"Book Section": "Residential w/ Acreage"}}
    listing_id = sandbox.create_listing(CustomFields=custom)
    (row,) = sandbox.results(f"/v1/listings/{listing_id}", params={"_expand": "CustomFields"})
    assert row["CustomFields"] == [
        {"Main": [{"Contract Information": [{"Book Section": "Residential w/ Acreage"}]}]}
    ]


def test_nearby_sorts_by_distance_and_needs_coordinates(sandbox):
    fargo = sandbox.create_incomplete()
    west_fargo = sandbox.create_incomplete(Latitude=46.8750, Longitude=-96.9000)
    bismarck = sandbox.create_incomplete(Latitude=46.8083, Longitude=-100.7837)
    sandbox.create_incomplete(Latitude=None, Longitude=None)
    near_bismarck = sandbox.results("/v1/listings/incomplete/nearby", params={"_lat": 46.80, "_lon": -100.7})
    assert [row["Id"] for row in near_bismarck] == [bismarck, west_fargo, fargo]
    near_fargo = sandbox.results("/v1/listings/incomplete/nearby", params={"_lat": 46.87, "_lon": -96.79})
    assert [row["Id"] for row in near_fargo] == [fargo, west_fargo, bismarck]
    within = sandbox.results(
        "/v1/listings/incomplete/nearby", params={"_lat": 46.87, "_lon": -96.79, "_distance": 20}
    )
    assert [row["Id"] for row in within] == [fargo, west_fargo]
    assert envelope_error(sandbox.get("/v1/listings/incomplete/nearby", params={"_lat": 46.8})) == (400, 1050)
    listing = sandbox.create_listing()
    rows = sandbox.results("/v1/listings/nearby", params={"_lat": 46.8, "_lon": -96.8, "_pagination": 1})
    assert [row["Id"] for row in rows] == [listing]


def test_my_office_and_company_listings(sandbox):
    mine = sandbox.create_listing()
    colleague = sandbox.create_listing(ListAgentId="20080917142739989238200000")
    other = sandbox.create_listing(ListAgentId="20090101120000000000200000")
    assert {r["Id"] for r in sandbox.results("/v1/my/listings")} == {mine}
    assert {r["Id"] for r in sandbox.results("/v1/office/listings")} == {mine, colleague}
    assert {r["Id"] for r in sandbox.results("/v1/company/listings")} == {mine, colleague, other}


def test_flexmls_update_takes_price_or_future_expiration_only(sandbox):
    path = f"/v1/flexmls/listings/{sandbox.create_listing()}"
    assert sandbox.put(path, {"ListPrice": 123000}).status_code == 200
    assert envelope_error(sandbox.put(path, {"City": "Fargo"})) == (400, 1053)
    assert envelope_error(sandbox.put(path, {"ExpirationDate": "2001-01-01"})) == (400, 1053)


def test_promotion_endpoint_only_when_switched_on(sandbox):
    incomplete = sandbox.create_incomplete()
    path = f"/v1/listings/incomplete/{incomplete}/promote"
    assert envelope_error(sandbox.post(path, {})) == (404, 404)
    sandbox.options(promotion_endpoint=True)
    response = sandbox.post(path, {})
    assert response.json()["D"]["Results"][0]["ResourceUri"] == f"/v1/listings/{incomplete}"
    assert sandbox.results(f"/v1/listings/{incomplete}")[0]["Id"] == incomplete
