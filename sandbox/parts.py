"""Checking and showing rooms, units, virtual tours and videos: no HTTP here, so the listing's JSON
(expansions), the HTML page and the control state can use it too. The services and their
assumptions are in sandbox/api_parts.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .envelope import ApiError, invalid, missing
from .listing_rules import errors_json
from .meta_catalog import ROOM_FIELDS, UNIT_FIELDS, ExtraField
from .models import Listing, PartRecord

ROOMS, UNITS, TOURS, VIDEOS = "rooms", "units", "virtualtours", "videos"
COLLECTIONS = (ROOMS, UNITS, TOURS, VIDEOS)
# The key of the reorder PUT's list, as the tour and video pages spell it.
REORDER_KEYS = {ROOMS: "Rooms", UNITS: "Units", TOURS: "VirtualTours", VIDEOS: "Videos"}
FIELD_SPECS: dict[str, dict[str, ExtraField]] = {ROOMS: ROOM_FIELDS, UNITS: UNIT_FIELDS}
SINGULAR = {ROOMS: "room", UNITS: "unit", TOURS: "virtual tour", VIDEOS: "video"}

BRANDED, UNBRANDED = "branded", "unbranded"
PRIVACY_OPTIONS = ("Public", "Private", "Automatic")
# The metadata pages' example (Private by default; Automatic turns Private once Closed).
PRIVACY_DEFAULT = "Private"
OFF_MARKET_STATUSES = ("Closed",)
# Attributes each body may carry (Id is tolerated: clients echo what they read).
LINK_KEYS = {
    TOURS: {"Id", "GroupId", "Name", "Uri", "Type", "Privacy"},
    VIDEOS: {"Id", "GroupId", "Name", "Caption", "Type", "ObjectHtml", "Privacy"},
}


def media_meta(*, branding_enabled: bool) -> dict[str, Any]:
    """``/v1/listings[/incomplete]/{virtualtours,videos}/meta``: one object, as the pages show it."""
    return {
        "Branding": {
            "Enabled": branding_enabled,
            "DisplayText": "Branded: may show the listing agent's or brokerage's name and contact",
            "Roles": ["private"],
        },
        "Privacy": {
            "Default": PRIVACY_DEFAULT,
            "Options": list(PRIVACY_OPTIONS),
            "OffMarketStandardStatuses": list(OFF_MARKET_STATUSES),
        },
    }


# --- rooms and units ------------------------------------------------------------------------------


def visible_specs(collection: str, property_type: str | None) -> list[ExtraField]:
    """The collection's fields MlsVisible for the listing's property type, in catalogue order."""
    return [spec for spec in FIELD_SPECS[collection].values() if property_type in spec.visible_for]


def _attribute_error(attribute: str, message: str) -> dict[str, Any]:
    return {"Type": "InvalidAttribute", "Attribute": attribute, "Message": message}


def _value_error(spec: ExtraField, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{spec.name} must be a string or null"
    if not spec.choices or value == "":
        return None
    # Multi-select values come comma-joined ("Fireplace,Walk-in Closet").
    picked = [part.strip() for part in value.split(",")] if spec.multi_select else [value]
    outside = [part for part in picked if part not in spec.choices]
    if outside:
        return f"{spec.name}: {', '.join(repr(part) for part in outside)} is not one of its list values"
    return None


def clean_fields(collection: str, listing: Listing, data: dict[str, Any]) -> dict[str, str | None]:
    """The ``Fields`` object of a room or unit body, checked against the rooms/units metadata of
    the listing's property type; every problem in one 400 with an ``Errors`` entry per attribute."""
    fields = data.get("Fields")
    if not isinstance(fields, dict) or not fields:
        raise invalid('The body must be {"D": {"Fields": {"<attribute>": "<value>", ...}}}')
    property_type = listing.fields.get("PropertyType")
    specs = FIELD_SPECS[collection]
    problems = []
    for name, value in fields.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(_attribute_error(name, f"{name} is not a {SINGULAR[collection]} field"))
        elif property_type not in spec.visible_for:
            problems.append(
                _attribute_error(name, f"{name} is not visible for property type {property_type}")
            )
        elif (message := _value_error(spec, value)) is not None:
            problems.append(_attribute_error(name, message))
    if problems:
        raise ApiError(
            400,
            1053,
            f"The {SINGULAR[collection]} has invalid attributes",
            Errors=errors_json({"Fields": fields}, problems),
        )
    return dict(fields)


FieldRow = tuple[ExtraField | None, str, Any]


def _field_values(record: PartRecord, property_type: str | None) -> list[FieldRow]:
    """(spec, attribute, value): every visible field (null when unset), then any other stored one."""
    stored = record.attributes
    specs = visible_specs(record.collection, property_type)
    known = {spec.name for spec in specs}
    rows: list[FieldRow] = [(spec, spec.name, stored.get(spec.name)) for spec in specs]
    all_specs = FIELD_SPECS[record.collection]
    rows += [(all_specs.get(name), name, value) for name, value in stored.items() if name not in known]
    return rows


