"""Collection parameters: paging, ``_filter``, ``_orderby``, ``_select``, ``_expand``, and proximity
(``_lat``/``_lon``, optional ``_distance``/``_units``); docs/spark-protocol.md#collection-parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, prefetch_related_objects

from . import catalog, parts, sparkql
from .config import now, option
from .envelope import ApiError, invalid, missing
from .models import Document, Listing, PartRecord, Photo
from .representation import EMPTY_EXPANSIONS, KNOWN_EXPANSIONS, raw_value

DEFAULT_LIMIT = 10
MAX_LIMIT = 25
MAX_PAGE = 100_000
MAX_SKIP = 2_500_000


@dataclass
class Paging:
    limit: int
    page: int
    skip: int | None
    mode: str  # "0", "1" or "count"


def _int_param(query, name: str, default: int | None) -> int | None:
    text = query.get(name)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None


def paging(query) -> Paging:
    limit = _int_param(query, "_limit", DEFAULT_LIMIT)
    if limit < 0:
        raise invalid("_limit must be >= 0")
    if limit > MAX_LIMIT:
        # Clamp or reject is unconfirmed (docs/spark-protocol.md#open-limit-above-maximum).
        if option("limit_over_max") == "clamp":
            limit = MAX_LIMIT
        else:
            raise invalid(f"_limit must be <= {MAX_LIMIT}")
    page = _int_param(query, "_page", 1)
    if not 1 <= page <= MAX_PAGE:
        raise invalid(f"_page must be between 1 and {MAX_PAGE}")
    skip = _int_param(query, "_skip", None)
    if skip is not None and not 0 <= skip <= MAX_SKIP:
        raise invalid(f"_skip must be between 0 and {MAX_SKIP}")
    mode = query.get("_pagination", "0") or "0"
    if mode not in {"0", "1", "count"}:
        raise invalid("_pagination must be 0, 1 or count")
    return Paging(limit, page, skip, mode)


def paginate(items: list[Any], spec: Paging) -> tuple[list[Any], dict[str, Any] | None]:
    total = len(items)
    pages = math.ceil(total / spec.limit) if spec.limit else 0
    if spec.skip is not None:
        window = items[spec.skip : spec.skip + spec.limit]
        pagination = {
            "TotalRows": total,
            "PageSize": spec.limit,
            "TotalPages": pages,
            "CurrentOffset": spec.skip,
        }
    else:
        start = (spec.page - 1) * spec.limit
        window = items[start : start + spec.limit]
        pagination = {
            "TotalRows": total,
            "PageSize": spec.limit,
            "TotalPages": pages,
            "CurrentPage": spec.page,
        }
    if spec.mode == "count":
        return [], pagination
    return window, pagination if spec.mode == "1" else None


def filter_field_types(*, incomplete: bool) -> dict[str, str]:
    types = {name: spec.type for name, spec in catalog.FIELDS.items() if spec.searchable}
    types.update(
        {
            "Id": "Character",
            "ListingKey": "Character",
            "StreetAddress": "Character",
            "Location": "Location",
            "ListOfficeId": "Character",
        }
    )
    if incomplete:
        return {name: kind for name, kind in types.items() if name in catalog.INCOMPLETE_SEARCHABLE}
    return types


def apply_filter(listings: list[Listing], text: str | None, *, incomplete: bool) -> list[Listing]:
    if not text:
        return listings
    try:
        tree = sparkql.parse(text, filter_field_types(incomplete=incomplete))
    except sparkql.FilterError as error:
        raise ApiError(
            400, error.code, f"Invalid _filter: {error.message}", SparkQLErrors=error.sparkql_errors(text)
        ) from None
    context = sparkql.Context(now=now(), distance_units=option("distance_units"))
    return [
        listing
        for listing in listings
        if sparkql.matches(tree, lambda name, listing=listing: _filter_value(listing, name), context)
    ]


def _filter_value(listing: Listing, name: str) -> Any:
    if name == "ListOfficeId":
        return catalog.agent_fields(listing.fields.get("ListAgentId"))["ListOfficeId"]
    return raw_value(listing, name)


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return Decimal(str(value))
    return value


def apply_orderby(listings: list[Listing], text: str | None) -> list[Listing]:
    if not text:
        return listings
    sortable = {name for name, spec in catalog.FIELDS.items() if spec.searchable} | {"Id"}
    keys = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in sortable:
            raise invalid(f"_orderby: {name or part!r} is not a sortable field")
        keys.append((name, descending))
    ordered = list(listings)
    for name, descending in reversed(keys):
        present = [item for item in ordered if raw_value(item, name) is not None]
        absent = [item for item in ordered if raw_value(item, name) is None]
        try:
            present.sort(key=lambda item, name=name: _sort_key(raw_value(item, name)), reverse=descending)
        except TypeError:
            present.sort(key=lambda item, name=name: str(raw_value(item, name)), reverse=descending)
        ordered = present + absent  # nulls last either way
    return ordered


def select_fields(query) -> list[str] | None:
    text = query.get("_select")
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def expansions(query) -> set[str]:
    names = {name.strip() for name in (query.get("_expand") or "").split(",") if name.strip()}
    if {"Photos", "PrimaryPhoto"} <= names:
        raise invalid("Photos and PrimaryPhoto expansions cannot be combined")
    return names & (KNOWN_EXPANSIONS | EMPTY_EXPANSIONS)


def prefetch_media(listings: list[Listing], expand: set[str]) -> None:
    """One query per kind of media for a whole page (no N+1)."""
    lookups = []
    if expand & {"Photos", "PrimaryPhoto"}:
        photos = Photo.objects.live().select_related("blob").defer("blob__data").order_by("position")
        lookups.append(Prefetch("photos", queryset=photos))
    if "Documents" in expand:
        lookups.append(Prefetch("documents", queryset=Document.objects.order_by("position")))
    if expand & set(parts.EXPANSIONS):
        lookups.append(Prefetch("parts", queryset=PartRecord.objects.order_by("position", "id")))
    if lookups and listings:
        prefetch_related_objects(listings, *lookups)


def nearby(listings: list[Listing], query) -> list[Listing]:
    """Nearest first from ``_lat``/``_lon``; listings without coordinates are left out."""
    points = []
    for name in ("_lat", "_lon"):
        text = query.get(name)
        if text in (None, ""):
            raise missing(name)
        try:
            value = float(text)
        except ValueError:
            raise invalid(f"{name} must be a number") from None
        if not math.isfinite(value):
            raise invalid(f"{name} must be a number")
        points.append(value)
    lat, lon = points
    limit_miles = None
    # _distance/_units are in no source (docs/spark-protocol.md#open-proximity-parameters).
    if option("nearby_distance_param") and query.get("_distance"):
        try:
            distance = float(query["_distance"])
        except ValueError:
            raise invalid("_distance must be a number") from None
        units = query.get("_units", option("distance_units"))
        if units not in {"mi", "km"}:
            raise invalid("_units must be mi or km")
        limit_miles = distance / sparkql.KM_PER_MI if units == "km" else distance
    located = []
    for listing in listings:
        la, lo = listing.fields.get("Latitude"), listing.fields.get("Longitude")
        if not isinstance(la, int | float) or not isinstance(lo, int | float):
            continue
        miles = sparkql.haversine_miles(lat, lon, la, lo)
        if limit_miles is None or miles <= limit_miles:
            located.append((miles, listing.id, listing))
    located.sort(key=lambda item: (item[0], item[1]))
    return [listing for _miles, _id, listing in located]
