"""Listing rules: what a draft must hold before it can be published, per property type.

Shaped like Spark's listing rules (`/v1/listings/rules/propertytypes/{code}`): each rule
names a property type set, a domain (StandardFields or CustomFields), a field, an action
and a status. Spark's "Fatal" is our ERROR: it blocks promotion. WARNING is shown and
never blocks; nothing here ever blocks *saving* a draft (the remote accepts incomplete
listings with warnings too).

The table is data: add a rule by adding a `Rule(...)` line to RULES.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .fields import SPARK_TO_FIELD, PropertyType

if TYPE_CHECKING:
    from .models import Draft


class Severity(StrEnum):
    ERROR = "error"  # Spark "Fatal": blocks promotion
    WARNING = "warning"


class Action(StrEnum):
    REQUIRED = "SET_REQUIRED"
    RANGE = "RANGE"
    LENGTH = "LENGTH"
    PICKLIST = "PICKLIST"
    PATTERN = "PATTERN"
    CHECK = "CHECK"  # a cross-field check, named in CHECKS


ALL_TYPES: frozenset[str] = frozenset(PropertyType.values)
HOMES = frozenset({PropertyType.RESIDENTIAL, PropertyType.MULTI_FAMILY, PropertyType.RENTAL})
LAND_AND_FARM = frozenset({PropertyType.LAND, PropertyType.FARM})
CUSTOM_FIELDS = "custom_fields"

US_STATES_AND_PROVINCES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
        "AB",
        "BC",
        "MB",
        "NB",
        "NL",
        "NS",
        "NT",
        "NU",
        "ON",
        "PE",
        "QC",
        "SK",
        "YT",
    ]
)

# PropertySubType picklists per property type (Spark restricts them with RESTRICT_PICKLIST).
SUB_TYPES: dict[str, dict[str, str]] = {
    "A": {"SF": "Single family", "CONDO": "Condominium", "TWNHS": "Townhouse", "MOBILE": "Manufactured"},
    "B": {"DUPLEX": "Duplex", "TRIPLEX": "Triplex", "FOURPLEX": "Fourplex", "APTS": "5+ units"},
    "C": {"RESLOT": "Residential lot", "COMMLOT": "Commercial lot", "ACREAGE": "Acreage"},
    "D": {"RETAIL": "Retail", "OFFICE": "Office", "INDUST": "Industrial", "MIXED": "Mixed use"},
    "E": {"CROP": "Cropland", "LIVESTOCK": "Livestock", "HOBBY": "Hobby farm"},
    "F": {"HOUSE": "House", "APT": "Apartment", "TWNHS": "Townhouse", "SF": "Single family"},
}


def _this_year_plus(years: int) -> Callable[[], int]:
    return lambda: timezone.localdate().year + years


@dataclass(frozen=True)
class Rule:
    id: str
    field: str  # Spark StandardFields name, or a custom field's name for CustomFields
    action: Action
    severity: Severity
    message: str
    property_types: frozenset[str] = ALL_TYPES
    domain: str = "StandardFields"
    minimum: Any = None  # a number, or a callable returning one (e.g. this year + 2)
    maximum: Any = None
    pattern: str = ""
    allowed: frozenset[str] = frozenset()
    check: str = ""
    also: tuple[str, ...] = ()  # other Spark fields a cross-field message is shown next to

    def applies_to(self, property_type: str) -> bool:
        return property_type in self.property_types


@dataclass(frozen=True)
class RuleResult:
    """One rule a draft does not meet (`evaluate` returns only those)."""

    rule_id: str
    field: str  # the draft's field name (custom fields: "custom_fields")
    spark_field: str
    severity: Severity
    message: str
    also: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR

    @property
    def fields(self) -> tuple[str, ...]:
        """Every draft field the message belongs next to."""
        return (self.field, *self.also)


# --- Cross-field checks: draft -> passes? (None when they do not apply) ---


def _baths_add_up(draft: Draft) -> bool | None:
    parts = (draft.baths_full, draft.baths_three_quarter, draft.baths_half)
    if draft.baths_total is None or all(part is None for part in parts):
        return None
    return draft.baths_total == sum(part or 0 for part in parts)


def _full_baths_within_total(draft: Draft) -> bool | None:
    if draft.baths_total is None or draft.baths_full is None:
        return None
    return draft.baths_full <= draft.baths_total


def _coordinates_paired(draft: Draft) -> bool | None:
    return (draft.latitude is None) == (draft.longitude is None)


def _land_has_no_bedrooms(draft: Draft) -> bool | None:
    return None if draft.beds_total is None else draft.beds_total == 0


CHECKS: dict[str, Callable[[Draft], bool | None]] = {
    "baths_add_up": _baths_add_up,
    "full_baths_within_total": _full_baths_within_total,
    "coordinates_paired": _coordinates_paired,
    "land_has_no_bedrooms": _land_has_no_bedrooms,
}

E, W = Severity.ERROR, Severity.WARNING

RULES: tuple[Rule, ...] = (
    # Where it is.
    Rule(
        "addr-number",
        "StreetNumber",
        Action.REQUIRED,
        E,
        "Street number is required.",
        ALL_TYPES - LAND_AND_FARM,
    ),
    Rule(
        "addr-number-land",
        "StreetNumber",
        Action.REQUIRED,
        W,
        "Add a street number if the parcel has one.",
        LAND_AND_FARM,
    ),
    Rule("addr-street", "StreetName", Action.REQUIRED, E, "Street name is required."),
    Rule("addr-city", "City", Action.REQUIRED, E, "City is required."),
    Rule("addr-state", "StateOrProvince", Action.REQUIRED, E, "State is required."),
    Rule(
        "addr-state-valid",
        "StateOrProvince",
        Action.PICKLIST,
        E,
        "Use a two-letter state or province code, such as ND or MN.",
        allowed=US_STATES_AND_PROVINCES,
    ),
    Rule("addr-zip", "PostalCode", Action.REQUIRED, E, "Postal code is required."),
    Rule(
        "addr-zip-format",
        "PostalCode",
        Action.PATTERN,
        E,
        "Postal code must look like 58103, 58103-1234 or A1A 1A1.",
        pattern=r"\d{5}(-\d{4})?|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d",
    ),
    Rule("addr-county", "CountyOrParish", Action.REQUIRED, W, "County helps buyers' searches."),
    Rule(
        "geo-lat-range",
        "Latitude",
        Action.RANGE,
        E,
        "Latitude must be between -90 and 90.",
        minimum=-90,
        maximum=90,
    ),
    Rule(
        "geo-lon-range",
        "Longitude",
        Action.RANGE,
        E,
        "Longitude must be between -180 and 180.",
        minimum=-180,
        maximum=180,
    ),
    Rule(
        "geo-pair",
        "Latitude",
        Action.CHECK,
        E,
        "Give both latitude and longitude, or neither.",
        check="coordinates_paired",
        also=("Longitude",),
    ),
    Rule(
        "geo-present",
        "Latitude",
        Action.REQUIRED,
        W,
        "Add coordinates to place the listing on the map and find nearby drafts.",
        also=("Longitude",),
    ),
    # What it is.
    Rule("type-required", "PropertyType", Action.REQUIRED, E, "Property type is required."),
    Rule("subtype-required", "PropertySubType", Action.REQUIRED, W, "Choose a property sub-type."),
    *(
        Rule(
            f"subtype-list-{code}",
            "PropertySubType",
            Action.PICKLIST,
            E,
            f"Not a sub-type of {label}: use one of {', '.join(SUB_TYPES[code])}.",
            frozenset({code}),
            allowed=frozenset(SUB_TYPES[code]),
        )
        for code, label in PropertyType.choices
    ),
    Rule(
        "year-built-max",
        "YearBuilt",
        Action.RANGE,
        E,
        "Year built cannot be more than two years ahead.",
        maximum=_this_year_plus(2),
    ),
    Rule(
        "year-built-min",
        "YearBuilt",
        Action.RANGE,
        W,
        "Year built before 1800: please check it.",
        minimum=1800,
    ),
    Rule(
        "year-built-required", "YearBuilt", Action.REQUIRED, W, "Year built is expected for buildings.", HOMES
    ),
    Rule(
        "area-required-commercial",
        "BuildingAreaTotal",
        Action.REQUIRED,
        E,
        "Building area is required for commercial listings.",
        frozenset({"D"}),
    ),
    Rule("area-required-homes", "BuildingAreaTotal", Action.REQUIRED, W, "Add the building area.", HOMES),
    Rule(
        "area-plausible",
        "BuildingAreaTotal",
        Action.RANGE,
        W,
        "Building area under 100 sq ft: please check.",
        ALL_TYPES - LAND_AND_FARM,
        minimum=100,
    ),
    Rule(
        "lot-acres-required",
        "Lot Size Acres",
        Action.REQUIRED,
        E,
        'Add a custom field "Lot Size Acres" for land and farm listings.',
        LAND_AND_FARM,
        domain="CustomFields",
    ),
    Rule(
        "lot-acres-range",
        "Lot Size Acres",
        Action.RANGE,
        E,
        "Lot Size Acres must be a number above 0.",
        LAND_AND_FARM,
        domain="CustomFields",
        minimum=Decimal("0.001"),
        maximum=1_000_000,
    ),
    Rule(
        "farm-tillable",
        "Tillable Acres",
        Action.REQUIRED,
        W,
        'Add "Tillable Acres" for farm listings.',
        frozenset({"E"}),
        domain="CustomFields",
    ),
    Rule(
        "rental-lease-term",
        "Lease Term",
        Action.REQUIRED,
        W,
        'Add "Lease Term" (e.g. 12 months) for rentals.',
        frozenset({"F"}),
        domain="CustomFields",
    ),
    # Price.
    Rule("price-required", "ListPrice", Action.REQUIRED, E, "List price is required."),
    Rule(
        "price-range",
        "ListPrice",
        Action.RANGE,
        E,
        "List price must be between 1 and 100,000,000.",
        minimum=1,
        maximum=100_000_000,
    ),
    Rule(
        "price-low",
        "ListPrice",
        Action.RANGE,
        W,
        "A price under 10,000 is unusual for a sale: please check.",
        ALL_TYPES - {"F"},
        minimum=10_000,
    ),
    Rule(
        "rent-high",
        "ListPrice",
        Action.RANGE,
        W,
        "Rentals are priced per month: over 50,000 looks wrong.",
        frozenset({"F"}),
        maximum=50_000,
    ),
    # Rooms.
    Rule(
        "beds-required",
        "BedsTotal",
        Action.REQUIRED,
        E,
        "Bedrooms are required for this property type.",
        HOMES,
    ),
    Rule(
        "baths-required",
        "BathsTotal",
        Action.REQUIRED,
        E,
        "Total baths are required for this property type.",
        HOMES,
    ),
    Rule("beds-range", "BedsTotal", Action.RANGE, W, "More than 50 bedrooms: please check.", maximum=50),
    Rule("baths-range", "BathsTotal", Action.RANGE, W, "More than 50 baths: please check.", maximum=50),
    Rule(
        "baths-sum",
        "BathsTotal",
        Action.CHECK,
        E,
        "Total baths must equal full + three-quarter + half baths.",
        check="baths_add_up",
        also=("BathsFull", "BathsThreeQuarter", "BathsHalf"),
    ),
    Rule(
        "baths-full-max",
        "BathsFull",
        Action.CHECK,
        E,
        "Full baths cannot exceed total baths.",
        check="full_baths_within_total",
        also=("BathsTotal",),
    ),
    Rule(
        "land-no-beds",
        "BedsTotal",
        Action.CHECK,
        W,
        "Land listings usually have no bedrooms.",
        frozenset({"C"}),
        check="land_has_no_bedrooms",
    ),
    # Remarks.
    Rule("remarks-required", "PublicRemarks", Action.REQUIRED, E, "Public remarks are required."),
    Rule(
        "remarks-max",
        "PublicRemarks",
        Action.LENGTH,
        E,
        "Public remarks must be 4,000 characters or fewer.",
        maximum=4000,
    ),
    Rule(
        "remarks-short",
        "PublicRemarks",
        Action.LENGTH,
        W,
        "Public remarks under 100 characters: buyers like more detail.",
        minimum=100,
    ),
    Rule(
        "private-remarks-max",
        "PrivateRemarks",
        Action.LENGTH,
        E,
        "Private remarks must be 4,000 characters or fewer.",
        maximum=4000,
    ),
)

PUBLIC_REMARKS_MAX = 4000


def _bound(value: Any) -> Any:
    return value() if callable(value) else value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def custom_field_value(draft: Draft, name: str) -> Any:
    """A custom field's value by name, in any group (names compared case-insensitively)."""
    wanted = name.casefold()
    for fields in (draft.custom_fields or {}).values():
        if isinstance(fields, dict):
            for key, value in fields.items():
                if str(key).casefold() == wanted:
                    return value
    return None


