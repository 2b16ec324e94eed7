"""Incomplete listings, listings, validation and flexmls updates.

docs/spark-protocol.md#incomplete-listings, docs/spark-protocol.md#listings, docs/spark-protocol.md#validation
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import connection, transaction
from django.http import HttpResponse

from . import catalog, listing_rules, query
from .config import new_spark_id, now, option
from .envelope import invalid, not_found, success
from .models import Listing
from .pipeline import Api
from .representation import listing_json


@functools.cache
def _listing_sql() -> str:
    # Written out because nearly every API request looks a listing up by Id: compiling the same ORM
    # query each time nearly doubled its cost. Only the quoted table name is formatted in; the values
    # are parameters.
    table = connection.ops.quote_name(Listing._meta.db_table)
    return f"SELECT * FROM {table} WHERE spark_id = %s AND is_incomplete = %s"  # noqa: S608


def get_listing(spark_id: str, *, incomplete: bool) -> Listing:
    listing = next(iter(Listing.objects.raw(_listing_sql(), [spark_id, incomplete])), None)
    if listing is None:
        raise not_found("Incomplete listing" if incomplete else "Listing")
    return listing


def _creation(listing: Listing, **extra: Any) -> HttpResponse:
    # 200 or 201 on creation is unconfirmed (docs/spark-protocol.md#open-creation-status).
    return success(
        [{"ResourceUri": listing.owner_path, "Id": listing.spark_id}], status=option("create_status"), **extra
    )


def _search(api: Api, listings: list[Listing], *, incomplete: bool, abridged: bool, near: bool = False):
    listings = query.apply_filter(listings, api.query.get("_filter"), incomplete=incomplete)
    if near:
        listings = query.nearby(listings, api.query)
    else:
        listings = query.apply_orderby(listings, api.query.get("_orderby"))
    paging = query.paging(api.query)
    page, pagination = query.paginate(listings, paging)
    expand = query.expansions(api.query)
    query.prefetch_media(page, expand)
    select = query.select_fields(api.query)
    base = api.base
    results = [listing_json(item, base, abridged=abridged, select=select, expand=expand) for item in page]
    extra = {"Pagination": pagination} if pagination else {}
    return success(results, **extra)


def _one(api: Api, listing: Listing) -> HttpResponse:
    expand = query.expansions(api.query)
    query.prefetch_media([listing], expand)
    return success([listing_json(listing, api.base, select=query.select_fields(api.query), expand=expand)])


def _stamp(listing: Listing) -> None:
    listing.modified_at = now()


# --- incomplete listings ------------------------------------------------------------------------------


def incomplete_list(api: Api) -> HttpResponse:
    return _search(api, list(Listing.objects.incomplete()), incomplete=True, abridged=True)


def incomplete_nearby(api: Api) -> HttpResponse:
    return _search(api, list(Listing.objects.incomplete()), incomplete=True, abridged=True, near=True)


def incomplete_create(api: Api) -> HttpResponse:
    payload = listing_rules.clean(api.data())
    if payload.invalid:
        raise listing_rules.fatal(payload.record, payload.invalid)
    fields = {"ListAgentId": catalog.USER_AGENT_ID, **payload.fields}
    warnings = listing_rules.violations(fields, warning=True)
    moment = now()
    listing = Listing.objects.create(
        spark_id=new_spark_id(),
        is_incomplete=True,
        fields=fields,
        custom_fields=payload.custom,
        created_at=moment,
        modified_at=moment,
    )
    extra = {"Errors": listing_rules.errors_json(payload.record, warnings)} if warnings else {}
    return _creation(listing, **extra)


def incomplete_get(api: Api, incomplete_id: str) -> HttpResponse:
    return _one(api, get_listing(incomplete_id, incomplete=True))


def _update(api: Api, listing: Listing, *, warning: bool) -> HttpResponse:
    payload = listing_rules.clean(api.data())
    if payload.invalid:
        raise listing_rules.fatal(payload.record, payload.invalid)
    merged = listing_rules.merge(listing.fields, payload.fields)
    problems = listing_rules.violations(merged, warning=warning)
    if problems and not warning:
        raise listing_rules.fatal(payload.record, problems)
    custom = listing_rules.merge_custom(listing.custom_fields, payload.custom)
    if merged != listing.fields or custom != listing.custom_fields:
        listing.fields, listing.custom_fields = merged, custom
        _stamp(listing)
        listing.save(update_fields=["fields", "custom_fields", "modified_at"])
    extra = {"Errors": listing_rules.errors_json(payload.record, problems)} if problems else {}
    return success(**extra)


def incomplete_update(api: Api, incomplete_id: str) -> HttpResponse:
    with transaction.atomic():
        return _update(api, get_listing(incomplete_id, incomplete=True), warning=True)


def incomplete_delete(api: Api, incomplete_id: str) -> HttpResponse:
    get_listing(incomplete_id, incomplete=True).delete()
    return success()


def _listing_number(listing: Listing) -> str:
    return f"{listing.created_at.year % 100:02d}-{listing.pk:04d}"


def incomplete_promote(api: Api, incomplete_id: str) -> HttpResponse:
    # Not a documented call (docs/spark-protocol.md#open-promotion-call): only with option
    # ``promotion_endpoint``.
    if not option("promotion_endpoint"):
        raise not_found("Resource")
    with transaction.atomic():
        listing = get_listing(incomplete_id, incomplete=True)
        problems = listing_rules.violations(listing.fields, warning=False)
        if problems:
            raise listing_rules.fatal(listing.fields, problems)
        listing.is_incomplete = False
        listing.listing_number = _listing_number(listing)
        _stamp(listing)
        listing.save(update_fields=["is_incomplete", "listing_number", "modified_at"])
    return success([{"ResourceUri": listing.owner_path, "Id": listing.spark_id}])


# --- listings -----------------------------------------------------------------------------------------


def listings_search(api: Api, contact_id: str | None = None) -> HttpResponse:
    return _search(api, list(Listing.objects.complete()), incomplete=False, abridged=False)


def listings_nearby(api: Api, contact_id: str | None = None) -> HttpResponse:
    return _search(api, list(Listing.objects.complete()), incomplete=False, abridged=False, near=True)


def listings_my(api: Api) -> HttpResponse:
    mine = [
        item for item in Listing.objects.complete() if item.fields.get("ListAgentId") == catalog.USER_AGENT_ID
    ]
    return _search(api, mine, incomplete=False, abridged=False)


def listings_office(api: Api) -> HttpResponse:
    office = [
        item
        for item in Listing.objects.complete()
        if catalog.agent_fields(item.fields.get("ListAgentId"))["ListOfficeId"] == catalog.USER_OFFICE_ID
    ]
    return _search(api, office, incomplete=False, abridged=False)


def listings_company(api: Api) -> HttpResponse:
    return _search(api, list(Listing.objects.complete()), incomplete=False, abridged=False)


def listings_create(api: Api) -> HttpResponse:
    payload = listing_rules.clean(api.data())
    fields = {"ListAgentId": catalog.USER_AGENT_ID, **payload.fields}
    problems = payload.invalid + listing_rules.violations(fields, warning=False)
    if problems:
        raise listing_rules.fatal(payload.record, problems)
    moment = now()
    with transaction.atomic():
        listing = Listing.objects.create(
            spark_id=new_spark_id(),
            is_incomplete=False,
            fields=fields,
            custom_fields=payload.custom,
            created_at=moment,
            modified_at=moment,
        )
        listing.listing_number = _listing_number(listing)
        listing.save(update_fields=["listing_number"])
    return _creation(listing)


def listings_get(api: Api, listing_id: str, contact_id: str | None = None) -> HttpResponse:
    return _one(api, get_listing(listing_id, incomplete=False))


def listings_update(api: Api, listing_id: str) -> HttpResponse:
    with transaction.atomic():
        return _update(api, get_listing(listing_id, incomplete=False), warning=False)


def listings_validate(api: Api) -> HttpResponse:
    """Checks a creation payload as POST /v1/listings would; stores nothing."""
    payload = listing_rules.clean(api.data())
    fields = {"ListAgentId": catalog.USER_AGENT_ID, **payload.fields}
    problems = payload.invalid + listing_rules.violations(fields, warning=False)
    if problems:
        raise listing_rules.fatal(payload.record, problems)
    return success()


def listings_validate_update(api: Api, listing_id: str) -> HttpResponse:
    listing = get_listing(listing_id, incomplete=False)
    payload = listing_rules.clean(api.data())
    merged = listing_rules.merge(listing.fields, payload.fields)
    problems = payload.invalid + listing_rules.violations(merged, warning=False)
    if problems:
        raise listing_rules.fatal(payload.record, problems)
    return success()


def flexmls_update(api: Api, listing_id: str) -> HttpResponse:
    """``PUT /v1/flexmls/listings/{Id}``: ListPrice or a future ExpirationDate only.

    docs/spark-protocol.md#listings
    """
    data = api.data()
    if not data or set(data) - {"ListPrice", "ExpirationDate"}:
        raise invalid("Only ListPrice or ExpirationDate can be changed here")
    payload = listing_rules.clean(data)
    if payload.invalid:
        raise listing_rules.fatal(payload.record, payload.invalid)
    expiration = payload.fields.get("ExpirationDate")
    if expiration is not None and dt.date.fromisoformat(expiration) <= now().date():
        raise invalid("ExpirationDate must be in the future", Violations=["ExpirationDate"])
    with transaction.atomic():
        return _update(api, get_listing(listing_id, incomplete=False), warning=False)
