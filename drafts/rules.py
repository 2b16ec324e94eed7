"""Listing rules: what a draft must hold before it can be published, per property type.

Once the MLS's metadata has been read (mls/metadata.py), the MLS's own listing rules judge
the draft (`/v1/listings/rules/propertytypes/{code}`: SET_REQUIRED, and REJECT expressions
such as `YearBuilt Lt 1700 Or YearBuilt Gt 2028` or `Not PostalCode Eq '#####','#####-####'`),
and every value of a field with a list must be in the MLS's list for the property type. Our
own checks (PORTAL_CHECKS: what the MLS does not check, such as baths adding up) come on top,
marked as ours (`RuleResult.ours`, "Our check:" on the page). Before the MLS's lists were ever
read, the fixed table RULES (ours too) judges instead.

Spark's "Fatal" is our ERROR: it blocks promotion. WARNING is shown and never blocks; nothing
here ever blocks *saving* a draft (the remote accepts incomplete listings with warnings too).
Messages are ours, in plain words that name the field, never the MLS's codes.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from . import layout as mls_layout
from .fields import SPARK_TO_FIELD, PropertyType

if TYPE_CHECKING:
    from .models import Draft

logger = logging.getLogger(__name__)


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
    # Our own check (the MLS's rules do not make it): the page says so.
    ours: bool = True
    # A required field left empty: the editor shows it once the field was left or a submit
    # was tried, not on a blank form (a value that is wrong shows at once).
    missing: bool = False

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
        Action.PATTERN,
        E,
        "State: use the two-letter code, such as ND or MN.",
        pattern=r"[A-Za-z]{2}",
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

# Our checks that stay once the MLS's rules judge the draft: what the MLS does not check. They
# warn (the MLS would take the listing), except the remarks' length, which the MLS refuses.
KEPT_WITH_THE_MLS = (
    "geo-pair",
    "geo-present",
    "addr-county",
    "year-built-min",
    "area-plausible",
    "price-low",
    "rent-high",
    "beds-range",
    "baths-range",
    "baths-sum",
    "baths-full-max",
    "land-no-beds",
    "remarks-required",
    "remarks-short",
    "remarks-max",
    "private-remarks-max",
)
STILL_ERRORS = frozenset({"remarks-max", "private-remarks-max"})
PORTAL_CHECKS: tuple[Rule, ...] = tuple(
    replace(rule, severity=rule.severity if rule.id in STILL_ERRORS else Severity.WARNING)
    for rule in RULES
    if rule.id in KEPT_WITH_THE_MLS
)


def _bound(value: Any) -> Any:
    return value() if callable(value) else value


def _empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def custom_field_value(draft: Draft, name: str) -> Any:
    """A custom field's value by name, in any group (names compared case-insensitively)."""
    return mls_layout.custom_value(draft.custom_fields, name)


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


@functools.cache
def _result(rule: Rule) -> RuleResult:
    """A rule's result (the same for every draft: rules and results are frozen)."""
    if rule.domain == "CustomFields":
        field, also = CUSTOM_FIELDS, ()
    else:
        field, also = SPARK_TO_FIELD[rule.field], tuple(SPARK_TO_FIELD[name] for name in rule.also)
    return RuleResult(
        rule.id, field, rule.field, rule.severity, rule.message, also, missing=rule.action == Action.REQUIRED
    )


# --- The MLS's rules, read from its metadata ---------------------------------------------------

_COMPARISON = re.compile(r"^(\w+) (Lt|Le|Gt|Ge) (-?\d+(?:\.\d+)?)$")
_NOT_ONE_OF = re.compile(r"^Not (\w+) Eq (.+)$")
_QUOTED = re.compile(r"'([^']*)'")


def _spoken(number: Decimal) -> str:
    return str(int(number)) if number == number.to_integral_value() else str(number.normalize())


def _pattern_words(pattern: str) -> str:
    """'#####-####' -> '5 digits, a dash and 4 digits' (# is a digit in the MLS's patterns)."""
    parts = re.findall(r"#+|[^#]+", pattern)
    words = []
    for part in parts:
        if part.startswith("#"):
            words.append(f"{len(part)} digit{'s' if len(part) > 1 else ''}")
        else:
            words.append({"-": "a dash", " ": "a space", ".": "a dot"}.get(part, f"“{part}”"))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pattern_regex(pattern: str) -> str:
    return "".join(r"\d" if char == "#" else re.escape(char) for char in pattern)


