"""Rooms, units, virtual tours and videos of listings and incomplete listings alike
(docs/spark-protocol.md#listing-parts), and the tour and video metadata services.

Documented, and emulated as the pages say:

- ``GET {owner}/rooms`` (and ``/units``): ``Fields`` is a list of one-key objects keyed by the
  MLS's label; ``GET {owner}/rooms/raw``: keyed by attribute name. ``POST {owner}/rooms`` takes
  ``{"D": {"Fields": {attribute: value}}}`` keyed by attribute name; PUT and DELETE on the
  collections and every verb but GET on ``/raw`` answer 405.
- Virtual tours and videos: collection GET, POST and the reorder PUT
  (``{"VirtualTours": [{"Id"}, ...]}``, ``{"Videos": [...]}``), individual GET, PUT (same body as
  POST) and DELETE; ``Type`` branded or unbranded; records sharing a ``GroupId`` are the two
  variants of one tour or video. ``/v1/listings[/incomplete]/{virtualtours,videos}/meta``.

Assumed where the pages are thin (docs/spark-protocol.md#open-listing-parts):

- rooms and units answer individual GET, PUT and DELETE at ``{owner}/rooms/{Id}`` (and
  ``/rooms/raw/{Id}`` GET), and the reorder PUT ``{"Rooms": [{"Id"}, ...]}``, as tours and videos
  document;
- a room or unit body is checked against the rooms/units metadata (sandbox/meta_catalog.py) of the
  listing's ``PropertyType``: an attribute that is not a field, is not MlsVisible for the type
  (units: only "B" Multi Family), or a value outside the field's list, is a 400/1053 whose
  ``Errors`` hold one ``InvalidAttribute`` per attribute inside an ``InvalidRecord`` (the shape the
  listing services use). Values are strings or null; a multi-select value is comma-joined;
- the labelled and raw reads list every field visible for the type (null when unset);
- a PUT replaces the whole record (rooms/units: ``Fields``; tours/videos: the POST body, their
  ``GroupId`` kept when the PUT omits it), so a client sends everything, as it does on POST;
- the POST answer is ``{"Success": true, "Results": [{"Id", "ResourceUri"}]}`` (201, option
  ``create_status``); without ``GroupId`` a tour or video gets a new one (read it back with GET);
  a ``GroupId`` that is not one of the listing's tours (videos) is a 400, and so is a second
  record of the same ``Type`` in one group;
- ``Privacy`` (Public, Private, Automatic) is an attribute of the tour or video body; absent, the
  metadata's ``Default`` (Private, the pages' example); reads add ``CurrentPrivacy``;
- tours need an http(s) ``Uri``, videos an ``ObjectHtml`` (not sanitised); ``Name`` is required;
- a reorder must list exactly the collection's current Ids, each once;
- branded records are refused when option ``branded_parts_enabled`` is off (the meta's
  ``Branding.Enabled``);
- promoting an incomplete listing keeps its parts (they hang on the same record); deleting a
  listing deletes them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.http import HttpResponse

from . import parts
from .api_media import owner
from .config import new_spark_id, now, option
from .envelope import invalid, not_found, success
from .models import Listing, PartRecord
from .pipeline import Api


def _records(listing: Listing, collection: str):
    return PartRecord.objects.filter(listing=listing, collection=collection).order_by("position", "id")


def _find(listing: Listing, collection: str, part_id: str) -> PartRecord:
    record = _records(listing, collection).filter(spark_id=part_id).first()
    if record is None:
        raise not_found(parts.SINGULAR[collection].capitalize())
    return record


def _lock(listing: Listing) -> None:
    """Serialise writers of one listing's parts (a row lock on PostgreSQL)."""
    list(Listing.objects.select_for_update().filter(pk=listing.pk).values_list("pk", flat=True))


def _touch(listing: Listing) -> None:
    listing.modified_at = now()
    listing.save(update_fields=["modified_at"])


def _renumber(records: list[PartRecord]) -> None:
    for index, record in enumerate(records, start=1):
        record.position = index
    PartRecord.objects.bulk_update(records, ["position"])


