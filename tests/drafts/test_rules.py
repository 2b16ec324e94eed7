"""Listing rules: severities per property type, ranges, formats and cross-field checks.

These judge with the fixed table (`RuleBook.fixed()`), as before the MLS's lists are read;
the MLS's own rules are tested in test_rules_from_metadata.py."""

from decimal import Decimal

import pytest
from django.utils import timezone

from drafts import rules
from drafts.models import Draft
from tests.factories import DraftFactory

COMPLETE_HOME = {
    "property_type": "A",
    "property_sub_type": "SF",
    "list_price": Decimal("289900"),
    "street_number": "611",
    "street_name": "8th",
    "city": "Fargo",
    "state_or_province": "ND",
    "postal_code": "58103",
    "county_or_parish": "Cass",
    "latitude": 46.8676,
    "longitude": -96.789,
    "year_built": 1928,
    "building_area_total": 1850,
    "beds_total": 3,
    "baths_total": 2,
    "baths_full": 1,
    "baths_three_quarter": 1,
    "baths_half": 0,
    "public_remarks": "A" * 150,
}


FIXED = rules.RuleBook.fixed()


def home(**changes) -> Draft:
    """An unsaved draft: the rules never touch the database."""
    return Draft(**{**COMPLETE_HOME, **changes})


def ids(draft: Draft) -> dict[str, str]:
    return {result.rule_id: result.severity for result in rules.evaluate(draft, FIXED)}


def test_a_complete_residential_draft_meets_every_rule():
    assert rules.evaluate(home(), FIXED) == []
    assert rules.readiness(home(), FIXED) == (100, [], [])
    assert rules.blocking_errors(home(), FIXED) == []


