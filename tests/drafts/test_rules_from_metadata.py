"""The MLS's listing rules judge the draft once its metadata is read: required fields, ranges
and accepted values from the rules' expressions, values in the MLS's lists; our own checks come
on top, marked as ours. Messages are ours, in plain words that name the field."""

import datetime as dt
from decimal import Decimal

import pytest

from drafts import rules
from drafts.models import Draft
from mls import metadata
from tests.mls.sync_support import memory_broker, sync_env  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

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


def home(**changes) -> Draft:
    return Draft(**{**COMPLETE_HOME, **changes})


@pytest.fixture
def book(sync_env):  # noqa: F811 (the fixture imported above)
    assert not metadata.refresh().failed
    return rules.RuleBook()


def messages(draft: Draft, book: rules.RuleBook) -> dict[str, tuple[str, bool, str]]:
    """message -> (severity, ours, the field it sits next to)."""
    return {r.message: (r.severity, r.ours, r.field) for r in rules.evaluate(draft, book)}


def test_a_complete_home_meets_the_mls_rules_and_ours(book):
    assert rules.readiness(home(), book) == (100, [], [])


def test_required_fields_come_from_the_mls_rules(book):
    found = messages(home(year_built=None, beds_total=None), book)

    assert found["Year Built is required."] == (rules.Severity.ERROR, False, "year_built")
    assert found["Bedrooms is required."] == (rules.Severity.ERROR, False, "beds_total")
    # Land: the MLS requires lot acres (a field without a column), not bedrooms.
    land = messages(home(property_type="C", property_sub_type="RL", beds_total=None), book)
    assert land["Lot Acres is required."] == (rules.Severity.ERROR, False, "std-LotSizeAcres")
    assert "Bedrooms is required." not in land
    assert not rules.blocking_errors(
        home(property_type="C", property_sub_type="RL", standard_fields_extra={"LotSizeAcres": 0.5}), book
    )


def test_ranges_and_accepted_values_come_from_the_rules_expressions(book):
    top = dt.date.today().year + 2
    assert f"Year Built must be between 1700 and {top}." in messages(home(year_built=1600), book)
    assert "List Price must be more than 0." in messages(home(list_price=Decimal("0")), book)
    assert "Zip Code must be 5 digits or 5 digits, a dash and 4 digits." in messages(
        home(postal_code="5810"), book
    )
    assert not any("Zip Code" in text for text in messages(home(postal_code="58103-1234"), book))
    # The MLS serves four states: its rule names them by the list's names, never the codes.
    found = messages(home(state_or_province="CA"), book)
    assert found["State: choose one of North Dakota, Minnesota, South Dakota or Montana."][1] is False


def test_values_must_be_in_the_mls_list_for_the_property_type(book):
    found = messages(home(property_sub_type="CONDO"), book)
    assert found["Property Sub-Type: “CONDO” is not in the MLS's list. Choose one from the list."] == (
        rules.Severity.ERROR,
        False,
        "property_sub_type",
    )
    assert not messages(home(property_sub_type="CN"), book)
    # Multi Family's duplex is not a Residential sub-type.
    assert "Property Sub-Type: “DU” is not in the MLS's list. Choose one from the list." in messages(
        home(property_sub_type="DU"), book
    )
    several = home(custom_fields={"Features": {"Heating": ["Forced Air", "Coal"]}})
    assert "Heating: “Coal” is not in the MLS's list. Choose one from the list." in messages(several, book)


def test_our_checks_come_on_top_marked_as_ours_and_only_warn(book):
    found = messages(home(baths_total=5), book)

    assert found["Total baths must equal full + three-quarter + half baths."] == (
        rules.Severity.WARNING,
        True,
        "baths_total",
    )
    assert rules.blocking_errors(home(baths_total=5), book) == []
    # The MLS refuses remarks over 4,000 characters: that check of ours still blocks.
    assert [r.rule_id for r in rules.blocking_errors(home(public_remarks="x" * 4001), book)] == [
        "remarks-max"
    ]


def test_a_book_reads_the_metadata_once(book, django_assert_num_queries):
    rules.readiness(home(), book)
    with django_assert_num_queries(0):
        for _ in range(3):
            rules.readiness(home(year_built=None), book)


def test_the_editor_says_which_checks_are_ours(book, client, agent):
    from django.urls import reverse

    from tests.factories import DraftFactory

    draft = DraftFactory(list_agent=agent, year_built=None, beds_total=3, baths_total=5, baths_full=2)
    client.force_login(agent)

    body = client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()

    assert '<span class="rule-source">Our check:</span> Total baths must equal' in body
    assert "Year Built is required." in body  # the MLS's rule, in our words
    assert "Our check:</span> Year Built" not in body


@pytest.mark.parametrize(
    ("rule", "understood"),
    [
        (
            {
                "Field": "YearBuilt",
                "Action": "REJECT",
                "Expression": "YearBuilt Lt 1700 Or YearBuilt Gt 2028",
            },
            True,
        ),
        ({"Field": "ListPrice", "Action": "REJECT", "Expression": "ListPrice Le 0"}, True),
        ({"Field": "City", "Action": "SET_REQUIRED", "Expression": ".TRUE."}, True),
        ({"Field": "City", "Action": "SET_DEFAULT", "Expression": "'Fargo'"}, False),
        ({"Field": "ListPrice", "Action": "REJECT", "Expression": "ListPrice Gt YearBuilt"}, False),
        (
            {
                "Field": "City",
                "Action": "SET_REQUIRED",
                "Expression": ".TRUE.",
                "ApprovalStatus": "In Review",
            },
            False,
        ),
    ],
)
def test_rules_this_portal_does_not_understand_are_left_to_the_mls(rule, understood):
    assert (rules.MlsRule.parse(rule) is not None) is understood
