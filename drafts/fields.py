"""The draft's listing fields: their Spark names, the editor's sections, the property types.

One table so the editor, the rules, the history and the sync engine agree on names. It sits
below `drafts.models`, so the rules can use it without importing the model.
"""

from django.db import models


class PropertyType(models.TextChoices):
    RESIDENTIAL = "A", "Residential"
    MULTI_FAMILY = "B", "Multi Family"
    LAND = "C", "Land"
    COMMERCIAL = "D", "Commercial"
    FARM = "E", "Farm"
    RENTAL = "F", "Rental"


# Django field name -> Spark StandardFields name, in the order of the incomplete-listing body.
SPARK_NAMES: dict[str, str] = {
    "property_type": "PropertyType",
    "property_sub_type": "PropertySubType",
    "list_price": "ListPrice",
    "street_number": "StreetNumber",
    "street_dir_prefix": "StreetDirPrefix",
    "street_name": "StreetName",
    "street_suffix": "StreetSuffix",
    "street_dir_suffix": "StreetDirSuffix",
    "street_additional_info": "StreetAdditionalInfo",
    "city": "City",
    "state_or_province": "StateOrProvince",
    "postal_code": "PostalCode",
    "year_built": "YearBuilt",
    "building_area_total": "BuildingAreaTotal",
    "baths_three_quarter": "BathsThreeQuarter",
    "baths_total": "BathsTotal",
    "baths_full": "BathsFull",
    "beds_total": "BedsTotal",
    "baths_half": "BathsHalf",
    "longitude": "Longitude",
    "latitude": "Latitude",
    "subdivision_name": "SubdivisionName",
    "mls_area_minor": "MLSAreaMinor",
    "county_or_parish": "CountyOrParish",
    "public_remarks": "PublicRemarks",
    "private_remarks": "PrivateRemarks",
}

# The editor's sections, in page order: (slug, title, field names).
SECTIONS: list[tuple[str, str, list[str]]] = [
    (
        "location",
        "Location",
        [
            "street_number",
            "street_dir_prefix",
            "street_name",
            "street_suffix",
            "street_dir_suffix",
            "street_additional_info",
            "city",
            "state_or_province",
            "postal_code",
            "county_or_parish",
            "subdivision_name",
            "mls_area_minor",
            "latitude",
            "longitude",
        ],
    ),
    ("property", "Property", ["property_type", "property_sub_type", "year_built", "building_area_total"]),
    ("price", "Price", ["list_price"]),
    (
        "rooms",
        "Rooms and baths",
        ["beds_total", "baths_total", "baths_full", "baths_three_quarter", "baths_half"],
    ),
    ("remarks", "Remarks", ["public_remarks", "private_remarks"]),
]

EDITABLE_FIELDS: frozenset[str] = frozenset(SPARK_NAMES)

# What the editor autosaves one at a time: the Spark fields plus the co-listing agent
# and the grouped custom fields (both pushed with the listing as well).
AUTOSAVE_FIELDS: frozenset[str] = EDITABLE_FIELDS | {"co_list_agent", "custom_fields"}

SPARK_TO_FIELD: dict[str, str] = {spark: name for name, spark in SPARK_NAMES.items()}