def labelled_fields(record: PartRecord, property_type: str | None) -> list[dict[str, Any]]:
    """``[{"Room Name": "Bedroom"}, {"Length": null}, ...]``: one-key objects keyed by label."""
    rows = _field_values(record, property_type)
    return [{spec.label if spec else name: value} for spec, name, value in rows]


def raw_fields(record: PartRecord, property_type: str | None) -> dict[str, Any]:
    return {name: value for _spec, name, value in _field_values(record, property_type)}


# --- virtual tours and videos ---------------------------------------------------------------------


def _one_body(collection: str, data: dict[str, Any]) -> dict[str, Any]:
    """The flat body of the pages, or the Ruby gem's ``{"VirtualTours": [{...}]}`` with one item."""
    key = REORDER_KEYS[collection]
    if key not in data:
        return data
    items = data[key]
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise invalid(f"{key} must be a list with exactly one object")
    return items[0]


def clean_link(collection: str, data: dict[str, Any], *, branding_enabled: bool) -> dict[str, Any]:
    """Name, Type, Uri (tours) or ObjectHtml and Caption (videos), Privacy; GroupId is the
    caller's (it needs the listing). Returns the attributes to store, GroupId included if sent."""
    body = _one_body(collection, data)
    unknown = set(body) - LINK_KEYS[collection]
    if unknown:
        raise invalid(f"Unknown {SINGULAR[collection]} attributes: {', '.join(sorted(unknown))}")
    for key in ("Name", "Type", "Uri" if collection == TOURS else "ObjectHtml"):
        if body.get(key) in (None, ""):
            raise missing(key)
    name = body["Name"]
    if not isinstance(name, str) or not name.strip():
        raise invalid("Name must be a non-empty string")
    if body["Type"] not in (BRANDED, UNBRANDED):
        raise invalid("Type must be branded or unbranded")
    if body["Type"] == BRANDED and not branding_enabled:
        raise invalid("Branded items are not enabled in this MLS")
    cleaned: dict[str, Any] = {"Name": name, "Type": body["Type"]}
    if collection == TOURS:
        uri = body["Uri"]
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid("Uri must be an http or https URL")
        cleaned["Uri"] = uri
    else:
        if not isinstance(body["ObjectHtml"], str):
            raise invalid("ObjectHtml must be a string")
        caption = body.get("Caption")
        if caption is not None and not isinstance(caption, str):
            raise invalid("Caption must be a string")
        cleaned["ObjectHtml"] = body["ObjectHtml"]
        cleaned["Caption"] = caption or ""
    privacy = body.get("Privacy")
    if privacy is not None and privacy not in PRIVACY_OPTIONS:
        raise invalid(f"Privacy must be one of {', '.join(PRIVACY_OPTIONS)}")
    cleaned["Privacy"] = privacy or PRIVACY_DEFAULT
    if body.get("GroupId") is not None:
        if not isinstance(body["GroupId"], str) or not body["GroupId"]:
            raise invalid("GroupId must be a non-empty string")
        cleaned["GroupId"] = body["GroupId"]
    return cleaned


def current_privacy(privacy: str, listing: Listing) -> str:
    """Automatic items read Private once the listing is off market, Public before."""
    if privacy != "Automatic":
        return privacy
    status = listing.fields.get("StandardStatus") or listing.fields.get("MlsStatus")
    return "Private" if status in OFF_MARKET_STATUSES else "Public"


# --- JSON -----------------------------------------------------------------------------------------


def record_json(record: PartRecord, listing: Listing, *, raw: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ResourceUri": f"{listing.owner_path}/{record.collection}/{record.spark_id}",
        "Id": record.spark_id,
    }
    property_type = listing.fields.get("PropertyType")
    if record.collection in FIELD_SPECS:
        body["Fields"] = raw_fields(record, property_type) if raw else labelled_fields(record, property_type)
        return body
    attributes = record.attributes
    body["GroupId"] = record.group_id
    body["Name"] = attributes.get("Name")
    if record.collection == TOURS:
        body["Uri"] = attributes.get("Uri")
    else:
        body["Caption"] = attributes.get("Caption", "")
        body["ObjectHtml"] = attributes.get("ObjectHtml")
    body["Type"] = attributes.get("Type")
    body["Privacy"] = attributes.get("Privacy", PRIVACY_DEFAULT)
    body["CurrentPrivacy"] = current_privacy(body["Privacy"], listing)
    return body


# Listing expansion -> (collection, raw).
EXPANSIONS = {
    "Rooms": (ROOMS, False),
    "RoomsRaw": (ROOMS, True),
    "Units": (UNITS, False),
    "UnitsRaw": (UNITS, True),
    "VirtualTours": (TOURS, False),
    "Videos": (VIDEOS, False),
}


def expansion_json(listing: Listing, expansion: str, records: list[PartRecord]) -> list[dict[str, Any]]:
    collection, raw = EXPANSIONS[expansion]
    return [record_json(record, listing, raw=raw) for record in records if record.collection == collection]
