"""The data migration to the MLS's values: sub-type codes, state codes, lot acres; nothing lost."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from drafts.models import Draft
from tests.factories import DraftFactory

migration = importlib.import_module("drafts.migrations.0007_values_in_the_mls_codes")


def migrate() -> None:
    migration.to_mls_values(apps, None)


def test_old_sub_type_codes_become_the_mls_codes_and_unknown_ones_stay(db, agent):
    condo = DraftFactory(list_agent=agent, property_sub_type="CONDO")
    townhouse = DraftFactory(list_agent=agent, property_sub_type="TWNHS")
    duplex = DraftFactory(list_agent=agent, property_type="B", property_sub_type="DUPLEX")
    rental = DraftFactory(list_agent=agent, property_type="F", property_sub_type="APT")
    unknown = DraftFactory(list_agent=agent, property_sub_type="YURT")
    already = DraftFactory(list_agent=agent, property_sub_type="SF")
    seq = {draft.pk: draft.change_seq for draft in Draft.objects.all()}

    migrate()

    codes = dict(Draft.objects.values_list("pk", "property_sub_type"))
    assert (codes[condo.pk], codes[townhouse.pk], codes[duplex.pk], codes[rental.pk]) == (
        "CN",
        "TH",
        "DU",
        "AR",
    )
    assert codes[unknown.pk] == "YURT" and codes[already.pk] == "SF"
    # What changed goes to the MLS again; what did not, does not.
    after = dict(Draft.objects.values_list("pk", "change_seq"))
    assert after[condo.pk] == seq[condo.pk] + 1 and after[already.pk] == seq[already.pk]


def test_the_mls_list_when_read_decides_by_name(db, agent):
    mls_list = [
        {"Value": "S", "Name": "Single Family", "Applies To": ["A"]},
        {"Value": "C", "Name": "Condominium", "Applies To": ["A"]},
        {"Value": "D", "Name": "Duplex", "Applies To": ["B"]},
    ]

    assert migration.sub_type_code("A", "CONDO", mls_list) == "C"
    assert migration.sub_type_code("A", "c", mls_list) == "C"
    assert migration.sub_type_code("A", "DUPLEX", mls_list) == "DUPLEX"  # not a Residential one
    assert migration.sub_type_code("B", "DUPLEX", mls_list) == "D"
    assert migration.sub_type_code("A", "MOBILE", mls_list) == "MOBILE"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("nd", "ND"), ("North Dakota", "ND"), ("minnesota", "MN"), ("N. Dakota", "N. Dakota"), ("ND", "ND")],
)
def test_state_names_become_codes_where_unambiguous(typed, kept):
    assert migration.state_code(typed) == kept


def test_full_state_names_stored_before_are_migrated(db, agent):
    # SQLite does not enforce the column's two characters: such values may exist there only.
    if connection.vendor != "sqlite":
        pytest.skip("the database holds the column to two characters")
    draft = DraftFactory(list_agent=agent)
    Draft.objects.filter(pk=draft.pk).update(state_or_province="North Dakota")

    migrate()

    assert Draft.objects.get(pk=draft.pk).state_or_province == "ND"


def test_lot_size_acres_becomes_the_mls_standard_field_and_other_custom_fields_stay(db, agent):
    land = DraftFactory(
        list_agent=agent,
        property_type="C",
        property_sub_type="RESLOT",
        custom_fields={"Lot": {"Lot Size Acres": "0.42", "Zoning": "R-1"}, "Lease": {"Lease Term": "12"}},
    )
    vague = DraftFactory(list_agent=agent, custom_fields={"Lot": {"Lot Size Acres": "about half"}})

    migrate()

    land = Draft.objects.get(pk=land.pk)
    assert land.standard_fields_extra == {"LotSizeAcres": 0.42}
    assert land.custom_fields == {"Lot": {"Zoning": "R-1"}, "Lease": {"Lease Term": "12"}}
    assert land.property_sub_type == "RL"
    assert Draft.objects.get(pk=vague.pk).custom_fields == {"Lot": {"Lot Size Acres": "about half"}}