def _value_of(rule: Rule, draft: Draft) -> Any:
    if rule.domain == "CustomFields":
        return custom_field_value(draft, rule.field)
    return getattr(draft, SPARK_TO_FIELD[rule.field])


def _as_number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None


def _passes(rule: Rule, draft: Draft) -> bool | None:
    """True/False when the rule applies to what the draft holds, None when it says nothing."""
    if rule.action == Action.CHECK:
        return CHECKS[rule.check](draft)
    value = _value_of(rule, draft)
    if rule.action == Action.REQUIRED:
        if rule.also:
            return not _empty(value) and all(
                not _empty(getattr(draft, SPARK_TO_FIELD[other])) for other in rule.also
            )
        return not _empty(value)
    if _empty(value):
        return None  # the REQUIRED rule, if any, speaks for an empty field
    if rule.action == Action.RANGE:
        number = _as_number(value)
        if number is None:
            return False
        low, high = _bound(rule.minimum), _bound(rule.maximum)
        return (low is None or number >= Decimal(str(low))) and (high is None or number <= Decimal(str(high)))
    if rule.action == Action.LENGTH:
        length = len(str(value))
        low, high = _bound(rule.minimum), _bound(rule.maximum)
        return (low is None or length >= low) and (high is None or length <= high)
    if rule.action == Action.PICKLIST:
        return str(value).upper() in rule.allowed
    if rule.action == Action.PATTERN:
        return re.fullmatch(rule.pattern, str(value).strip()) is not None
    raise ValueError(f"Unknown rule action {rule.action}")


