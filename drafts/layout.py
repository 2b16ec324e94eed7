"""The editor laid out by the MLS: its sections and fields for the draft's property type, each
field's list (value and label), and where a draft keeps each value.

The MLS's metadata is kept by `mls/metadata.py`; drafts sit below mls, so the mls app hands
its readers over at start-up (`provide`), as it registers the doorbell's listener. Without
them, or before the MLS's lists were ever read, `layout_for` answers None and the editor falls
back to the fixed sections of drafts/fields.py.

Where a value lives: a field that is a Draft column (SPARK_NAMES) in that column; another
standard field in `Draft.standard_fields_extra` under its MLS name; a custom field in
`Draft.custom_fields` under the MLS's group and field name (a value found under another group
with the same field name is read too, and moved to the MLS's group when saved).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from .fields import SPARK_TO_FIELD, PropertyType

if TYPE_CHECKING:
    from .models import Draft

STANDARD, CUSTOM = "StandardFields", "CustomFields"
# A list longer than this is a searchable control (type to filter) rather than a menu.
SEARCHABLE_OVER = 15
NOT_LISTED = "not in the MLS's list"


# --- What the mls app provides ---------------------------------------------------------------


class ChoiceLike(Protocol):
    @property
    def value(self) -> str: ...
    @property
    def label(self) -> str: ...


class FieldLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def choices(self) -> Sequence[ChoiceLike]: ...
    @property
    def multi_select(self) -> bool: ...
    @property
    def custom_group(self) -> str | None: ...


class SectionLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def fields(self) -> Sequence[FieldLike]: ...


class MetadataSnapshot(Protocol):
    """The MLS's metadata at one version (mls/metadata.py `Snapshot`): what it hands out, and
    what is built from it with `derived`, is shared by the process's requests until it changes."""

    def fields_for(self, property_type: str) -> Sequence[SectionLike]: ...
    def listing_rules(self, property_type: str) -> list[dict[str, Any]]: ...
    def room_fields(self, property_type: str) -> Sequence[FieldLike]: ...
    def unit_fields(self, property_type: str) -> Sequence[FieldLike]: ...
    def derived[T](self, key: Any, build: Callable[[], T]) -> T: ...


class MetadataSource(Protocol):
    """The readers of mls/metadata.py (they read the database only)."""

    def snapshot(self) -> MetadataSnapshot: ...


_source: list[MetadataSource] = []


def provide(source: MetadataSource) -> None:
    _source[:] = [source]


def source() -> MetadataSource | None:
    return _source[0] if _source else None


# --- One field of the MLS's layout -----------------------------------------------------------


