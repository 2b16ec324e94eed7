"""JSON shapes of listings, photos and documents as the pages show them (docs/spark-protocol.md#sources)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.urls import reverse

from . import catalog, parts
from .config import iso
from .models import Document, Listing, Photo

# Uri* attribute -> (URL variant, bounding box or None for the original). Boxes from the example URLs of
# the Listings page (640x480 ... 2048x1600); thumb and 300 are our choice (docs/spark-protocol.md#photos).
PHOTO_SIZES: dict[str, tuple[str, tuple[int, int] | None]] = {
    "UriThumb": ("thumb", (160, 120)),
    "Uri300": ("300", (300, 225)),
    "Uri640": ("640", (640, 480)),
    "Uri800": ("800", (800, 600)),
    "Uri1024": ("1024", (1024, 768)),
    "Uri1280": ("1280", (1280, 1024)),
    "Uri1600": ("1600", (1600, 1200)),
    "Uri2048": ("2048", (2048, 1600)),
    "UriLarge": ("large", None),
}
VARIANT_BOXES = {variant: box for variant, box in PHOTO_SIZES.values()}

ABRIDGED_FIELDS = ["UnparsedAddress", "UnparsedFirstLineAddress", "ListingKey", "ListPrice", "ListAgentId"]
KNOWN_EXPANSIONS = {
    "Photos",
    "PrimaryPhoto",
    "Documents",
    "CustomFields",
    "CustomFieldsRaw",
    "Permissions",
    *parts.EXPANSIONS,
}
EMPTY_EXPANSIONS = {"OpenHouses", "FloPlans"}


def base_url(request) -> str:
    """Absolute URL of the sandbox root (``http://host/sandbox`` in the portal, ``http://host`` alone)."""
    return request.build_absolute_uri(reverse("sandbox:index")).rstrip("/")


def first_line_address(fields: dict[str, Any]) -> str:
    parts = [
        fields.get(name)
        for name in ("StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix", "StreetDirSuffix")
    ]
    line = " ".join(str(part) for part in parts if part not in (None, ""))
    extra = fields.get("StreetAdditionalInfo")
    return f"{line} {extra}".strip() if extra else line


def full_address(fields: dict[str, Any]) -> str:
    city_line = " ".join(
        str(part)
        for part in (fields.get("StateOrProvince"), fields.get("PostalCode"))
        if part not in (None, "")
    )
    parts = [first_line_address(fields), fields.get("City") or "", city_line]
    return ", ".join(part for part in parts if part)


def computed_fields(listing: Listing) -> dict[str, Any]:
    fields = listing.fields
    values = {
        "ListingKey": listing.spark_id,
        "ListingId": listing.listing_number or None,
        "MlsId": catalog.MLS_ID,
        "MlsStatus": "Incomplete" if listing.is_incomplete else fields.get("MlsStatus", "Active"),
        "ModificationTimestamp": iso(listing.modified_at),
        "UnparsedFirstLineAddress": first_line_address(fields),
        "UnparsedAddress": full_address(fields),
        "PhotosChangeTimestamp": iso(listing.photos_changed_at),
        "DocumentsChangeTimestamp": iso(listing.documents_changed_at),
    }
    values.update(catalog.agent_fields(fields.get("ListAgentId")))
    return values


def raw_value(listing: Listing, name: str) -> Any:
    """The unmasked value a filter or sort sees."""
    if name in {"Id", "ListingKey"}:
        return listing.spark_id
    if name == "ModificationTimestamp":
        return listing.modified_at
    if name == "StreetAddress":
        return first_line_address(listing.fields)
    if name in {"ListingId", "MlsStatus", "MlsId"} or name.startswith(("ListAgent", "ListOffice")):
        if name == "ListAgentId":
            return listing.fields.get(name)
        return computed_fields(listing).get(name)
    return listing.fields.get(name)


def standard_fields(listing: Listing, *, abridged: bool = False) -> dict[str, Any]:
    computed = computed_fields(listing)
    if abridged:
        values = {name: computed.get(name, listing.fields.get(name)) for name in ABRIDGED_FIELDS}
        values.update({k: v for k, v in computed.items() if k.startswith(("ListAgent", "ListOffice"))})
        values["MlsId"] = computed["MlsId"]
        values["ModificationTimestamp"] = computed["ModificationTimestamp"]
        return values
    property_type = listing.fields.get("PropertyType")
    values = {}
    for name, spec in catalog.FIELDS.items():
        value = computed[name] if name in computed else listing.fields.get(name)
        # Not MlsVisible for this PropertyType (or never): masked, as the Listings page says.
        if not spec.visible_for or (
            property_type in catalog.TYPE_CODES and property_type not in spec.visible_for
        ):
            value = catalog.MASK
        values[name] = value
    for name, value in computed.items():
        values.setdefault(name, value)
    return values


def listing_json(
    listing: Listing,
    base: str,
    *,
    abridged: bool = False,
    select: list[str] | None = None,
    expand: set[str] = frozenset(),
) -> dict[str, Any]:
    fields = standard_fields(listing, abridged=abridged)
    if select:
        fields = {name: fields.get(name) for name in select}
    if "Photos" in expand:
        fields["Photos"] = [photo_json(p, listing, base) for p in listing.photos.all()]
    elif "PrimaryPhoto" in expand:
        fields["Photos"] = [photo_json(p, listing, base) for p in listing.photos.all() if p.primary]
    if "Documents" in expand:
        fields["Documents"] = [document_json(d, listing, base) for d in listing.documents.all()]
    part_expansions = expand & set(parts.EXPANSIONS)
    if part_expansions:
        records = list(listing.parts.all())
        for name in sorted(part_expansions):
            fields[name] = parts.expansion_json(listing, name, records)
    for name in EMPTY_EXPANSIONS & expand:
        fields[name] = []
    body: dict[str, Any] = {
        "ResourceUri": listing.owner_path,
        "Id": listing.spark_id,
        "StandardFields": fields,
    }
    if "CustomFields" in expand or "CustomFieldsRaw" in expand:
        body["CustomFields"] = custom_fields_json(listing.custom_fields)
    if "Permissions" in expand:
        body["Permissions"] = permissions_json(listing)
    return body


def custom_fields_json(custom: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``{"Group": {"Field": v}}`` as the Listings page nests it: ``[{"Main": [{"Group": [{"F": v}]}]}]``."""
    groups = [{group: [{name: value} for name, value in values.items()]} for group, values in custom.items()]
    return [{"Main": groups}] if groups else []


def permissions_json(listing: Listing) -> dict[str, Any]:
    mine = listing.fields.get("ListAgentId") in (None, catalog.USER_AGENT_ID)
    return {
        "Editable": mine,
        "EditableSettings": {
            name: mine
            for name in (
                "Photos",
                "Documents",
                "Videos",
                "VirtualTours",
                "PriceChange",
                "StatusChange",
                "BrokerTours",
                "OpenHouses",
                "TourOfHomes",
                "AddListing",
                "ChangeListing",
            )
        },
        "AvailableStandardStatusChanges": [] if listing.is_incomplete else ["Active", "Pending", "Closed"],
    }


def photo_urls(photo: Photo, base: str) -> dict[str, str]:
    key = photo.blob.sha256[:16]
    return {
        attribute: f"{base}/files/photos/{photo.spark_id}/{key}/{variant}.jpg"
        for attribute, (variant, _box) in PHOTO_SIZES.items()
    }


def photo_json(photo: Photo, listing: Listing, base: str) -> dict[str, Any]:
    return {
        "ResourceUri": f"{listing.owner_path}/photos/{photo.spark_id}",
        "Id": photo.spark_id,
        "Name": photo.name,
        "Caption": photo.caption,
        **photo_urls(photo, base),
        "Primary": photo.primary,
    }


def document_json(document: Document, listing: Listing, base: str) -> dict[str, Any]:
    return {
        "ResourceUri": f"{listing.owner_path}/documents/{document.spark_id}",
        "Id": document.spark_id,
        "Name": document.name,
        "Uri": f"{base}/files/documents/{document.spark_id}/{quote(document.file_name)}",
        "Privacy": document.privacy,
    }
