"""The control interface under ``_control/`` (a fixed contract with the client's tests): reset, faults,
calls, expire_tokens, state; plus options and clock. JSON in and out, 404 unless
``SPARK_SANDBOX_CONTROL_ENABLED``; a staff session or the control token (see access.py). Never
journaled, never faulted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import faults, parts
from .access import staff_or_control_token
from .config import DEFAULTS, db_guard, iso, load_config, now, options, release_config, use_config
from .envelope import failure
from .models import (
    AccessToken,
    Blob,
    Call,
    FaultRule,
    GrantCode,
    Listing,
    SandboxConfig,
    Ticket,
)


def control(*methods: str) -> Callable:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def allowed(request: HttpRequest) -> HttpResponse:
            if request.method not in methods:
                return failure(405, 405, "Method not allowed")
            try:
                body = json.loads(request.body or b"{}") if request.method in {"POST", "PUT"} else {}
            except ValueError:
                return JsonResponse({"error": "The body is not valid JSON"}, status=400)
            if not isinstance(body, dict):
                return JsonResponse({"error": "The body must be a JSON object"}, status=400)
            with db_guard():
                return view(request, body)

        guarded = staff_or_control_token(allowed)

        @csrf_exempt  # guarded checks CSRF itself, for sessions only
        @wraps(view)
        def wrapper(request: HttpRequest) -> HttpResponse:
            if not settings.SPARK_SANDBOX_CONTROL_ENABLED:
                return failure(404, 404, "Not found")
            return guarded(request)

        return wrapper

    return decorate


@control("POST")
def reset(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """Wipe the MLS, tokens, tickets, the journal, faults, options and the clock offset.

    A fresh config row then takes the faults of setting ``SPARK_SANDBOX_FAULTS`` (none by default).
    """
    with transaction.atomic():
        Listing.objects.all().delete()  # cascades to photos, documents, aliases, tickets
        Ticket.objects.all().delete()
        Blob.objects.all().delete()  # cascades to renditions
        AccessToken.objects.all().delete()
        GrantCode.objects.all().delete()
        Call.objects.all().delete()
        FaultRule.objects.all().delete()
        SandboxConfig.objects.all().delete()
    load_config()
    return JsonResponse({"reset": True})


@control("GET", "POST", "DELETE")
def fault_rules(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    if request.method == "POST":
        try:
            faults.install(body)
        except faults.FaultSpecError as error:
            return JsonResponse({"error": str(error)}, status=400)
    elif request.method == "DELETE":
        faults.clear()
    return JsonResponse(faults.describe(load_config()))


@control("GET")
def calls(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """``?since=<id>``: only newer journal entries; ``?route=``: one route's (counts stay whole)."""
    since = request.GET.get("since")
    return JsonResponse(
        faults.journal(int(since) if since and since.isdigit() else None, request.GET.get("route"))
    )


@control("POST")
def expire_tokens(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    expired = AccessToken.objects.update(expires_at=now() - dt.timedelta(seconds=1))
    return JsonResponse({"expired": expired})


@control("GET")
def state(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    dump: dict[str, list[dict[str, Any]]] = {"listings": [], "incomplete_listings": []}
    for listing in Listing.objects.with_media():
        dump["incomplete_listings" if listing.is_incomplete else "listings"].append(
            {
                "Id": listing.spark_id,
                "ListingId": listing.listing_number or None,
                "StandardFields": listing.fields,
                "CustomFields": listing.custom_fields,
                "ModificationTimestamp": iso(listing.modified_at),
                "Photos": [
                    {
                        "Id": photo.spark_id,
                        "Name": photo.name,
                        "Caption": photo.caption,
                        "Primary": photo.primary,
                        "Order": photo.position,
                        "FileName": photo.file_name,
                        "sha256": photo.blob.sha256,
                    }
                    for photo in listing.photos.all()
                ],
                "Documents": [
                    {
                        "Id": document.spark_id,
                        "Name": document.name,
                        "Privacy": document.privacy,
                        "Order": document.position,
                        "FileName": document.file_name,
                        "sha256": document.blob.sha256,
                    }
                    for document in listing.documents.all()
                ],
                **_parts_state(listing),
            }
        )
    return JsonResponse(dump)


def _parts_state(listing: Listing) -> dict[str, list[dict[str, Any]]]:
    """Rooms, units, tours and videos in order, rooms and units keyed by attribute name."""
    records = list(listing.parts.all())
    return {
        parts.REORDER_KEYS[collection]: [
            {**parts.record_json(record, listing, raw=True), "Order": record.position}
            for record in sorted(records, key=lambda item: (item.position, item.pk))
            if record.collection == collection
        ]
        for collection in parts.COLLECTIONS
    }


@control("GET", "POST", "DELETE")
def option_overrides(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """POST merges ``{"name": value}`` into the run-time overrides; DELETE drops them all."""
    config = load_config()
    if request.method == "POST":
        unknown = set(body) - set(DEFAULTS)
        if unknown:
            return JsonResponse({"error": f"unknown options: {sorted(unknown)}"}, status=400)
        config.options = {**(config.options or {}), **body}
        config.save(update_fields=["options"])
    elif request.method == "DELETE":
        config.options = {}
        config.save(update_fields=["options"])
    return JsonResponse({"options": options_for(config), "overrides": config.options})


def options_for(config: SandboxConfig) -> dict[str, Any]:
    token = use_config(config)
    try:
        return options()
    finally:
        release_config(token)


@control("GET", "POST")
def clock(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    """The sandbox clock (ticket/token expiry).

    ``{"offset_seconds": n}`` sets the offset from real time, ``{"advance_seconds": n}`` adds to it.
    """
    config = load_config()
    if request.method == "POST":
        try:
            if "offset_seconds" in body:
                config.clock_offset_seconds = float(body["offset_seconds"])
            if "advance_seconds" in body:
                config.clock_offset_seconds += float(body["advance_seconds"])
        except (TypeError, ValueError):
            return JsonResponse({"error": "offset_seconds/advance_seconds must be numbers"}, status=400)
        config.save(update_fields=["clock_offset_seconds"])
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=config.clock_offset_seconds)
    return JsonResponse({"now": iso(moment), "offset_seconds": config.clock_offset_seconds})