def _result(rule: Rule) -> RuleResult:
    if rule.domain == "CustomFields":
        field, also = CUSTOM_FIELDS, ()
    else:
        field, also = SPARK_TO_FIELD[rule.field], tuple(SPARK_TO_FIELD[name] for name in rule.also)
    return RuleResult(rule.id, field, rule.field, rule.severity, rule.message, also)


def _outcomes(draft: Draft) -> list[tuple[Rule, bool]]:
    outcomes = []
    for rule in RULES:
        if rule.applies_to(draft.property_type):
            passed = _passes(rule, draft)
            if passed is not None:
                outcomes.append((rule, passed))
    return outcomes


def evaluate(draft: Draft) -> list[RuleResult]:
    """The rules `draft` does not meet, errors first, in the table's order. No queries."""
    failed = [_result(rule) for rule, passed in _outcomes(draft) if not passed]
    return sorted(failed, key=lambda result: not result.is_error)


WEIGHTS = {Severity.ERROR: 3, Severity.WARNING: 1}


def readiness(draft: Draft) -> tuple[int, list[RuleResult], list[RuleResult]]:
    """(percent ready, errors, warnings).

    The percent weighs the rules that say something about this draft (errors three times
    a warning); it is 100 only with no errors and no warnings.
    """
    outcomes = _outcomes(draft)
    total = sum(WEIGHTS[rule.severity] for rule, _ in outcomes)
    met = sum(WEIGHTS[rule.severity] for rule, passed in outcomes if passed)
    failed = [_result(rule) for rule, passed in outcomes if not passed]
    errors = [result for result in failed if result.is_error]
    warnings = [result for result in failed if not result.is_error]
    percent = 100 if total == 0 else met * 100 // total
    if failed and percent == 100:
        percent = 99
    return percent, errors, warnings


def blocking_errors(draft: Draft) -> list[RuleResult]:
    """What stops promotion: the ERROR-severity rules the draft does not meet."""
    return [result for result in evaluate(draft) if result.is_error]


def by_field(results: list[RuleResult]) -> dict[str, list[RuleResult]]:
    """Results keyed by every draft field they belong next to."""
    grouped: dict[str, list[RuleResult]] = {}
    for result in results:
        for field in result.fields:
            grouped.setdefault(field, []).append(result)
    return grouped


def sub_type_choices(property_type: str) -> dict[str, str]:
    return SUB_TYPES.get(property_type, {})