@dataclass(frozen=True)
class MlsRule:
    """One of the MLS's listing rules, understood: a required field, numeric bounds that are
    refused (`refused_below`/`refused_above`, with whether the bound itself is refused), or
    the only values (or # patterns) accepted."""

    id: str
    spark_field: str
    domain: str
    severity: Severity
    required: bool = False
    below: Decimal | None = None  # refused below this (or at it, when below_inclusive)
    below_inclusive: bool = False
    above: Decimal | None = None
    above_inclusive: bool = False
    accepted: tuple[str, ...] = ()

    @classmethod
    def parse(cls, rule: dict[str, Any]) -> MlsRule | None:
        """None for a rule this portal does not understand (the MLS still judges it on push)."""
        name = str(rule.get("Field") or "")
        action = str(rule.get("Action") or "")
        if not name or rule.get("ApprovalStatus", "Published") != "Published":
            return None
        base = cls(
            id=f"mls-{rule.get('Id') or name}",
            spark_field=name,
            domain=str(rule.get("Domain") or mls_layout.STANDARD),
            severity=Severity.ERROR if rule.get("Status", "Fatal") == "Fatal" else Severity.WARNING,
        )
        expression = " ".join(str(rule.get("Expression") or "").split())
        if action == "SET_REQUIRED":
            return replace(base, required=True) if expression.upper() != ".FALSE." else None
        if action != "REJECT":
            return None
        if match := _NOT_ONE_OF.match(expression):
            accepted = tuple(_QUOTED.findall(match.group(2)))
            return replace(base, accepted=accepted) if match.group(1) == name and accepted else None
        found = base
        for part in expression.split(" Or "):
            match = _COMPARISON.match(part)
            if match is None or match.group(1) != name:
                return None
            op, number = match.group(2), Decimal(match.group(3))
            if op in ("Lt", "Le"):
                found = replace(found, below=number, below_inclusive=op == "Le")
            else:
                found = replace(found, above=number, above_inclusive=op == "Ge")
        return found if found.below is not None or found.above is not None else None

    def passes(self, value: Any) -> bool | None:
        if self.required:
            return not _empty(value)
        if _empty(value):
            return None
        if self.accepted:
            text = str(value).strip()
            return any(
                re.fullmatch(_pattern_regex(item), text) if "#" in item else text == item
                for item in self.accepted
            )
        number = _as_number(value)
        if number is None:
            return False
        if self.below is not None and (
            number < self.below or (self.below_inclusive and number == self.below)
        ):
            return False
        return not (
            self.above is not None
            and (number > self.above or (self.above_inclusive and number == self.above))
        )

    def message(self, spec: mls_layout.MlsField | None) -> str:
        label = spec.label if spec else re.sub(r"(?<=[a-z])(?=[A-Z])", " ", self.spark_field)
        if self.required:
            return f"{label} is required."
        if self.accepted:
            if all("#" in item for item in self.accepted):
                return f"{label} must be {' or '.join(_pattern_words(item) for item in self.accepted)}."
            labels = [(spec.label_of(item) if spec else None) or item for item in self.accepted]
            return (
                f"{label}: choose one of {', '.join(labels[:-1])} or {labels[-1]}."
                if len(labels) > 1
                else f"{label} must be {labels[0]}."
            )
        low, high = self.below, self.above
        if low is not None and high is not None:
            return f"{label} must be between {_spoken(low)} and {_spoken(high)}."
        if low is not None:
            return (
                f"{label} must be more than {_spoken(low)}."
                if self.below_inclusive
                else (f"{label} must be at least {_spoken(low)}.")
            )
        assert high is not None
        return (
            f"{label} must be less than {_spoken(high)}."
            if self.above_inclusive
            else (f"{label} must be at most {_spoken(high)}.")
        )


def mls_value(draft: Draft, spark_name: str, domain: str, spec: mls_layout.MlsField | None) -> Any:
    """A draft's value of one MLS field, wherever the draft keeps it."""
    if spec is not None:
        return spec.stored(draft)
    if domain == mls_layout.CUSTOM:
        return mls_layout.custom_value(draft.custom_fields, spark_name)
    if spark_name in SPARK_TO_FIELD:
        return getattr(draft, SPARK_TO_FIELD[spark_name])
    return (draft.standard_fields_extra or {}).get(spark_name)


