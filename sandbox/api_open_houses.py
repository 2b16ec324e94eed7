"""The open houses of a live listing: ``/v1/listings/{Id}/openhouses`` (list upcoming, create) and
``/v1/listings/{Id}/openhouses/{OHId}`` (get, and our reading: PUT with the POST's body, DELETE).

Incomplete listings have none (their id answers 404). Dates go out as ``MM/DD/YYYY`` and times
as ``hh:mm AM``; times come in 12- or 24-hour form. A bad date or time, or an end not after the
start, is a 400/1053 whose ``Errors`` name the attribute. docs/spark-protocol.md#open-houses
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpResponse

from .api_listings import get_listing
from .config import new_spark_id, now
from .envelope import ApiError, not_found, success
from .models import Listing, OpenHouse
from .pipeline import Api

DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d")
TIME_FORMATS = ("%I:%M %p", "%I:%M%p", "%H:%M", "%H:%M:%S")
COMMENTS_MAX = 1000


def parse_date(value: Any) -> dt.date | None:
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(str(value).strip(), pattern).date()
        except ValueError:
            continue
    return None


def parse_time(value: Any) -> dt.time | None:
    for pattern in TIME_FORMATS:
        try:
            return dt.datetime.strptime(str(value).strip().upper(), pattern).time()
        except ValueError:
            continue
    return None


def format_time(value: dt.time) -> str:
    return value.strftime("%I:%M %p")


def open_house_json(item: OpenHouse, listing: Listing) -> dict[str, Any]:
    return {
        "Id": item.spark_id,
        "ResourceUri": f"{listing.owner_path}/openhouses/{item.spark_id}",
        "Date": item.date.strftime("%m/%d/%Y"),
        "StartTime": format_time(item.start),
        "EndTime": format_time(item.end),
        "Comments": item.comments,
    }


def _attribute_error(attribute: str, message: str) -> dict[str, Any]:
    return {"Type": "InvalidAttribute", "Attribute": attribute, "Message": message}


def _cleaned(api: Api) -> tuple[dt.date, dt.time, dt.time, str]:
    data = api.data()
    errors = []
    date = parse_date(data.get("Date"))
    start = parse_time(data.get("StartTime"))
    end = parse_time(data.get("EndTime"))
    comments = data.get("Comments") or ""
    if date is None:
        errors.append(_attribute_error("Date", "Date must be a date (MM/DD/YYYY)"))
    if start is None:
        errors.append(_attribute_error("StartTime", "StartTime must be a time (hh:mm AM)"))
    if end is None:
        errors.append(_attribute_error("EndTime", "EndTime must be a time (hh:mm AM)"))
    elif start is not None and end <= start:
        errors.append(_attribute_error("EndTime", "EndTime must be after StartTime"))
    if not isinstance(comments, str) or len(comments) > COMMENTS_MAX:
        errors.append(
            _attribute_error("Comments", f"Comments must be text of {COMMENTS_MAX} characters at most")
        )
    if errors:
        raise ApiError(400, 1053, "The open house is not valid", Errors=errors)
    assert date is not None and start is not None and end is not None
    return date, start, end, comments


def _one(listing: Listing, open_house_id: str) -> OpenHouse:
    item = OpenHouse.objects.filter(listing=listing, spark_id=open_house_id).first()
    if item is None:
        raise not_found("Open house")
    return item


def open_houses_list(api: Api, listing_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    today = now().date()
    upcoming = OpenHouse.objects.filter(listing=listing, date__gte=today)
    return success([open_house_json(item, listing) for item in upcoming])


def open_houses_create(api: Api, listing_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    date, start, end, comments = _cleaned(api)
    with transaction.atomic():
        item = OpenHouse.objects.create(
            listing=listing,
            spark_id=new_spark_id(),
            date=date,
            start=start,
            end=end,
            comments=comments,
            modified_at=now(),
        )
    return success([{"Id": item.spark_id, "ResourceUri": f"{listing.owner_path}/openhouses/{item.spark_id}"}])


def open_houses_get(api: Api, listing_id: str, open_house_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    return success([open_house_json(_one(listing, open_house_id), listing)])


def open_houses_update(api: Api, listing_id: str, open_house_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    item = _one(listing, open_house_id)
    item.date, item.start, item.end, item.comments = _cleaned(api)
    item.modified_at = now()
    item.save()
    return success([open_house_json(item, listing)])


def open_houses_delete(api: Api, listing_id: str, open_house_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    _one(listing, open_house_id).delete()
    return success([])
