"""Client for the Spark Platform API (flexmls), the remote our drafts are pushed to: one typed
method per endpoint the portal uses. Pure Python + ``requests``; it knows nothing of Django.
Protocol facts: docs/spark-protocol.md.

What a caller can rely on:

- Every method sends one logical request and returns plain data (:class:`SparkResult`,
  :class:`Ticket`, dicts) or raises a :class:`~spark.errors.SparkError` subclass that says whether
  to retry (``transient``, ``retry_after``). Back-off, rate limiting and re-sending are the
  caller's business; the only automatic retry is the token refresh on 1020.
- ``ambiguous`` is true when a write may have been applied although no answer arrived (read
  timeout after the body was sent, connection dropped mid-response, 502/504): list the remote
  items and adopt a match before sending again.
- Tokens, passwords, client secrets, ticket tokens and file bytes never reach the log, an
  exception message or a ``repr``.
- One client may be shared by threads: the ``requests`` session pools connections and the
  token is refreshed under the :class:`~spark.tokens.TokenStore` lock, once for all waiting callers.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from spark.errors import (
    FieldError,
    SparkAuthError,
    SparkConflict,
    SparkError,
    SparkInvalidResponse,
    SparkNotFound,
    SparkTicketError,
    SparkValidationError,
    local_error,
)
from spark.metadata import MetadataServices
from spark.parts import ListingParts
from spark.responses import SparkResult, as_int, parse_response
from spark.transport import MAX_PAGE_SIZE, FilterArg, ListArg

__all__ = ["ListingRef", "SparkClient", "Ticket"]

PHOTO_NAME_MAX = 40  # docs/spark-protocol.md#photos
PHOTO_CAPTION_MAX = 1000  # docs/spark-protocol.md#photos

Privacy = Literal["Public", "DataShare", "Private", "HasEdit"]
Rotation = Literal["clockwise", "counterclockwise"]


@dataclass(frozen=True)
class Ticket:
    """A one-time upload ticket (docs/spark-protocol.md#upload-tickets). The token is a secret:
    it is kept out of ``repr``."""

    token: str = field(repr=False)
    uri: str
    service: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)

    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires_in

    def is_expired(self, now: float | None = None, margin: float = 0.0) -> bool:
        return (time.time() if now is None else now) >= self.expires_at - margin


@dataclass(frozen=True)
class ListingRef:
    """The parent of photos, documents and tickets: a listing or an incomplete listing.

    >>> ListingRef.for_incomplete("20060412165917817933000000").path
    '/v1/listings/incomplete/20060412165917817933000000'
    """

    id: str
    incomplete: bool = True

    @classmethod
    def for_listing(cls, listing_id: str) -> ListingRef:
        return cls(listing_id, incomplete=False)

    @classmethod
    def for_incomplete(cls, listing_id: str) -> ListingRef:
        return cls(listing_id, incomplete=True)

    @property
    def path(self) -> str:
        _check_id(self.id)
        prefix = "/v1/listings/incomplete" if self.incomplete else "/v1/listings"
        return f"{prefix}/{self.id}"


class SparkClient(ListingParts, MetadataServices):
    """Typed access to the Spark endpoints our portal uses (the transport, authentication and
    hooks are described on :class:`~spark.transport.SparkTransport`; the metadata services are
    in :mod:`spark.metadata`, rooms, units, tours, videos and open houses in :mod:`spark.parts`)."""

    # -- incomplete listings (docs/spark-protocol.md#incomplete-listings) ----------------------

    def list_incomplete_listings(
        self,
        *,
        filter: FilterArg = None,
        orderby: ListArg = None,
        select: ListArg = None,
        expand: ListArg = None,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | Literal["count"] | None = None,
    ) -> SparkResult:
        """GET /v1/listings/incomplete (route ``incomplete.list``)."""
        return self._list(
            "/v1/listings/incomplete",
            "incomplete.list",
            filter=filter,
            orderby=orderby,
            select=select,
            expand=expand,
            limit=limit,
            page=page,
            pagination=pagination,
        )

    def iter_incomplete_listings(self, *, page_size: int = MAX_PAGE_SIZE, **query: Any) -> Iterator[Any]:
        return self.iter_records(
            "/v1/listings/incomplete", route="incomplete.list", page_size=page_size, **query
        )

    def create_incomplete_listing(self, fields: Mapping[str, Any]) -> SparkResult:
        """POST /v1/listings/incomplete; ``result.resource_id`` is the new Id, ``warnings`` the
        rule violations Spark accepted."""
        return self.request("POST", "/v1/listings/incomplete", route="incomplete.create", body=dict(fields))

    def get_incomplete_listing(
        self, listing_id: str, *, expand: ListArg = None, select: ListArg = None
    ) -> SparkResult:
        return self._list(
            f"/v1/listings/incomplete/{_check_id(listing_id)}",
            "incomplete.get",
            expand=expand,
            select=select,
        )

    def update_incomplete_listing(self, listing_id: str, fields: Mapping[str, Any]) -> SparkResult:
        return self.request(
            "PUT",
            f"/v1/listings/incomplete/{_check_id(listing_id)}",
            route="incomplete.update",
            body=dict(fields),
        )

    def delete_incomplete_listing(self, listing_id: str) -> SparkResult:
        return self.request(
            "DELETE", f"/v1/listings/incomplete/{_check_id(listing_id)}", route="incomplete.delete"
        )

    def nearby_incomplete_listings(
        self,
        lat: float,
        lon: float,
        *,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | None = None,
        filter: FilterArg = None,
        select: ListArg = None,
    ) -> SparkResult:
        """GET /v1/listings/incomplete/nearby?_lat=&_lon= (nearest first,
        docs/spark-protocol.md#nearby)."""
        return self._list(
            "/v1/listings/incomplete/nearby",
            "incomplete.nearby",
            limit=limit,
            page=page,
            pagination=pagination,
            filter=filter,
            select=select,
            extra=_latlon(lat, lon),
        )

    # -- listings (docs/spark-protocol.md#listings, docs/spark-protocol.md#validation) ---------

    def search_listings(
        self,
        *,
        filter: FilterArg = None,
        orderby: ListArg = None,
        select: ListArg = None,
        expand: ListArg = None,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | Literal["count"] | None = None,
    ) -> SparkResult:
        """GET /v1/listings (route ``listings.search``)."""
        return self._list(
            "/v1/listings",
            "listings.search",
            filter=filter,
            orderby=orderby,
            select=select,
            expand=expand,
            limit=limit,
            page=page,
            pagination=pagination,
        )

    def iter_listings(self, *, page_size: int = MAX_PAGE_SIZE, **query: Any) -> Iterator[Any]:
        return self.iter_records("/v1/listings", route="listings.search", page_size=page_size, **query)

    def create_listing(self, fields: Mapping[str, Any]) -> SparkResult:
        return self.request("POST", "/v1/listings", route="listings.create", body=dict(fields))

    def get_listing(self, listing_id: str, *, expand: ListArg = None, select: ListArg = None) -> SparkResult:
        return self._list(
            f"/v1/listings/{_check_id(listing_id)}", "listings.get", expand=expand, select=select
        )

    def update_listing(self, listing_id: str, fields: Mapping[str, Any]) -> SparkResult:
        return self.request(
            "PUT", f"/v1/listings/{_check_id(listing_id)}", route="listings.update", body=dict(fields)
        )

    def my_listings(self, **query: Any) -> SparkResult:
        return self._list("/v1/my/listings", "listings.my", **query)

    def office_listings(self, **query: Any) -> SparkResult:
        return self._list("/v1/office/listings", "listings.office", **query)

    def company_listings(self, **query: Any) -> SparkResult:
        return self._list("/v1/company/listings", "listings.company", **query)

    def iter_scope_listings(
        self, scope: Literal["my", "office", "company"], *, page_size: int = MAX_PAGE_SIZE, **query: Any
    ) -> Iterator[Any]:
        if scope not in ("my", "office", "company"):
            raise ValueError(f"unknown listings scope: {scope!r}")
        return self.iter_records(
            f"/v1/{scope}/listings", route=f"listings.{scope}", page_size=page_size, **query
        )

    def nearby_listings(
        self,
        lat: float,
        lon: float,
        *,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | None = None,
        filter: FilterArg = None,
        select: ListArg = None,
        expand: ListArg = None,
    ) -> SparkResult:
        return self._list(
            "/v1/listings/nearby",
            "listings.nearby",
            limit=limit,
            page=page,
            pagination=pagination,
            filter=filter,
            select=select,
            expand=expand,
            extra=_latlon(lat, lon),
        )

    def validate_listing(self, fields: Mapping[str, Any]) -> SparkResult:
        """POST /v1/listings/validation: checks a creation payload; nothing is stored."""
        return self.request("POST", "/v1/listings/validation", route="listings.validate", body=dict(fields))

    def validate_listing_update(self, listing_id: str, fields: Mapping[str, Any]) -> SparkResult:
        """PUT /v1/listings/{Id}/validation: checks an update payload; nothing is stored."""
        return self.request(
            "PUT",
            f"/v1/listings/{_check_id(listing_id)}/validation",
            route="listings.validate_update",
            body=dict(fields),
        )

    # -- photos (docs/spark-protocol.md#photos) -----------------------------------------------

    def list_photos(self, listing: ListingRef) -> SparkResult:
        return self.request("GET", f"{listing.path}/photos", route="photos.list")

    def get_photo(self, listing: ListingRef, photo_id: str) -> SparkResult:
        return self.request("GET", f"{listing.path}/photos/{_check_id(photo_id)}", route="photos.get")

    def upload_photo(
        self, listing: ListingRef, picture: bytes, *, file_name: str, name: str, caption: str | None = None
    ) -> SparkResult:
        """POST .../photos with the picture base64-encoded; returns the new photo object."""
        _check_photo_text(name=name, caption=caption, name_required=True)
        if not picture:
            raise SparkValidationError(
                "the picture is empty", field_errors=[local_error("Picture", "empty")]
            )
        if not file_name:
            raise SparkValidationError(
                "FileName is required", field_errors=[local_error("FileName", "required")]
            )
        photo: dict[str, Any] = {
            "Picture": base64.b64encode(picture).decode("ascii"),
            "FileName": file_name,
            "Name": name,
        }
        if caption is not None:
            photo["Caption"] = caption
        return self.request("POST", f"{listing.path}/photos", route="photos.create", body={"Photos": [photo]})

    def update_photo(
        self,
        listing: ListingRef,
        photo_id: str,
        *,
        name: str | None = None,
        caption: str | None = None,
        primary: Literal[True] | None = None,
    ) -> SparkResult:
        """PUT .../photos/{Id} with only the given attributes. ``primary`` can only be set:
        Spark ignores ``Primary: false`` (a primary is unset only by deleting every photo)."""
        _check_photo_text(name=name, caption=caption, name_required=False)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["Name"] = name
        if caption is not None:
            changes["Caption"] = caption
        if primary is not None:
            if primary is not True:
                raise ValueError("Spark cannot unset a primary photo; set another photo primary instead")
            changes["Primary"] = True
        if not changes:
            raise ValueError("nothing to update")
        return self._put_photo(listing, photo_id, changes, route="photos.update")

    def set_photo_order(self, listing: ListingRef, photo_id: str, order: int) -> SparkResult:
        """Move one photo to 1-based position ``order``."""
        if order < 1:
            raise ValueError("order is 1-based")
        return self._put_photo(listing, photo_id, {"Order": order}, route="photos.update")

    def rotate_photo(self, listing: ListingRef, photo_id: str, direction: Rotation) -> SparkResult:
        if direction not in ("clockwise", "counterclockwise"):
            raise ValueError(f"invalid rotation: {direction!r}")
        return self._put_photo(listing, photo_id, {"Rotate": direction}, route="photos.update")

    def replace_photo(
        self,
        listing: ListingRef,
        photo_id: str,
        picture: bytes,
        *,
        file_name: str,
        name: str | None = None,
        caption: str | None = None,
    ) -> SparkResult:
        """Replace the image of a photo; Spark gives it a new ResourceUri (docs/spark-protocol.md#photos)."""
        _check_photo_text(name=name, caption=caption, name_required=False)
        if not picture or not file_name:
            raise SparkValidationError(
                "Picture and FileName are required together",
                field_errors=[local_error("Picture", "required with FileName")],
            )
        changes: dict[str, Any] = {
            "Picture": base64.b64encode(picture).decode("ascii"),
            "FileName": file_name,
        }
        if name is not None:
            changes["Name"] = name
        if caption is not None:
            changes["Caption"] = caption
        return self._put_photo(listing, photo_id, changes, route="photos.replace")

    def _put_photo(
        self, listing: ListingRef, photo_id: str, changes: dict[str, Any], route: str
    ) -> SparkResult:
        return self.request(
            "PUT", f"{listing.path}/photos/{_check_id(photo_id)}", route=route, body={"Photos": [changes]}
        )

    def reorder_photos(self, listing: ListingRef, photo_ids: Sequence[str]) -> SparkResult:
        """PUT .../photos with every photo Id in the wanted order (newer docs only,
        docs/spark-protocol.md#open-reorder-and-privacy-bodies)."""
        return self.request(
            "PUT",
            f"{listing.path}/photos",
            route="photos.reorder",
            body={"Photos": [{"Id": _check_id(pid)} for pid in photo_ids]},
        )

    def delete_photo(self, listing: ListingRef, photo_id: str) -> SparkResult:
        return self.request("DELETE", f"{listing.path}/photos/{_check_id(photo_id)}", route="photos.delete")

    def delete_photos(self, listing: ListingRef, photo_ids: Sequence[str]) -> SparkResult:
        """Batch delete: DELETE .../photos/{Id1},{Id2} (docs/spark-protocol.md#photos)."""
        ids = [_check_id(pid) for pid in photo_ids]
        if not ids:
            raise ValueError("no photo ids given")
        return self.request("DELETE", f"{listing.path}/photos/{','.join(ids)}", route="photos.batch_delete")

    # -- documents (docs/spark-protocol.md#documents-and-privacy) ------------------------------

    def list_documents(self, listing: ListingRef) -> SparkResult:
        return self.request("GET", f"{listing.path}/documents", route="documents.list")

    def reorder_documents(self, listing: ListingRef, document_ids: Sequence[str]) -> SparkResult:
        """PUT .../documents with the whole list of Ids in the wanted order."""
        return self.request(
            "PUT",
            f"{listing.path}/documents",
            route="documents.reorder",
            body={"Documents": [{"Id": _check_id(did)} for did in document_ids]},
        )

    def get_document(self, listing: ListingRef, document_id: str) -> SparkResult:
        return self.request(
            "GET", f"{listing.path}/documents/{_check_id(document_id)}", route="documents.get"
        )

    def set_document_order(self, listing: ListingRef, document_id: str, order: int) -> SparkResult:
        if order < 1:
            raise ValueError("order is 1-based")
        return self._put_document(listing, document_id, {"Documents": [{"Order": order}]})

    def rename_document(self, listing: ListingRef, document_id: str, name: str) -> SparkResult:
        if not name:
            raise SparkValidationError("Name is required", field_errors=[local_error("Name", "required")])
        return self._put_document(listing, document_id, {"Name": name})

    def set_document_privacy(self, listing: ListingRef, document_id: str, privacy: Privacy) -> SparkResult:
        if privacy not in ("Public", "DataShare", "Private", "HasEdit"):
            raise ValueError(f"invalid privacy: {privacy!r}")
        return self._put_document(listing, document_id, {"Privacy": privacy})

    def _put_document(self, listing: ListingRef, document_id: str, body: dict[str, Any]) -> SparkResult:
        # Spark takes one operation per request (docs/spark-protocol.md#documents-and-privacy).
        return self.request(
            "PUT", f"{listing.path}/documents/{_check_id(document_id)}", route="documents.update", body=body
        )

    def delete_document(self, listing: ListingRef, document_id: str) -> SparkResult:
        return self.request(
            "DELETE", f"{listing.path}/documents/{_check_id(document_id)}", route="documents.delete"
        )

    def required_documents(self, listing: ListingRef) -> SparkResult:
        """GET .../documents/required (alpha service, docs/spark-protocol.md#required-documents)."""
        return self.request("GET", f"{listing.path}/documents/required", route="documents.required")

    # -- tickets and uploads (docs/spark-protocol.md#upload-tickets) ---------------------------

    def create_photo_ticket(self, listing: ListingRef) -> Ticket:
        return self._create_ticket(listing, "/photos/tickets", "PhotoUploads")

    def create_document_ticket(self, listing: ListingRef) -> Ticket:
        return self._create_ticket(listing, "/documents/tickets", "DocumentUploads")

    def create_ticket(
        self, listing: ListingRef, service: Literal["PhotoUploads", "DocumentUploads"]
    ) -> Ticket:
        """POST .../tickets (the generic path) for either service."""
        return self._create_ticket(listing, "/tickets", service)

    def _create_ticket(self, listing: ListingRef, suffix: str, service: str) -> Ticket:
        result = self.request(
            "POST", f"{listing.path}{suffix}", route="tickets.create", body={"Service": service}
        )
        item = result.first
        if not isinstance(item, Mapping) or not item.get("Token") or not item.get("Uri"):
            raise SparkInvalidResponse(
                "ticket response without Token/Uri",
                status=result.status,
                method="POST",
                path=f"{listing.path}{suffix}",
                route="tickets.create",
                request_id=result.request_id,
                ambiguous=False,
            )
        return Ticket(
            token=str(item["Token"]),
            uri=urljoin(self.base_url + "/", str(item["Uri"])),
            service=str(item.get("Service") or service),
            expires_in=as_int(item.get("ExpiresIn")) or 0,
        )

    def upload_photo_with_ticket(
        self,
        ticket: Ticket,
        content: bytes,
        *,
        name: str,
        file_name: str = "photo.jpg",
        content_type: str = "image/jpeg",
        caption: str | None = None,
        primary: bool | None = None,
    ) -> SparkResult:
        """Multipart POST to ``ticket.uri`` without Authorization
        (docs/spark-protocol.md#photo-upload-with-a-ticket); ``resource_id`` of the result is the
        new photo Id."""
        _check_photo_text(name=name, caption=caption, name_required=True)
        fields: dict[str, str] = {"Name": name}
        if caption is not None:
            fields["Caption"] = caption
        if primary is not None:
            fields["Primary"] = "true" if primary else "false"
        return self._upload(ticket, "uploads.photo", fields, (file_name, content, content_type))

    def upload_document_with_ticket(
        self,
        ticket: Ticket,
        content: bytes,
        *,
        name: str,
        privacy: Privacy,
        file_name: str = "document.pdf",
        content_type: str = "application/pdf",
    ) -> SparkResult:
        """Multipart POST to ``ticket.uri`` without Authorization; ``privacy`` is sent as the
        lower-case ``confidentiality`` field the upload service expects
        (docs/spark-protocol.md#document-upload-with-a-ticket)."""
        if not name:
            raise SparkValidationError("Name is required", field_errors=[local_error("Name", "required")])
        if privacy not in ("Public", "DataShare", "Private", "HasEdit"):
            raise ValueError(f"invalid privacy: {privacy!r}")
        fields = {"Name": name, "confidentiality": privacy.lower()}
        return self._upload(ticket, "uploads.document", fields, (file_name, content, content_type))

    def _upload(
        self, ticket: Ticket, route: str, fields: dict[str, str], file: tuple[str, bytes, str]
    ) -> SparkResult:
        log_path = urlsplit(ticket.uri).path
        if ticket.is_expired():
            raise SparkTicketError(
                "upload ticket expired before use", method="POST", path=log_path, route=route
            )
        if not file[1]:
            raise SparkValidationError("the file is empty", field_errors=[local_error("File", "empty")])
        raw = self._send(
            "POST",
            ticket.uri,
            route=route,
            log_path=log_path,
            data={"Token": ticket.token, **fields},
            files={"File": file},
            # The ticket is the credential; requests builds the multipart Content-Type.
            headers={"Authorization": None, "Content-Type": None},
        )
        try:
            return parse_response(
                raw.status, raw.headers, raw.body, method="POST", path=log_path, route=route
            )
        except (SparkAuthError, SparkNotFound, SparkConflict) as exc:
            # No account credential was involved: a refusal here is about the ticket.
            raise _as_ticket_error(exc) from exc
        except SparkValidationError as exc:
            if exc.code in (1020, 1000) or "ticket" in exc.message.lower() or "token" in exc.message.lower():
                raise _as_ticket_error(exc) from exc
            raise

    # -- photo and document metadata (docs/spark-protocol.md#photo-and-document-metadata) ------

    def photos_meta(self, *, incomplete: bool = True) -> SparkResult:
        path = "/v1/listings/incomplete/photos/meta" if incomplete else "/v1/listings/photos/meta"
        return self.request("GET", path, route="photos.meta")

    def documents_meta(self, *, incomplete: bool = True, property_type: str | None = None) -> SparkResult:
        base = "/v1/listings/incomplete/documents" if incomplete else "/v1/listings/documents"
        path = f"{base}/propertytypes/{_check_id(property_type)}/meta" if property_type else f"{base}/meta"
        return self.request("GET", path, route="documents.meta")


def _as_ticket_error(exc: SparkError) -> SparkTicketError:
    return SparkTicketError(
        exc.message,
        status=exc.status,
        code=exc.code,
        field_errors=exc.field_errors,
        request_id=exc.request_id,
        method=exc.method,
        path=exc.path,
        route=exc.route,
        retry_after=exc.retry_after,
        ambiguous=False,
        data=exc.data,
    )


def _check_photo_text(*, name: str | None, caption: str | None, name_required: bool) -> None:
    """Spark's limits (docs/spark-protocol.md#photos), checked before any call so a doomed
    request is never sent."""
    errors: list[FieldError] = []
    if name_required and not name:
        errors.append(local_error("Name", "required"))
    if name is not None and len(name) > PHOTO_NAME_MAX:
        errors.append(local_error("Name", f"at most {PHOTO_NAME_MAX} characters"))
    if caption is not None and len(caption) > PHOTO_CAPTION_MAX:
        errors.append(local_error("Caption", f"at most {PHOTO_CAPTION_MAX} characters"))
    if errors:
        raise SparkValidationError("; ".join(f"{e.field}: {e.message}" for e in errors), field_errors=errors)


def _latlon(lat: float, lon: float) -> dict[str, str]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"invalid coordinates: {lat}, {lon}")
    return {"_lat": repr(float(lat)), "_lon": repr(float(lon))}


def _check_id(value: str) -> str:
    # Ids are path segments: refuse anything that could change the path.
    if not value or not isinstance(value, str) or any(c in value for c in "/?#%,\\ \t\r\n"):
        raise ValueError(f"invalid Spark id: {value!r}")
    return value