def _key(spark_name: str, domain: str, spec: mls_layout.MlsField | None) -> str:
    """The draft field a message sits next to (the editor's key of the MLS field)."""
    if spec is not None:
        return spec.key
    if domain == mls_layout.CUSTOM:
        return CUSTOM_FIELDS
    return SPARK_TO_FIELD.get(spark_name) or f"std-{spark_name}"


class RuleBook:
    """What judges drafts: the MLS's layout and rules per property type, read once per book
    (one book per request: the list page judges 25 drafts with it), or the fixed table."""

    def __init__(self, source: mls_layout.MetadataSource | None = None, *, fixed: bool = False) -> None:
        self._source = None if fixed else (source or mls_layout.source())
        self._snapshot: mls_layout.MetadataSnapshot | None = None
        self._layouts: dict[str, mls_layout.Layout | None] = {}
        self._rules: dict[str, list[MlsRule]] = {}

    @classmethod
    def fixed(cls) -> RuleBook:
        """Only the fixed table, as before the MLS's lists were read (no queries)."""
        return cls(fixed=True)

    def snapshot(self) -> mls_layout.MetadataSnapshot | None:
        """The metadata this book judges by: one version for the whole book (one query)."""
        if self._snapshot is None and self._source is not None:
            self._snapshot = self._source.snapshot()
        return self._snapshot

    def layout(self, property_type: str) -> mls_layout.Layout | None:
        if property_type not in self._layouts:
            snapshot = self.snapshot()
            self._layouts[property_type] = (
                mls_layout.layout_of(snapshot, property_type) if snapshot is not None else None
            )
        return self._layouts[property_type]

    def mls_rules(self, property_type: str) -> list[MlsRule]:
        if property_type not in self._rules:
            snapshot = self.snapshot()
            self._rules[property_type] = (
                snapshot.derived(
                    ("drafts.rules", property_type), lambda: self._parse_rules(snapshot, property_type)
                )
                if snapshot is not None
                else []
            )
        return self._rules[property_type]

    def plan(self, property_type: str, layout: mls_layout.Layout) -> _MlsPlan:
        snapshot = self.snapshot()
        assert snapshot is not None  # a layout comes from the MLS's metadata
        return snapshot.derived(
            ("drafts.plan", property_type), lambda: _mls_plan(layout, self.mls_rules(property_type))
        )

    @staticmethod
    def _parse_rules(snapshot: mls_layout.MetadataSnapshot, property_type: str) -> list[MlsRule]:
        found = []
        for rule in snapshot.listing_rules(property_type):
            parsed = MlsRule.parse(rule)
            if parsed is None:
                logger.debug("MLS rule not understood here (the MLS judges it): %s", rule)
            else:
                found.append(parsed)
        return found


Outcome = tuple[Severity, RuleResult, bool]


def _fixed_outcomes(draft: Draft, rules: tuple[Rule, ...]) -> list[Outcome]:
    outcomes = []
    for rule in rules:
        if rule.applies_to(draft.property_type):
            passed = _passes(rule, draft)
            if passed is not None:
                outcomes.append((rule.severity, _result(rule), passed))
    return outcomes


@dataclass(frozen=True)
class _MlsPlan:
    """What judges every draft of one property type the same way, built once per version of the
    MLS's metadata: each MLS rule with its field and its (draft-independent) result, the fields
    with a list, and our own checks of the fields this type shows."""

    rules: tuple[tuple[MlsRule, mls_layout.MlsField | None, RuleResult], ...]
    listed: tuple[mls_layout.MlsField, ...]
    ours: tuple[Rule, ...]


def _mls_plan(layout: mls_layout.Layout, mls_rules: list[MlsRule]) -> _MlsPlan:
    planned = []
    for rule in mls_rules:
        spec = layout.by_name.get(rule.spark_field)
        result = RuleResult(
            rule.id,
            _key(rule.spark_field, rule.domain, spec),
            rule.spark_field,
            rule.severity,
            rule.message(spec),
            ours=False,
            missing=rule.required,
        )
        planned.append((rule, spec, result))
    shown_names = set(layout.by_name)
    ours = tuple(
        rule
        for rule in PORTAL_CHECKS
        if rule.domain == "StandardFields" and {rule.field, *rule.also} <= shown_names
    )
    return _MlsPlan(tuple(planned), tuple(spec for spec in layout.fields if spec.has_list), ours)