# --- reads ----------------------------------------------------------------------------------------


def parts_list(api: Api, collection: str, raw: bool = False, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    return success([parts.record_json(r, listing, raw=raw) for r in _records(listing, collection)])


def parts_get(api: Api, collection: str, part_id: str, raw: bool = False, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    return success([parts.record_json(_find(listing, collection, part_id), listing, raw=raw)])


# --- writes ---------------------------------------------------------------------------------------


def _clean(collection: str, listing: Listing, api: Api) -> tuple[dict[str, Any], str | None]:
    """(attributes to store, GroupId asked for)."""
    data = api.data()
    if collection in parts.FIELD_SPECS:
        return parts.clean_fields(collection, listing, data), None
    cleaned = parts.clean_link(collection, data, branding_enabled=bool(option("branded_parts_enabled")))
    return cleaned, cleaned.pop("GroupId", None)


def _check_group(listing: Listing, collection: str, group_id: str, kind: str, exclude: int | None) -> None:
    """A given GroupId must be one of the listing's; one record per Type per group."""
    members = _records(listing, collection).filter(group_id=group_id)
    if not members.exists():
        raise invalid(f"GroupId {group_id} is not a group of this listing's {collection}")
    if exclude is not None:
        members = members.exclude(pk=exclude)
    if any(member.attributes.get("Type") == kind for member in members):
        raise invalid(f"Group {group_id} already has a {kind} {parts.SINGULAR[collection]}")


def parts_create(api: Api, collection: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    attributes, group_id = _clean(collection, listing, api)
    with transaction.atomic():
        _lock(listing)
        if collection in parts.LINK_KEYS:
            if group_id is None:
                group_id = new_spark_id()
            else:
                _check_group(listing, collection, group_id, attributes["Type"], exclude=None)
        last = _records(listing, collection).aggregate(last=Max("position"))["last"] or 0
        record = PartRecord.objects.create(
            listing=listing,
            collection=collection,
            spark_id=new_spark_id(),
            group_id=group_id or "",
            position=last + 1,
            attributes=attributes,
            modified_at=now(),
        )
        _touch(listing)
    result = {"Id": record.spark_id, "ResourceUri": f"{listing.owner_path}/{collection}/{record.spark_id}"}
    return success([result], status=option("create_status"))


def parts_update(api: Api, collection: str, part_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    attributes, group_id = _clean(collection, listing, api)
    with transaction.atomic():
        _lock(listing)
        record = _find(listing, collection, part_id)
        if collection in parts.LINK_KEYS:
            group_id = group_id or record.group_id
            _check_group(listing, collection, group_id, attributes["Type"], exclude=record.pk)
            record.group_id = group_id
        record.attributes = attributes
        record.modified_at = now()
        record.save(update_fields=["attributes", "group_id", "modified_at"])
        _touch(listing)
    return success()


def parts_delete(api: Api, collection: str, part_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    with transaction.atomic():
        _lock(listing)
        _find(listing, collection, part_id).delete()
        _renumber(list(_records(listing, collection)))
        _touch(listing)
    return success()


def parts_reorder(api: Api, collection: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    key = parts.REORDER_KEYS[collection]
    entries = api.data().get(key)
    if not isinstance(entries, list) or not all(isinstance(e, dict) and set(e) == {"Id"} for e in entries):
        raise invalid(f'{key} must be a list of {{"Id": ...}}, only Id in each entry')
    wanted = [entry["Id"] for entry in entries]
    with transaction.atomic():
        _lock(listing)
        records = list(_records(listing, collection))
        by_id = {record.spark_id: record for record in records}
        if len(set(wanted)) != len(wanted) or set(wanted) != set(by_id):
            raise invalid(f"The reorder must list each of the {len(records)} current {collection} Ids once")
        _renumber([by_id[part_id] for part_id in wanted])
        _touch(listing)
    return success()


# --- metadata -------------------------------------------------------------------------------------


def media_meta(api: Api) -> HttpResponse:
    return success([parts.media_meta(branding_enabled=bool(option("branded_parts_enabled")))])
