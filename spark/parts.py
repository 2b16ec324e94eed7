"""The smaller parts of a listing: rooms, units, virtual tours and videos (on listings and on
incomplete listings alike), and open houses (live listings only). docs/spark-protocol.md#listing-parts.
:class:`~spark.client.SparkClient` has these methods.

The four part collections share one shape, so one set of methods serves them, named by
:data:`PartKind`:

- ``GET {listing}/{collection}`` lists them (rooms and units with the MLS's labels; ``raw=True``
  reads ``/raw``, keyed by attribute name, the form to compare with what was sent);
- ``POST {listing}/{collection}`` creates one. Rooms and units take ``{"Fields": {attribute: value}}``
  keyed by the MLS's attribute names from the Rooms/Units metadata; tours and videos a flat object
  (``Name``, ``Uri`` or ``ObjectHtml``, ``Type`` branded/unbranded, ``GroupId`` to pair the two);
- ``PUT {listing}/{collection}/{Id}`` updates and ``DELETE`` removes one;
- ``PUT {listing}/{collection}`` with every ``Id`` in the wanted order reorders them.

Where the pages are thin, our readings (all in docs/spark-protocol.md#open-listing-parts):

- rooms and units: the individual record (``/rooms/{Id}``, ``/units/{Id}``) answers PUT and DELETE,
  and the collection answers the reorder PUT, as virtual tours and videos document;
- ``Privacy`` (Public, Private, Automatic) is an attribute of the tour or video body, as on photos;
- open houses: ``/openhouses/{Id}`` answers PUT (same body as POST) and DELETE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from spark.responses import SparkResult
from spark.transport import SparkTransport

__all__ = ["OPEN_HOUSE_DATE_FORMAT", "OPEN_HOUSE_TIME_FORMAT", "PART_KINDS", "ListingParts", "PartKind"]

PartKind = Literal["rooms", "units", "virtualtours", "videos"]
PART_KINDS: tuple[PartKind, ...] = ("rooms", "units", "virtualtours", "videos")
# The key of the reorder PUT's list, per collection.
REORDER_KEYS: dict[str, str] = {
    "rooms": "Rooms",
    "units": "Units",
    "virtualtours": "VirtualTours",
    "videos": "Videos",
}
# Rooms and units wrap their attributes in "Fields"; tours and videos are flat.
WRAPPED_IN_FIELDS = frozenset({"rooms", "units"})

# How open houses spell dates and times ("10/01/2010", "09:00 AM"): strftime formats.
OPEN_HOUSE_DATE_FORMAT = "%m/%d/%Y"
OPEN_HOUSE_TIME_FORMAT = "%I:%M %p"


class HasPath(Protocol):
    """A listing or incomplete listing (:class:`~spark.client.ListingRef`)."""

    @property
    def path(self) -> str: ...


class ListingParts(SparkTransport):
    # -- rooms, units, virtual tours, videos (docs/spark-protocol.md#listing-parts) -----------

    def list_parts(self, listing: HasPath, kind: PartKind, *, raw: bool = False) -> SparkResult:
        """Every record of one collection, in the remote's order. ``raw`` (rooms and units only)
        reads the unlabelled form, ``Fields`` keyed by attribute name."""
        path = f"{listing.path}/{_collection(kind)}"
        if raw:
            if kind not in WRAPPED_IN_FIELDS:
                raise ValueError(f"{kind} has no raw form")
            path += "/raw"
        return self.request("GET", path, route=f"{kind}.list")

    def get_part(self, listing: HasPath, kind: PartKind, part_id: str) -> SparkResult:
        return self.request(
            "GET", f"{listing.path}/{_collection(kind)}/{_check_id(part_id)}", route=f"{kind}.get"
        )

    def create_part(self, listing: HasPath, kind: PartKind, attributes: Mapping[str, Any]) -> SparkResult:
        """POST one record; ``resource_id`` of the result is its Id when the remote says it."""
        return self.request(
            "POST",
            f"{listing.path}/{_collection(kind)}",
            route=f"{kind}.create",
            body=_body(kind, attributes),
        )

    def update_part(
        self, listing: HasPath, kind: PartKind, part_id: str, attributes: Mapping[str, Any]
    ) -> SparkResult:
        """PUT one record with the same body as its create."""
        return self.request(
            "PUT",
            f"{listing.path}/{_collection(kind)}/{_check_id(part_id)}",
            route=f"{kind}.update",
            body=_body(kind, attributes),
        )

    def delete_part(self, listing: HasPath, kind: PartKind, part_id: str) -> SparkResult:
        return self.request(
            "DELETE", f"{listing.path}/{_collection(kind)}/{_check_id(part_id)}", route=f"{kind}.delete"
        )

    def reorder_parts(self, listing: HasPath, kind: PartKind, part_ids: Sequence[str]) -> SparkResult:
        """PUT the collection with every Id, in the wanted order (only ``Id`` is sent)."""
        return self.request(
            "PUT",
            f"{listing.path}/{_collection(kind)}",
            route=f"{kind}.reorder",
            body={REORDER_KEYS[kind]: [{"Id": _check_id(part_id)} for part_id in part_ids]},
        )

    def virtual_tours_meta(self, *, incomplete: bool = True) -> SparkResult:
        """Branding (are branded tours allowed) and Privacy (default, options) for tours."""
        prefix = "/v1/listings/incomplete" if incomplete else "/v1/listings"
        return self.request("GET", f"{prefix}/virtualtours/meta", route="virtualtours.meta")

    def videos_meta(self, *, incomplete: bool = True) -> SparkResult:
        prefix = "/v1/listings/incomplete" if incomplete else "/v1/listings"
        return self.request("GET", f"{prefix}/videos/meta", route="videos.meta")

    # -- open houses, live listings only (docs/spark-protocol.md#open-houses) -----------------

    def list_open_houses(self, listing_id: str) -> SparkResult:
        """The listing's upcoming open houses (``Date`` MM/DD/YYYY, ``StartTime``/``EndTime``
        "hh:mm AM", ``Comments``)."""
        return self.request(
            "GET", f"/v1/listings/{_check_id(listing_id)}/openhouses", route="openhouses.list"
        )

    def create_open_house(self, listing_id: str, attributes: Mapping[str, Any]) -> SparkResult:
        return self.request(
            "POST",
            f"/v1/listings/{_check_id(listing_id)}/openhouses",
            route="openhouses.create",
            body=dict(attributes),
        )

    def update_open_house(
        self, listing_id: str, open_house_id: str, attributes: Mapping[str, Any]
    ) -> SparkResult:
        return self.request(
            "PUT",
            f"/v1/listings/{_check_id(listing_id)}/openhouses/{_check_id(open_house_id)}",
            route="openhouses.update",
            body=dict(attributes),
        )

    def delete_open_house(self, listing_id: str, open_house_id: str) -> SparkResult:
        return self.request(
            "DELETE",
            f"/v1/listings/{_check_id(listing_id)}/openhouses/{_check_id(open_house_id)}",
            route="openhouses.delete",
        )


def _collection(kind: str) -> str:
    if kind not in PART_KINDS:
        raise ValueError(f"not a listing part: {kind!r}")
    return kind


def _body(kind: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {"Fields": dict(attributes)} if kind in WRAPPED_IN_FIELDS else dict(attributes)


def _check_id(value: str) -> str:
    # Ids are path segments: refuse anything that could change the path.
    if not value or not isinstance(value, str) or any(c in value for c in "/?#%,\\ \t\r\n"):
        raise ValueError(f"invalid Spark id: {value!r}")
    return value