def _mls_outcomes(draft: Draft, layout: mls_layout.Layout, book: RuleBook) -> list[Outcome]:
    plan = book.plan(draft.property_type, layout)
    outcomes: list[Outcome] = []
    for rule, spec, result in plan.rules:
        passed = rule.passes(mls_value(draft, rule.spark_field, rule.domain, spec))
        if passed is not None:
            outcomes.append((rule.severity, result, passed))
    for spec in plan.listed:
        stored = spec.stored(draft)
        if _empty(stored):
            continue
        unlisted = spec.not_listed(stored)
        shown = ", ".join(f"“{value}”" for value in unlisted)
        message = f"{spec.label}: {shown} is not in the MLS's list. Choose one from the list."
        listed = RuleResult(
            f"list-{spec.key}", spec.key, spec.spark_name, Severity.ERROR, message, ours=False
        )
        outcomes.append((Severity.ERROR, listed, not unlisted))
    # Ours, for the fields this property type shows.
    outcomes.extend(_fixed_outcomes(draft, plan.ours))
    return outcomes


def _outcomes(draft: Draft, book: RuleBook | None) -> list[Outcome]:
    book = book or RuleBook()
    layout = book.layout(draft.property_type)
    if layout is None:
        return _fixed_outcomes(draft, RULES)
    return _mls_outcomes(draft, layout, book)


def checklist(draft: Draft, book: RuleBook | None = None) -> list[tuple[RuleResult, bool]]:
    """Every rule that says something about `draft`, met or not: (result, passed)."""
    return [(result, passed) for _, result, passed in _outcomes(draft, book)]


def required_fields(property_type: str, book: RuleBook | None = None) -> frozenset[str]:
    """The editor's keys of the fields a listing of this type must fill (ERROR rules that
    require a value): the labels carry a required mark."""
    book = book or RuleBook()
    layout = book.layout(property_type)
    if layout is None:
        return frozenset(
            _result(rule).field
            for rule in RULES
            if rule.action == Action.REQUIRED
            and rule.severity == Severity.ERROR
            and rule.applies_to(property_type)
        )
    return frozenset(
        _key(rule.spark_field, rule.domain, layout.by_name.get(rule.spark_field))
        for rule in book.mls_rules(property_type)
        if rule.required and rule.severity == Severity.ERROR
    )


def evaluate(draft: Draft, book: RuleBook | None = None) -> list[RuleResult]:
    """The rules `draft` does not meet, errors first. Reads the MLS's metadata once per `book`
    (a new book without one); `RuleBook.fixed()` makes no queries."""
    failed = [result for _, result, passed in _outcomes(draft, book) if not passed]
    return sorted(failed, key=lambda result: not result.is_error)


WEIGHTS = {Severity.ERROR: 3, Severity.WARNING: 1}


def readiness(draft: Draft, book: RuleBook | None = None) -> tuple[int, list[RuleResult], list[RuleResult]]:
    """(percent ready, errors, warnings).

    The percent weighs the rules that say something about this draft (errors three times
    a warning); it is 100 only with no errors and no warnings.
    """
    outcomes = _outcomes(draft, book)
    total = sum(WEIGHTS[severity] for severity, _, _ in outcomes)
    met = sum(WEIGHTS[severity] for severity, _, passed in outcomes if passed)
    failed = sorted(
        (result for _, result, passed in outcomes if not passed), key=lambda result: not result.is_error
    )
    errors = [result for result in failed if result.is_error]
    warnings = [result for result in failed if not result.is_error]
    percent = 100 if total == 0 else met * 100 // total
    if failed and percent == 100:
        percent = 99
    return percent, errors, warnings


def blocking_errors(draft: Draft, book: RuleBook | None = None) -> list[RuleResult]:
    """What stops promotion: the ERROR-severity rules the draft does not meet."""
    return [result for result in evaluate(draft, book) if result.is_error]


def by_field(results: list[RuleResult]) -> dict[str, list[RuleResult]]:
    """Results keyed by every draft field they belong next to."""
    grouped: dict[str, list[RuleResult]] = {}
    for result in results:
        for field in result.fields:
            grouped.setdefault(field, []).append(result)
    return grouped
