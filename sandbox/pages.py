"""The read-only HTML page at the sandbox root: what the emulated MLS holds right now (staff only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .access import staff_or_control_token
from .config import db_guard, iso
from .models import Listing
from .parts import labelled_fields
from .representation import base_url, full_address, photo_urls


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    with db_guard():
        return _render_index(request)


# Every office's listings are on the page: staff (or the control token) only.
index = staff_or_control_token(index, page=True)


def _render_index(request: HttpRequest) -> HttpResponse:
    base = base_url(request)
    listings = []
    for listing in Listing.objects.with_media():
        listings.append(
            {
                "id": listing.spark_id,
                "kind": "Incomplete listing" if listing.is_incomplete else "Listing",
                "number": listing.listing_number,
                "address": full_address(listing.fields) or "(no address yet)",
                "modified": iso(listing.modified_at),
                "fields": sorted(listing.fields.items()),
                "custom": sorted(
                    (f"{group}: {name}", value)
                    for group, values in listing.custom_fields.items()
                    for name, value in values.items()
                ),
                "photos": [
                    {"photo": photo, "urls": photo_urls(photo, base)} for photo in listing.photos.all()
                ],
                "documents": list(listing.documents.all()),
                "open_houses": [] if listing.is_incomplete else list(listing.open_houses.all()),
                "document_base": f"{base}/files/documents",
                **_parts(listing),
            }
        )
    return render(
        request,
        "sandbox/index.html",
        {
            "incomplete": [item for item in listings if item["kind"] == "Incomplete listing"],
            "complete": [item for item in listings if item["kind"] == "Listing"],
        },
    )


def _parts(listing: Listing) -> dict[str, list]:
    """Rooms and units as (label, value) rows of the set fields; tours and videos as records."""
    property_type = listing.fields.get("PropertyType")
    found: dict[str, list] = {"rooms": [], "units": [], "virtualtours": [], "videos": []}
    for record in listing.parts.all():
        if record.collection in ("rooms", "units"):
            rows = [
                (label, value)
                for entry in labelled_fields(record, property_type)
                for label, value in entry.items()
                if value not in (None, "")
            ]
            found[record.collection].append({"record": record, "rows": rows})
        else:
            found[record.collection].append({"record": record, **record.attributes})
    return found
