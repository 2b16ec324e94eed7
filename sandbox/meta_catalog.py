"""The emulated MLS's layout and extra field metadata: custom fields (grouped), the field order per
property type, and the room and unit fields (docs/spark-protocol.md#metadata).

Where the pages are thin, the sandbox assumes (also in docs/spark-protocol.md#open-questions):

- individual custom, room and unit fields (``/v1/customfields/{Field}``, ``/v1/rooms/{Field}``,
  ``/v1/units/{Field}``) answer ``[{Field: {..., "FieldList": [...]}}]``, as standard fields do;
- field order lists the masked remarks too: they are input fields, though reads mask them;
- only standard fields, custom fields and field order answer conditional GETs (the pages name
  those); the other metadata is sent whole every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import catalog

A, B, C, D, E, F = "A", "B", "C", "D", "E", "F"
DWELLINGS = (A, B, E, F)


@dataclass(frozen=True)
class ExtraField:
    """A custom, room or unit field: the pages give them the standard fields' attributes."""

    name: str
    label: str
    type: str
    visible_for: tuple[str, ...]
    choices: tuple[str, ...] = ()
    multi_select: bool = False
    searchable: bool = True

    def as_json(self, resource: str, *, with_list: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ResourceUri": f"/v1/{resource}/{self.name}",
            "Label": self.label,
            "Type": self.type,
            "HasList": bool(self.choices),
            "MultiSelect": self.multi_select,
            "MaxListSize": len(self.choices),
            "Searchable": self.searchable,
            # Plain lists here, unlike standard fields' {"PropertyTypes": [...]} (the pages' examples).
            "MlsVisible": list(self.visible_for),
            "AllMlsVisible": list(self.visible_for),
        }
        if with_list:
            body["FieldList"] = [{"Name": choice, "Value": choice} for choice in self.choices]
        return body


CUSTOM_GROUPS: dict[str, tuple[ExtraField, ...]] = {
    "General Property Description": (
        ExtraField("Style", "Style", "Character", (A, E), ("Ranch", "2 Story", "Bi-Level", "Split Level")),
        ExtraField(
            "Basement", "Basement", "Character", DWELLINGS, ("Full", "Partial", "Crawl Space", "None")
        ),
        ExtraField("Garage Stalls", "Garage Stalls", "Integer", DWELLINGS),
    ),
    "Features": (
        ExtraField(
            "Heating",
            "Heating",
            "Character",
            DWELLINGS,
            ("Forced Air", "Boiler", "Geothermal", "Heat Pump", "Baseboard"),
            multi_select=True,
        ),
        ExtraField(
            "Appliances",
            "Appliances",
            "Character",
            (A, B, F),
            ("Dishwasher", "Range", "Refrigerator", "Washer", "Dryer", "Microwave"),
            multi_select=True,
        ),
    ),
    "Land Info": (
        ExtraField("Zoning", "Zoning", "Character", (C, D, E), ("Residential", "Agricultural", "Commercial")),
        ExtraField("Tillable Acres", "Tillable Acres", "Decimal", (C, E)),
    ),
    "Commercial Info": (ExtraField("Loading Docks", "Loading Docks", "Integer", (D,)),),
}
CUSTOM_FIELDS: dict[str, ExtraField] = {spec.name: spec for group in CUSTOM_GROUPS.values() for spec in group}


def custom_fields_json() -> list[dict[str, Any]]:
    return [
        {
            group: {
                "Label": group,
                "Fields": {spec.name: spec.as_json("customfields") for spec in fields},
            }
        }
        for group, fields in CUSTOM_GROUPS.items()
    ]