def _an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.replace(",", "").replace("$", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True)
class MlsField:
    """A field of the MLS's layout and where a draft keeps its value.

    `key` names it in the page (DOM ids) and in the autosave URL: the column's name for a Draft
    column, else `std-<MLS name>` or `cf-<slug of the MLS name>`."""

    spark_name: str
    label: str
    type: str
    domain: str
    choices: tuple[tuple[str, str], ...]
    multi_select: bool
    custom_group: str | None
    column: str | None

    @classmethod
    def of(cls, spec: FieldLike) -> MlsField:
        column = SPARK_TO_FIELD.get(spec.name) if spec.domain == STANDARD else None
        choices = tuple((choice.value, choice.label) for choice in spec.choices)
        if column == "property_type":
            # Each value of the MLS's PropertyType list applies to its own type only; a draft
            # may change to any of the types the portal holds (a constraint of the column).
            choices = tuple((str(code), str(label)) for code, label in PropertyType.choices)
        return cls(
            spark_name=spec.name,
            label=spec.label,
            type=spec.type,
            domain=spec.domain,
            choices=choices,
            multi_select=spec.multi_select,
            custom_group=spec.custom_group,
            column=column,
        )

    @property
    def key(self) -> str:
        if self.column:
            return self.column
        if self.domain == CUSTOM:
            return f"cf-{slugify(self.spark_name)}"
        return f"std-{self.spark_name}"

    @property
    def is_custom(self) -> bool:
        return self.domain == CUSTOM

    @property
    def has_list(self) -> bool:
        return bool(self.choices)

    @property
    def widget(self) -> str:
        """select (a short list), search (a long list: type to filter), multi (checkboxes),
        date, number, textarea or text."""
        if self.has_list:
            if self.multi_select:
                return "multi"
            return "search" if len(self.choices) > SEARCHABLE_OVER else "select"
        if self.type == "Date":
            return "date"
        if self.type == "Boolean":
            return "boolean"
        if self.type in ("Integer", "Decimal"):
            return "number"
        if self.spark_name in ("PublicRemarks", "PrivateRemarks"):
            return "textarea"
        return "text"

    # --- Reading a draft's value ---

    def stored(self, draft: Draft) -> Any:
        if self.column:
            return getattr(draft, self.column)
        if self.is_custom:
            return custom_value(draft.custom_fields, self.spark_name, self.custom_group)
        return (draft.standard_fields_extra or {}).get(self.spark_name)

    def label_of(self, value: str) -> str | None:
        return next((label for code, label in self.choices if code == value), None)

    def values_of(self, stored: Any) -> list[str]:
        """A stored value as a list of the MLS's values (one, none or several)."""
        if stored in (None, "", []):
            return []
        if isinstance(stored, list):
            return [str(item) for item in stored]
        if isinstance(stored, dict):  # {"Value": true} as some MLSs send multi-select values
            return [str(name) for name, chosen in stored.items() if chosen]
        return [str(stored)]

    def not_listed(self, stored: Any) -> list[str]:
        """Stored values the MLS's list does not have (kept, and shown as they are)."""
        if not self.has_list:
            return []
        codes = {code for code, _ in self.choices}
        return [value for value in self.values_of(stored) if value not in codes]

    def text(self, stored: Any) -> str:
        """The value as the control shows it: a label for a long list (the input shows it),
        JSON for several values, else the value as typed."""
        if stored is None:
            return ""
        if self.multi_select:
            # As the page's script writes it (JSON.stringify), so equal values read as saved.
            return json.dumps(self.values_of(stored), separators=(",", ":"), ensure_ascii=False)
        if self.widget == "search":
            return self.label_of(str(stored)) or str(stored)
        if isinstance(stored, bool):
            return "yes" if stored else "no"
        if isinstance(stored, Decimal):
            text = format(stored, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        return str(stored)

    def display(self, stored: Any) -> str:
        """The value for people: labels, never codes (an unlisted value as it is, marked)."""
        shown = []
        for value in self.values_of(stored):
            label = self.label_of(value) if self.has_list else None
            shown.append(
                label if label is not None else (f"{value} ({NOT_LISTED})" if self.has_list else value)
            )
        return ", ".join(shown)

    # --- Reading what was typed or chosen ---

    def code_for(self, text: str) -> str | None:
        """The MLS's value for a label or a value typed in any case; None when not listed."""
        wanted = text.strip().casefold()
        for code, label in self.choices:
            if wanted in (label.casefold(), code.casefold()):
                return code
        return None

    def choose_message(self) -> str:
        noun = self.label.lower()
        return f"{self.label}: choose {_an(noun)} {noun} from the list."

    def parse(self, raw: Any) -> Any:
        """What the page sent, as the value to keep (None for empty). ValidationError in plain
        words that name the field."""
        if self.multi_select:
            items = raw if isinstance(raw, list) else _json_list(raw)
            if items is None:
                raise ValidationError(self.choose_message())
            codes = []
            for item in items:
                code = self.code_for(str(item))
                if code is None:
                    raise ValidationError(self.choose_message())
                codes.append(code)
            order = [code for code, _ in self.choices]
            return sorted(set(codes), key=order.index) or None
        text = "" if raw is None else str(raw).strip()
        if not text:
            return None
        if self.has_list:
            code = self.code_for(text)
            if code is None:
                raise ValidationError(self.choose_message())
            return code
        if self.type == "Integer":
            number = _number(text)
            if number is None or number != number.to_integral_value():
                raise ValidationError(f"{self.label}: enter a whole number, e.g. 2.")
            return int(number)
        if self.type == "Decimal":
            number = _number(text)
            if number is None:
                raise ValidationError(f"{self.label}: enter a number, e.g. 0.5.")
            return int(number) if number == number.to_integral_value() else float(number)
        if self.type == "Date":
            try:
                return dt.date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValidationError(f"{self.label}: enter a date, e.g. 2026-05-01.") from None
        if self.type == "Boolean":
            if text.casefold() in ("yes", "true", "1", "on"):
                return True
            if text.casefold() in ("no", "false", "0", "off"):
                return False
            raise ValidationError(f"{self.label}: choose yes or no.")
        return text

    def seen(self, raw: str) -> Any:
        """The value the page last knew (its `seen_value`), as stored: an unlisted value stays
        as it is so it still compares equal."""
        try:
            return self.parse(raw)
        except ValidationError:
            return raw.strip() or None


def _json_list(raw: Any) -> list[Any] | None:
    if raw in (None, ""):
        return []
    try:
        parsed = json.loads(str(raw))
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


def custom_value(custom_fields: dict[str, Any] | None, name: str, group: str | None = None) -> Any:
    """A custom field's value: under `group` first, else under any group by the same name
    (names compared case-insensitively, so values kept before the MLS's layout are found)."""
    groups = custom_fields if isinstance(custom_fields, dict) else {}
    if group and isinstance(groups.get(group), dict) and name in groups[group]:
        return groups[group][name]
    wanted = name.casefold()
    for values in groups.values():
        if isinstance(values, dict):
            for key, value in values.items():
                if str(key).casefold() == wanted:
                    return value
    return None


def with_custom_value(custom_fields: dict[str, Any] | None, spec: MlsField, value: Any) -> dict[str, Any]:
    """`custom_fields` with `spec`'s value set under the MLS's group and name (None removes
    it); the same name under another group is moved there."""
    wanted = spec.spark_name.casefold()
    groups: dict[str, Any] = {}
    for group, values in (custom_fields or {}).items():
        if isinstance(values, dict):
            kept = {key: item for key, item in values.items() if str(key).casefold() != wanted}
            if kept:
                groups[group] = kept
        else:
            groups[group] = values
    if value is not None:
        group = spec.custom_group or "General"
        groups.setdefault(group, {})[spec.spark_name] = value
    return groups


# --- The layout of one property type ---------------------------------------------------------


@dataclass(frozen=True)
class LayoutSection:
    slug: str
    title: str
    fields: tuple[MlsField, ...]


@dataclass
class Layout:
    property_type: str
    sections: list[LayoutSection]
    by_key: dict[str, MlsField] = field(default_factory=dict)
    by_name: dict[str, MlsField] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for section in self.sections:
            for spec in section.fields:
                self.by_key.setdefault(spec.key, spec)
                self.by_name.setdefault(spec.spark_name, spec)

    @property
    def fields(self) -> Iterable[MlsField]:
        return self.by_key.values()

    def other_custom_fields(self, custom_fields: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
        """Custom values the layout has no field for: kept and pushed as they are, shown apart."""
        known = {spec.spark_name.casefold() for spec in self.fields if spec.is_custom}
        return [
            (group, name, value)
            for group, values in (custom_fields or {}).items()
            if isinstance(values, dict)
            for name, value in values.items()
            if str(name).casefold() not in known
        ]


# Standard fields the editor's "Virtual tours and videos" section covers: the MLS keeps tours in
# its virtual tours service, so a second box for the same link would only disagree with it.
COVERED_BY_PARTS = frozenset({"VirtualTourURLUnbranded", "VirtualTourURLBranded"})


def build_layout(property_type: str, sections: Sequence[SectionLike]) -> Layout | None:
    built = []
    for index, section in enumerate(sections):
        fields = tuple(
            MlsField.of(spec)
            for spec in section.fields
            if spec.name and not (spec.domain == STANDARD and spec.name in COVERED_BY_PARTS)
        )
        if fields:
            built.append(LayoutSection(slugify(section.label) or f"section-{index}", section.label, fields))
    return Layout(property_type, built) if built else None


def layout_of(snapshot: MetadataSnapshot, property_type: str) -> Layout | None:
    """The layout of a property type, built once per version of the MLS's metadata (it is the
    same for every draft and request until the metadata changes)."""
    return snapshot.derived(
        ("drafts.layout", property_type),
        lambda: build_layout(property_type, snapshot.fields_for(property_type)),
    )


def layout_for(property_type: str) -> Layout | None:
    """The MLS's layout for a property type; None before its lists were ever read."""
    provider = source()
    return layout_of(provider.snapshot(), property_type) if provider else None
