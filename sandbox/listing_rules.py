"""Checks on listing payloads: attribute errors (always fatal) and rule violations.

The same rules answer as *warnings* on incomplete listings (``Success: true`` plus ``Errors``) and as *fatal*
errors on listings and ``/v1/listings/validation`` (400/1053).

docs/spark-protocol.md#warnings-versus-fatal-errors, docs/spark-protocol.md#the-errors-list
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .config import option
from .envelope import ApiError

WRAPPERS = ("IncompleteListings", "Listings")


def unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Accept the documented flat ``D`` and the Ruby gem's ``{"D": {"IncompleteListings": [{...}]}}``."""
    for key in WRAPPERS:
        items = data.get(key)
        if len(data) == 1 and isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
            return items[0]
    return data


@dataclass
class Payload:
    record: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: list[dict[str, Any]] = field(default_factory=list)


def listed_values(spec: catalog.FieldSpec, property_type: str | None) -> list[str]:
    """The values of a field's list that apply to a property type (all of them without one)."""
    return [
        value
        for value, _label, applies in spec.choices
        if property_type not in catalog.TYPE_CODES or property_type in applies
    ]


def _type_error(spec: catalog.FieldSpec, value: Any, property_type: str | None = None) -> str | None:
    if value is None:
        return None
    kind = spec.type
    if kind == "Character":
        if not isinstance(value, str):
            return f"{spec.name} must be a string"
        if spec.max_length and len(value) > spec.max_length:
            return f"{spec.name} is longer than {spec.max_length} characters"
        if spec.has_list and value not in (allowed := listed_values(spec, property_type)):
            # As an MLS tells its agents: the field's label and the list's names, not codes.
            names = [label for code, label, _applies in spec.choices if code in allowed]
            if len(names) > 8:
                return f"{spec.label}: “{value}” is not a value of its list"
            return f"{spec.label}: “{value}” is not in the list ({', '.join(names)})"
        return None
    if kind == "Integer":
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else f"{spec.name} must be an integer"
        )
    if kind == "Decimal":
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return None if numeric and math.isfinite(value) else f"{spec.name} must be a number"
    if kind == "Date":
        try:
            dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            return f"{spec.name} must be a date (YYYY-MM-DD)"
        return None
    if kind == "Boolean":
        return None if isinstance(value, bool) else f"{spec.name} must be true or false"
    return None


def clean(data: dict[str, Any]) -> Payload:
    record = unwrap(data)
    payload = Payload(record=record)
    # A list's values apply to property types: judged by the type the record names (an update
    # without one is judged against the whole list, and the merged record by `violations`).
    property_type = record.get("PropertyType") if isinstance(record.get("PropertyType"), str) else None
    for name, value in record.items():
        if name == "CustomFields":
            if not isinstance(value, dict) or not all(isinstance(group, dict) for group in value.values()):
                payload.invalid.append(_invalid(name, 'CustomFields must be {"Group": {"Field": value}}'))
            else:
                payload.custom = value
            continue
        spec = catalog.FIELDS.get(name)
        if spec is None:
            payload.invalid.append(_invalid(name, f"{name} is not a standard field"))
        elif not spec.writable:
            payload.invalid.append(_invalid(name, f"{name} is not writable"))
        elif (message := _type_error(spec, value, property_type)) is not None:
            payload.invalid.append(_invalid(name, message))
        else:
            payload.fields[name] = value
    return payload


def _invalid(attribute: str, message: str) -> dict[str, Any]:
    return {"Type": "InvalidAttribute", "Attribute": attribute, "Message": message}


def violations(fields: dict[str, Any], *, warning: bool) -> list[dict[str, Any]]:
    """Rule violations of a whole record (the merged one, for updates)."""
    property_type = fields.get("PropertyType")
    # The Status a warning carries is unconfirmed (docs/spark-protocol.md#open-warning-status).
    status = option("warning_rule_status") if warning else "Fatal"
    found: list[dict[str, Any]] = []
    for name, spec in catalog.FIELDS.items():
        value = fields.get(name)
        if spec.has_list and isinstance(value, str) and value not in listed_values(spec, property_type):
            found.append(
                {
                    "Type": "InvalidAttribute",
                    "Attribute": name,
                    "Message": f"{name} {value} is not in its list for property type {property_type}",
                }
            )
    for rule in catalog.rules_for(property_type):
        value = fields.get(rule.field)
        if rule.action == "SET_REQUIRED":
            broken = value is None or (isinstance(value, str) and not value.strip())
        else:
            broken = value is not None and not rule.check(value)
        if broken:
            found.append(
                {
                    "Type": "RuleViolation",
                    "Message": rule.message,
                    "Rule": rule.as_json(property_type or "", status),
                }
            )
    return found


def errors_json(record: dict[str, Any], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"Type": "InvalidRecord", "Record": record, "Errors": errors}]


def merge(fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(fields)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def merge_custom(custom: dict[str, dict[str, Any]], changes: dict[str, dict[str, Any]]) -> dict:
    merged = {group: dict(values) for group, values in custom.items()}
    for group, values in changes.items():
        merged.setdefault(group, {}).update(values)
    return merged


def fatal(record: dict[str, Any], errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(
        400, 1053, "The listing does not satisfy the listing rules", Errors=errors_json(record, errors)
    )