# The entry layout: (group label, GroupField id, [(domain, field), ...]); each property type gets
# the fields visible for it, groups left empty are dropped.
STANDARD, CUSTOM = "StandardFields", "CustomFields"
LAYOUT: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Listing Information",
        "ListingInfo",
        (
            (STANDARD, "PropertyType"),
            (STANDARD, "PropertySubType"),
            (STANDARD, "ListPrice"),
            (STANDARD, "ListingContractDate"),
            (STANDARD, "ExpirationDate"),
        ),
    ),
    (
        "Location",
        "Location",
        (
            (STANDARD, "StreetNumber"),
            (STANDARD, "StreetDirPrefix"),
            (STANDARD, "StreetName"),
            (STANDARD, "StreetSuffix"),
            (STANDARD, "StreetDirSuffix"),
            (STANDARD, "StreetAdditionalInfo"),
            (STANDARD, "City"),
            (STANDARD, "StateOrProvince"),
            (STANDARD, "PostalCode"),
            (STANDARD, "CountyOrParish"),
            (STANDARD, "SubdivisionName"),
            (STANDARD, "MLSAreaMinor"),
            (STANDARD, "Latitude"),
            (STANDARD, "Longitude"),
        ),
    ),
    (
        "Property Details",
        "PropertyDetails",
        (
            (STANDARD, "YearBuilt"),
            (STANDARD, "BuildingAreaTotal"),
            (STANDARD, "BedsTotal"),
            (STANDARD, "BathsTotal"),
            (STANDARD, "BathsFull"),
            (STANDARD, "BathsThreeQuarter"),
            (STANDARD, "BathsHalf"),
            (STANDARD, "LotSizeAcres"),
            (CUSTOM, "Style"),
            (CUSTOM, "Basement"),
            (CUSTOM, "Garage Stalls"),
            (CUSTOM, "Zoning"),
            (CUSTOM, "Tillable Acres"),
            (CUSTOM, "Loading Docks"),
        ),
    ),
    ("Features", "Features", ((CUSTOM, "Heating"), (CUSTOM, "Appliances"))),
    (
        "Remarks",
        "Remarks",
        (
            (STANDARD, "PublicRemarks"),
            (STANDARD, "PrivateRemarks"),
            (STANDARD, "VirtualTourURLUnbranded"),
        ),
    ),
)
# Input fields whose reads are masked (visible_for is empty) still belong to the layout.
MASKED_INPUTS = {"PrivateRemarks"}


def _order_entry(domain: str, name: str, group_field: str) -> dict[str, Any]:
    if domain == STANDARD:
        spec = catalog.FIELDS[name]
        label, kind, searchable = spec.label, spec.type, spec.searchable
    else:
        extra = CUSTOM_FIELDS[name]
        label, kind, searchable = extra.label, extra.type, extra.searchable
    return {
        "Label": label,
        "Domain": domain,
        "Field": name,
        "GroupField": group_field,
        "FieldCategory": "Main",
        "Detail": domain == CUSTOM and kind == "Boolean",
        "Searchable": searchable,
        "FormatWithCommas": kind == "Decimal",
        "OriginalCustomField": None,
        "Type": kind,
    }


def _visible(domain: str, name: str, property_type: str) -> bool:
    if domain == CUSTOM:
        return property_type in CUSTOM_FIELDS[name].visible_for
    return name in MASKED_INPUTS or property_type in catalog.FIELDS[name].visible_for


def field_order(property_type: str) -> list[dict[str, Any]]:
    """``[{Group label: [entry, ...]}, ...]`` for one property type, groups in order."""
    groups = []
    for label, group_field, members in LAYOUT:
        entries = [
            _order_entry(domain, name, group_field)
            for domain, name in members
            if _visible(domain, name, property_type)
        ]
        if entries:
            groups.append({label: entries})
    return groups


ROOM_FIELDS: dict[str, ExtraField] = {
    spec.name: spec
    for spec in (
        ExtraField(
            "RoomName",
            "Room Name",
            "Character",
            DWELLINGS,
            (
                "Bedroom",
                "Primary Bedroom",
                "Bathroom",
                "Kitchen",
                "Living Room",
                "Dining Room",
                "Family Room",
                "Laundry",
                "Office",
            ),
        ),
        ExtraField("LevelOrFloor", "Room Level", "Character", DWELLINGS, ("Basement", "Main", "Upper")),
        ExtraField("Length", "Length", "Character", DWELLINGS, searchable=False),
        ExtraField("Width", "Width", "Character", DWELLINGS, searchable=False),
        ExtraField("Description", "Room Remarks", "Character", DWELLINGS, searchable=False),
        ExtraField(
            "RoomFeature",
            "Room Features",
            "Boolean",
            DWELLINGS,
            ("Walk-in Closet", "Fireplace", "Hardwood Floor", "Vaulted Ceiling", "Private Bath"),
            multi_select=True,
        ),
    )
}

UNIT_FIELDS: dict[str, ExtraField] = {
    spec.name: spec
    for spec in (
        ExtraField(
            "unit_nbr",
            "Unit Type",
            "Character",
            (B,),
            ("Studio", "1 Bedroom", "2 Bedroom", "3 Bedroom"),
            searchable=False,
        ),
        ExtraField("ActualRent", "Rent", "Character", (B,), searchable=False),
        ExtraField("sqft", "SqFt", "Character", (B,), searchable=False),
        ExtraField("BedsTotal", "Bedrooms", "Character", (B,), searchable=False),
        ExtraField("BathsTotal", "Bath", "Character", (B,), ("1", "1.5", "2", "2.5", "3"), searchable=False),
    )
}
