"""The client's metadata services against a Spark server over real HTTP (the sandbox; the real
API too when SPARK_CONTRACT_API_URL and SPARK_CONTRACT_ACCESS_TOKEN are set, see conftest.py):
standard fields with their lists, property types, field order, custom fields, rooms and units
fields, listing rules, and conditional GET where the pages document it."""

from __future__ import annotations

import pytest

from spark.errors import SparkNotFound
from spark.metadata import path_segment
from spark.responses import Validators

pytestmark = [pytest.mark.django_db(transaction=True)]

TYPES_OF_FIELDS = {"Character", "Integer", "Decimal", "Date", "Datetime", "Boolean"}


def applies_to(entry: dict) -> list[str] | None:
    return entry.get("Applies To", entry.get("AppliesTo"))


def test_a_standard_fields_list_carries_names_values_and_types(spark_target, spark):
    fields = spark.standard_fields().first
    listed = [name for name, body in fields.items() if body["HasList"]]
    assert "PropertySubType" in listed
    sub_type = spark.standard_field("PropertySubType").first["PropertySubType"]
    assert isinstance(sub_type["MultiSelect"], bool)
    for entry in sub_type["FieldList"]:
        assert isinstance(entry["Name"], str) and isinstance(entry["Value"], str)
        assert applies_to(entry) is None or isinstance(applies_to(entry), list)
    if spark_target.is_sandbox:
        residential = {
            entry["Value"]: entry["Name"]
            for entry in sub_type["FieldList"]
            if "A" in (applies_to(entry) or ["A"])
        }
        assert residential == {"SF": "Single Family", "CN": "Condominium", "TH": "Townhouse"}


def test_a_value_of_every_type_leaves_applies_to_out(spark_target, spark):
    if not spark_target.is_sandbox:
        pytest.skip("which field has such values depends on the MLS")
    prefix = spark.standard_field("StreetDirPrefix").first["StreetDirPrefix"]
    assert {"Name": "N", "Value": "N"} in prefix["FieldList"]


def test_standard_fields_answer_conditional_gets(spark):
    first = spark.standard_fields()
    assert first.validators.etag and first.validators.last_modified
    again = spark.standard_fields(if_changed=first.validators)
    assert again.not_modified and again.results == []
    assert again.validators.etag == first.validators.etag
    by_date = spark.standard_fields(if_changed=Validators(last_modified=first.validators.last_modified))
    assert by_date.not_modified
    stale = spark.standard_fields(if_changed=Validators(etag='"not-the-current-one"'))
    assert not stale.not_modified and stale.first == first.first
    single = spark.standard_field("PropertyType")
    assert spark.standard_field("PropertyType", if_changed=single.validators).not_modified


def test_property_types(spark):
    types = spark.property_types().results
    assert types and all(isinstance(t["MlsCode"], str) and t["MlsName"] for t in types)


def test_field_order_for_every_type_and_for_one(spark_target, spark):
    codes = [t["MlsCode"] for t in spark.property_types().results]
    every = spark.field_order().first
    assert set(codes) <= set(every)
    one = spark.field_order(codes[0]).results
    assert one == every[codes[0]]
    for group in one:
        ((label, entries),) = group.items()
        assert isinstance(label, str)
        for entry in entries:
            assert entry["Domain"] in ("StandardFields", "CustomFields")
            assert entry["Field"] and entry["Label"]
    assert spark.field_order(if_changed=spark.field_order().validators).not_modified
    if spark_target.is_sandbox:
        with pytest.raises(SparkNotFound):
            spark.field_order("Z")


def test_custom_fields_grouped_with_their_lists(spark_target, spark):
    groups = spark.custom_fields()
    assert groups.results
    listed = []
    for result in groups.results:
        for group, body in result.items():
            assert body["Label"]
            for name, described in body["Fields"].items():
                assert described["Type"] in TYPES_OF_FIELDS
                assert isinstance(described["MlsVisible"], list)
                if described["HasList"]:
                    listed.append(name)
    assert spark.custom_fields(if_changed=groups.validators).not_modified
    if not listed:
        pytest.skip("this MLS has no custom field with a list")
    name = listed[0]
    one = spark.custom_field(name)
    assert one.first[name]["FieldList"]
    assert spark.custom_field(name, if_changed=one.validators).not_modified
    if spark_target.is_sandbox:
        # Names hold spaces: sent URL-encoded.
        assert spark.custom_field("Garage Stalls").first["Garage Stalls"]["Type"] == "Integer"
        heating = spark.custom_field("Heating").first["Heating"]
        assert heating["MultiSelect"] is True


def test_rooms_and_units_fields(spark_target, spark):
    rooms = spark.room_fields().first
    assert rooms
    for name, described in rooms.items():
        assert described["Label"] and isinstance(described["MlsVisible"], list)
    listed = [name for name, described in rooms.items() if described["HasList"]]
    if listed:
        name = listed[0]
        assert spark.room_field(name).first[name]["FieldList"]
    units = spark.unit_fields().first
    assert all(described["Label"] for described in units.values())
    if spark_target.is_sandbox:
        assert rooms["RoomFeature"]["MultiSelect"] is True
        assert [e["Value"] for e in spark.room_field("LevelOrFloor").first["LevelOrFloor"]["FieldList"]] == [
            "Basement",
            "Main",
            "Upper",
        ]
        assert spark.unit_fields(mls_id="20000426143505724628000000").first == units
        assert "unit_nbr" in spark.unit_field("unit_nbr").first
        with pytest.raises(SparkNotFound):
            spark.room_field("NoSuchRoomField")


def test_listing_rules(spark_target, spark):
    rules = spark.listing_rules("A").results
    assert all({"Field", "Action", "Expression"} <= set(rule) for rule in rules)
    assert "SET_REQUIRED" in spark.listing_rules_meta().first["Action"]
    if spark_target.is_sandbox:
        assert {"Field": "PropertySubType", "Action": "SET_REQUIRED"}.items() <= next(
            rule for rule in rules if rule["Field"] == "PropertySubType"
        ).items()


def test_names_are_path_segments():
    assert path_segment("Garage Stalls") == "Garage%20Stalls"
    assert path_segment("a/b") == "a%2Fb"
    with pytest.raises(ValueError):
        path_segment(" ")