def test_rules_make_no_queries(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        rules.readiness(home(property_type="C", beds_total=None), FIXED)


@pytest.mark.parametrize("property_type", ["A", "B", "F"])
def test_bedrooms_and_baths_are_errors_for_homes(property_type):
    found = ids(
        home(
            property_type=property_type,
            property_sub_type="",
            beds_total=None,
            baths_total=None,
            baths_full=None,
            baths_three_quarter=None,
            baths_half=None,
        )
    )

    assert found["beds-required"] == rules.Severity.ERROR
    assert found["baths-required"] == rules.Severity.ERROR


@pytest.mark.parametrize("property_type", ["C", "D", "E"])
def test_bedrooms_and_baths_are_not_required_for_land_commercial_farm(property_type):
    found = ids(
        home(
            property_type=property_type,
            beds_total=None,
            baths_total=None,
            baths_full=None,
            baths_three_quarter=None,
            baths_half=None,
        )
    )

    assert "beds-required" not in found
    assert "baths-required" not in found


def test_land_with_bedrooms_is_only_a_warning():
    found = ids(
        home(property_type="C", property_sub_type="RESLOT", custom_fields={"Lot": {"Lot Size Acres": "1"}})
    )

    assert found["land-no-beds"] == rules.Severity.WARNING
    assert not [rule for rule, severity in found.items() if severity == rules.Severity.ERROR]


@pytest.mark.parametrize("property_type", ["C", "E"])
def test_land_and_farm_need_lot_acres_as_a_custom_field(property_type):
    missing = ids(home(property_type=property_type))
    present = ids(home(property_type=property_type, custom_fields={"Lot": {"lot size acres": "2.5"}}))
    nonsense = ids(home(property_type=property_type, custom_fields={"Lot": {"Lot Size Acres": "big"}}))

    assert missing["lot-acres-required"] == rules.Severity.ERROR
    assert "lot-acres-required" not in present and "lot-acres-range" not in present
    assert nonsense["lot-acres-range"] == rules.Severity.ERROR
    assert "lot-acres-required" not in ids(home(property_type="A"))


def test_a_land_parcel_without_a_street_number_is_only_warned():
    assert ids(home(property_type="C", street_number=""))["addr-number-land"] == rules.Severity.WARNING
    assert ids(home(street_number=""))["addr-number"] == rules.Severity.ERROR


def test_commercial_needs_its_building_area():
    assert ids(home(property_type="D", building_area_total=None))["area-required-commercial"] == "error"
    assert ids(home(building_area_total=None))["area-required-homes"] == "warning"


@pytest.mark.parametrize(
    ("baths", "broken"),
    [
        ({"baths_total": 3, "baths_full": 2, "baths_three_quarter": 0, "baths_half": 1}, set()),
        ({"baths_total": 2, "baths_full": 2, "baths_three_quarter": None, "baths_half": 1}, {"baths-sum"}),
        (
            {"baths_total": 1, "baths_full": 2, "baths_three_quarter": None, "baths_half": None},
            {"baths-sum", "baths-full-max"},
        ),
        ({"baths_total": 2, "baths_full": None, "baths_three_quarter": None, "baths_half": None}, set()),
    ],
)
def test_baths_total_is_the_sum_of_its_parts(baths, broken):
    found = ids(home(**baths))

    assert {rule for rule in found if rule.startswith("baths-")} == broken


def test_a_cross_field_message_belongs_next_to_every_field_it_names():
    result = next(r for r in rules.evaluate(home(baths_total=5), FIXED) if r.rule_id == "baths-sum")

    assert result.fields == ("baths_total", "baths_full", "baths_three_quarter", "baths_half")
    assert set(rules.by_field([result])) == set(result.fields)


def test_year_built_may_be_at_most_two_years_ahead():
    year = timezone.localdate().year

    assert "year-built-max" not in ids(home(year_built=year + 2))
    assert ids(home(year_built=year + 3))["year-built-max"] == rules.Severity.ERROR
    assert ids(home(year_built=1700))["year-built-min"] == rules.Severity.WARNING


@pytest.mark.parametrize(
    ("postal_code", "valid"),
    [
        ("58103", True),
        ("58103-1234", True),
        ("R3C 4T3", True),
        ("5810", False),
        ("58103-12", False),
        ("ABCDE", False),
    ],
)
def test_postal_code_format(postal_code, valid):
    assert ("addr-zip-format" not in ids(home(postal_code=postal_code))) is valid


def test_state_must_be_a_two_letter_code():
    # Which codes exist is the MLS's list (test_rules_from_metadata.py): ours only the shape.
    assert ids(home(state_or_province="N1"))["addr-state-valid"] == rules.Severity.ERROR
    assert "addr-state-valid" not in ids(home(state_or_province="mn"))


def test_coordinates_come_in_pairs():
    assert ids(home(longitude=None))["geo-pair"] == rules.Severity.ERROR
    neither = ids(home(latitude=None, longitude=None))
    assert "geo-pair" not in neither
    assert neither["geo-present"] == rules.Severity.WARNING


def test_coordinates_out_of_range_are_errors():
    assert ids(home(latitude=95.0))["geo-lat-range"] == rules.Severity.ERROR
    assert ids(home(longitude=-181.0))["geo-lon-range"] == rules.Severity.ERROR


def test_public_remarks_length():
    assert ids(home(public_remarks="x" * 4001))["remarks-max"] == rules.Severity.ERROR
    assert ids(home(public_remarks="Nice house."))["remarks-short"] == rules.Severity.WARNING
    assert ids(home(public_remarks=""))["remarks-required"] == rules.Severity.ERROR


def test_price_range_and_plausibility_per_type():
    assert ids(home(list_price=Decimal("0")))["price-range"] == rules.Severity.ERROR
    assert ids(home(list_price=Decimal("5000")))["price-low"] == rules.Severity.WARNING
    rental = ids(
        home(
            property_type="F",
            property_sub_type="APT",
            list_price=Decimal("1150"),
            custom_fields={"Lease": {"Lease Term": "12 months"}},
        )
    )
    assert rental == {}
    assert ids(home(property_type="F", list_price=Decimal("60000")))["rent-high"] == rules.Severity.WARNING


def test_warnings_never_block_but_errors_do():
    warned = home(public_remarks="Short.", county_or_parish="")
    broken = home(beds_total=None)

    percent, errors, warnings = rules.readiness(warned, FIXED)
    assert errors == [] and {w.rule_id for w in warnings} == {"remarks-short", "addr-county"}
    assert rules.blocking_errors(warned, FIXED) == []
    assert 0 < percent < 100
    assert [r.rule_id for r in rules.blocking_errors(broken, FIXED)] == ["beds-required"]


def test_evaluate_lists_errors_first():
    results = rules.evaluate(home(beds_total=None, county_or_parish=""), FIXED)

    assert [r.is_error for r in results] == sorted((r.is_error for r in results), reverse=True)


def test_an_empty_draft_is_far_from_ready(agent):
    draft = DraftFactory.build(
        list_agent=agent,
        office=agent.office,
        list_price=None,
        street_number="",
        street_name="",
        city="",
        state_or_province="",
        postal_code="",
        property_sub_type="",
    )

    percent, errors, _ = rules.readiness(draft, FIXED)

    assert percent < 25
    assert {"price-required", "addr-street", "addr-city", "beds-required"} <= {e.rule_id for e in errors}


def test_every_rule_names_a_real_field_and_a_known_check():
    from drafts.fields import SPARK_TO_FIELD

    for rule in rules.RULES:
        if rule.domain == "StandardFields":
            assert rule.field in SPARK_TO_FIELD, rule.id
            assert all(name in SPARK_TO_FIELD for name in rule.also), rule.id
        if rule.action == rules.Action.CHECK:
            assert rule.check in rules.CHECKS, rule.id
    assert len({rule.id for rule in rules.RULES}) == len(rules.RULES)
