"""Photos, documents, tickets and the ticket upload endpoints, for listings and incomplete listings alike.

docs/spark-protocol.md#photos, docs/spark-protocol.md#documents-and-privacy,
docs/spark-protocol.md#upload-tickets
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.http import HttpResponse, HttpResponseRedirect

from . import catalog, images
from .api_listings import get_listing
from .config import new_spark_id, now, option
from .envelope import ApiError, invalid, missing, not_allowed, not_found, success
from .models import Document, Listing, Photo, PhotoAlias, Ticket
from .pipeline import Api
from .representation import document_json, photo_json

PHOTO_PUT_KEYS = {"Id", "Picture", "FileName", "Name", "Caption", "Primary", "Order", "Rotate"}
SERVICES = {"PhotoUploads": "photos", "DocumentUploads": "documents"}


def owner(kwargs: dict[str, Any]) -> Listing:
    if kwargs.get("incomplete_id") is not None:
        return get_listing(kwargs["incomplete_id"], incomplete=True)
    return get_listing(kwargs["listing_id"], incomplete=False)


def _touch(listing: Listing, *, photos: bool = False, documents: bool = False) -> None:
    moment = now()
    listing.modified_at = moment
    fields = ["modified_at"]
    if photos:
        listing.photos_changed_at = moment
        fields.append("photos_changed_at")
    if documents:
        listing.documents_changed_at = moment
        fields.append("documents_changed_at")
    listing.save(update_fields=fields)


def _lock(listing: Listing) -> None:
    """Serialise writers of one listing's media (a row lock on PostgreSQL; SQLite locks the database)."""
    list(Listing.objects.select_for_update().filter(pk=listing.pk).values_list("pk", flat=True))


def _live_photos(listing: Listing):
    # The blob row is needed for its sha256 (the Uri* URLs), not for its bytes.
    return (
        Photo.objects.live()
        .filter(listing=listing)
        .select_related("blob")
        .defer("blob__data")
        .order_by("position", "id")
    )


def _find_photo(listing: Listing, photo_id: str) -> Photo:
    photo = _live_photos(listing).filter(spark_id=photo_id).first()
    if photo is None and option("photo_replace_keeps_old_id"):
        alias = PhotoAlias.objects.filter(old_id=photo_id, photo__listing=listing).first()
        if alias is not None:
            photo = _live_photos(listing).filter(pk=alias.photo_id).first()
    if photo is None:
        raise not_found("Photo")
    return photo


def _renumber(items: list[Any], model) -> None:
    """Positions 1..n in list order (two passes keep any future unique index on position happy)."""
    for index, item in enumerate(items, start=1):
        if item.position != index:
            item.position = index
    model.objects.bulk_update(items, ["position"])


def _move(items: list[Any], item: Any, order: int) -> list[Any]:
    """``item`` to 1-based position ``order``; an order past the end means last.

    docs/spark-protocol.md#documents-and-privacy
    """
    rest = [other for other in items if other.pk != item.pk]
    index = min(order, len(rest) + 1) - 1
    return [*rest[:index], item, *rest[index:]]


def _parse_order(value: Any) -> int:
    # The Ruby gem sends Order as a string ("2").
    try:
        order = int(value)
    except (TypeError, ValueError, OverflowError):
        raise invalid("Order must be an integer greater than 0") from None
    if isinstance(value, bool) or order <= 0:
        raise invalid("Order must be an integer greater than 0")
    return order


def _check_name(value: Any, *, limit: int, what: str = "Name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{what} must be a non-empty string")
    if len(value) > limit:
        raise invalid(f"{what} must be at most {limit} characters")
    return value


def _check_caption(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid("Caption must be a string")
    if len(value) > 1000:
        raise invalid("Caption must be at most 1000 characters")
    return value


def _one_item(data: dict[str, Any], key: str) -> dict[str, Any]:
    items = data.get(key)
    if items is None:
        return data  # the flat form {"D": {"Name": ...}} is accepted too
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise invalid(f"{key} must be a list with exactly one object")
    return items[0]


def _file_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise missing("FileName")
    return os.path.basename(value.replace("\\", "/"))[:255] or "file"


# --- photos -------------------------------------------------------------------------------------------


def photos_list(api: Api, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    base = api.base
    return success([photo_json(photo, listing, base) for photo in _live_photos(listing)])


def photos_get(api: Api, photo_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    return success([photo_json(_find_photo(listing, photo_id), listing, api.base)])


def _add_photo(listing: Listing, *, blob, name: str, caption: str, file_name: str, primary: bool) -> Photo:
    """Append a photo; the first one becomes primary. Call inside a transaction."""
    _lock(listing)
    count = Photo.objects.live().filter(listing=listing).count()
    if count >= option("photo_max_count"):
        raise invalid(f"A listing holds at most {option('photo_max_count')} photos")
    is_primary = primary or not count
    if is_primary:
        Photo.objects.live().filter(listing=listing, primary=True).update(primary=False)
    photo = Photo.objects.create(
        listing=listing,
        spark_id=new_spark_id(),
        name=name,
        caption=caption,
        file_name=file_name,
        primary=is_primary,
        position=count + 1,
        blob=blob,
        modified_at=now(),
    )
    _touch(listing, photos=True)
    return photo


def photos_create(api: Api, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    data = api.data()
    items = data.get("Photos")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise invalid("Photos must be a list with exactly one photo")
    item = items[0]
    if "Primary" in item:
        raise invalid("Primary is invalid on POST")
    for key in ("Picture", "FileName", "Name"):
        if item.get(key) in (None, ""):
            raise missing(key)
    name = _check_name(item["Name"], limit=40)
    caption = _check_caption(item.get("Caption"))
    file_name = _file_name(item["FileName"])
    blob = images.store_photo(images.decode_base64(item["Picture"]))
    with transaction.atomic():
        photo = _add_photo(listing, blob=blob, name=name, caption=caption, file_name=file_name, primary=False)
    return success([photo_json(photo, listing, api.base)], status=option("create_status"))


def photo_put_route(api: Api) -> str:
    body = api.peek()
    data = body.get("D") if isinstance(body, dict) else None
    if isinstance(data, dict):
        items = data.get("Photos")
        item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else data
        if "Picture" in item:
            return "photos.replace"
    return "photos.update"


def photos_update(api: Api, photo_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    item = _one_item(api.data(), "Photos")
    unknown = set(item) - PHOTO_PUT_KEYS
    if unknown:
        raise invalid(f"Unknown photo attributes: {', '.join(sorted(unknown))}")
    if ("Picture" in item) != ("FileName" in item):
        raise invalid("Picture and FileName must be sent together")
    name = _check_name(item["Name"], limit=40) if "Name" in item else None
    caption = _check_caption(item["Caption"]) if "Caption" in item else None
    primary = item.get("Primary")
    if primary is not None and not isinstance(primary, bool):
        raise invalid("Primary must be true or false")
    order = _parse_order(item["Order"]) if "Order" in item else None
    rotate = item.get("Rotate")
    if rotate is not None and (
        not isinstance(rotate, str) or rotate.lower() not in {"clockwise", "counterclockwise"}
    ):
        raise invalid("Rotate must be clockwise or counterclockwise")
    new_blob = images.store_photo(images.decode_base64(item["Picture"])) if "Picture" in item else None
    with transaction.atomic():
        _lock(listing)
        photo = _find_photo(listing, photo_id)
        changed: list[str] = []
        if new_blob is not None:
            # A new image gets a new Id, hence a new ResourceUri, which defeats browser caches
            # (docs/spark-protocol.md#photos).
            if option("photo_replace_keeps_old_id"):
                PhotoAlias.objects.create(old_id=photo.spark_id, photo=photo)
            photo.spark_id, photo.blob, photo.file_name = (
                new_spark_id(),
                new_blob,
                _file_name(item["FileName"]),
            )
            photo.version += 1
            changed += ["spark_id", "blob", "file_name", "version"]
        if rotate is not None:
            photo.blob = images.rotate(photo.blob, rotate.lower())
            photo.version += 1
            changed += ["blob", "version"]
        if name is not None:
            photo.name = name
            changed.append("name")
        if caption is not None:
            photo.caption = caption
            changed.append("caption")
        if primary is True and not photo.primary:
            # "Primary": false never unsets; true moves the single primary here
            # (docs/spark-protocol.md#photos).
            Photo.objects.live().filter(listing=listing, primary=True).update(primary=False)
            photo.primary = True
            changed.append("primary")
        if changed:
            photo.modified_at = now()
            photo.save(update_fields=[*set(changed), "modified_at"])
        if order is not None:
            photos = list(_live_photos(listing))
            _renumber(_move(photos, photo, order), Photo)
            photo.refresh_from_db()
        if changed or order is not None:
            _touch(listing, photos=True)
    # ``photo`` holds what was just saved (and its new position after a move, refreshed above).
    return success([photo_json(photo, listing, api.base)])


def _ordered_by_ids(items: list[Any], entries: Any, key: str) -> list[Any]:
    """The new whole-list order from ``[{"Id": ...}, ...]``; only Id is accepted.

    docs/spark-protocol.md#documents-and-privacy
    """
    if not isinstance(entries, list) or not entries:
        raise invalid(f'{key} must be a non-empty list of {{"Id": ...}}')
    by_id = {item.spark_id: item for item in items}
    ordered, seen = [], set()
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"Id"}:
            raise invalid(f'Each entry of {key} must be exactly {{"Id": ...}}')
        item = by_id.get(entry["Id"])
        if item is None:
            raise invalid(f"{entry['Id']!r} is not one of this listing's {key.lower()}")
        if item.spark_id in seen:
            raise invalid(f"{entry['Id']!r} is listed twice")
        seen.add(item.spark_id)
        ordered.append(item)
    rest = [item for item in items if item.spark_id not in seen]
    # Whether the whole list is required is unconfirmed
    # (docs/spark-protocol.md#open-reorder-and-privacy-bodies).
    if rest and option("reorder_requires_all"):
        raise invalid(f"The reorder must list all {len(items)} {key.lower()}")
    return ordered + rest


def photos_reorder(api: Api, **kwargs: Any) -> HttpResponse:
    # The older Photos page answers 405, the newer reorders
    # (docs/spark-protocol.md#open-reorder-and-privacy-bodies).
    if option("photo_collection_put") != "reorder":
        raise not_allowed()
    listing = owner(kwargs)
    entries = api.data().get("Photos")
    with transaction.atomic():
        _lock(listing)
        _renumber(_ordered_by_ids(list(_live_photos(listing)), entries, "Photos"), Photo)
        _touch(listing, photos=True)
    return success()


def photo_delete_route(api: Api) -> str:
    return "photos.batch_delete" if "," in api.kwargs.get("photo_id", "") else "photos.delete"


def photos_delete(api: Api, photo_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    ids = [part.strip() for part in photo_id.split(",") if part.strip()]
    with transaction.atomic():
        _lock(listing)
        doomed = [_find_photo(listing, pid) for pid in ids]  # all or nothing: any unknown Id is a 404
        moment = now()
        doomed_pks = {photo.pk for photo in doomed}
        Photo.objects.filter(pk__in=doomed_pks).update(
            deleted_at=moment, primary=False, version=F("version") + 1, modified_at=moment
        )
        remaining = list(_live_photos(listing))
        _renumber(remaining, Photo)
        if remaining and not any(photo.primary for photo in remaining):
            # Only deleting every photo leaves a listing without a primary (docs/spark-protocol.md#photos).
            Photo.objects.filter(pk=remaining[0].pk).update(primary=True)
        _touch(listing, photos=True)
    if len(ids) > 1:
        return success([{"Id": ",".join(ids)}])
    return success()


def photos_restore(api: Api, photo_id: str, **kwargs: Any) -> HttpResponse:
    """Undo a delete (the Ruby gem's ``rollback``: PUT .../versions/current with {"Version": n})."""
    listing = owner(kwargs)
    version = api.data().get("Version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise invalid("Version must be a positive integer")
    with transaction.atomic():
        _lock(listing)
        photo = (
            Photo.objects.filter(listing=listing, spark_id=photo_id)
            .select_related("blob")
            .defer("blob__data")
            .first()
        )
        if photo is None:
            raise not_found("Photo")
        if photo.deleted_at is not None:
            live = list(_live_photos(listing))
            photo.deleted_at = None
            photo.position = len(live) + 1
            photo.primary = not any(p.primary for p in live)
            photo.version += 1
            photo.modified_at = now()
            photo.save(update_fields=["deleted_at", "position", "primary", "version", "modified_at"])
            _touch(listing, photos=True)
    return success([photo_json(photo, listing, api.base)], Version=photo.version)


def photos_meta(api: Api) -> HttpResponse:
    return success([catalog.PHOTOS_META])


# --- documents ----------------------------------------------------------------------------------------


def _documents(listing: Listing):
    return Document.objects.filter(listing=listing).order_by("position", "id")


def _find_document(listing: Listing, document_id: str) -> Document:
    document = _documents(listing).filter(spark_id=document_id).first()
    if document is None:
        raise not_found("Document")
    return document


def documents_list(api: Api, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    base = api.base
    return success([document_json(document, listing, base) for document in _documents(listing)])


def documents_get(api: Api, document_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    return success([document_json(_find_document(listing, document_id), listing, api.base)])


def documents_reorder(api: Api, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    entries = api.data().get("Documents")
    with transaction.atomic():
        _lock(listing)
        _renumber(_ordered_by_ids(list(_documents(listing)), entries, "Documents"), Document)
        _touch(listing, documents=True)
    return success()


def _check_privacy(value: Any) -> str:
    if value not in catalog.PRIVACY_VALUES:
        raise invalid(f"Privacy must be one of {', '.join(catalog.PRIVACY_VALUES)}")
    return value


def documents_update(api: Api, document_id: str, **kwargs: Any) -> HttpResponse:
    """One operation per request: Order, Name or Privacy (docs/spark-protocol.md#documents-and-privacy).

    The Privacy body is unconfirmed (docs/spark-protocol.md#open-reorder-and-privacy-bodies), so
    ``{"Privacy": ...}`` and ``{"Documents": [{"Privacy": ...}]}`` are both accepted, as are Name and Order
    in either form.
    """
    listing = owner(kwargs)
    item = _one_item(api.data(), "Documents")
    operations = set(item) & {"Order", "Name", "Privacy"}
    if set(item) - {"Order", "Name", "Privacy", "Id"} or len(operations) != 1:
        raise invalid("Send exactly one of Order, Name or Privacy per request")
    property_type = listing.fields.get("PropertyType")
    with transaction.atomic():
        _lock(listing)
        document = _find_document(listing, document_id)
        if "Order" in item:
            _renumber(_move(list(_documents(listing)), document, _parse_order(item["Order"])), Document)
        elif "Name" in item:
            document.name = _check_name(item["Name"], limit=255)
            document.privacy = catalog.forced_privacy(document.name, property_type) or document.privacy
            document.modified_at = now()
            document.save(update_fields=["name", "privacy", "modified_at"])
        else:
            privacy = _check_privacy(item["Privacy"])
            forced = catalog.forced_privacy(document.name, property_type)
            if forced and privacy != forced:
                raise invalid(f"A document named {document.name!r} must have Privacy {forced}")
            document.privacy = privacy
            document.modified_at = now()
            document.save(update_fields=["privacy", "modified_at"])
        _touch(listing, documents=True)
    return success()


def documents_delete(api: Api, document_id: str, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    with transaction.atomic():
        _lock(listing)
        _find_document(listing, document_id).delete()
        _renumber(list(_documents(listing)), Document)
        _touch(listing, documents=True)
    return success()


def documents_required(api: Api, **kwargs: Any) -> HttpResponse:
    listing = owner(kwargs)
    present = {name.casefold() for name in _documents(listing).values_list("name", flat=True)}
    names = catalog.required_documents(listing.fields)
    return success([{"Name": name, "Present": name.casefold() in present} for name in names])


def documents_meta(api: Api, property_type: str | None = None) -> HttpResponse:
    if property_type is not None and property_type not in catalog.HAS_EDIT_NAMES:
        raise not_found("Property type")
    return success([catalog.documents_meta(property_type)])


# --- tickets and uploads ------------------------------------------------------------------------------


def tickets_create(api: Api, service_path: str | None = None, **kwargs: Any) -> HttpResponse:
    if kwargs.get("incomplete_id") is not None and not option("incomplete_tickets"):
        # Ticket paths for incomplete listings are unconfirmed
        # (docs/spark-protocol.md#open-tickets-for-incomplete-listings).
        raise not_found("Resource")
    listing = owner(kwargs)
    data = api.data() if api.raw_body().strip() else {}
    service = data.get("Service")
    expected = {"photos": "PhotoUploads", "documents": "DocumentUploads"}.get(service_path or "")
    if service is None:
        if expected is None:
            raise missing("Service")
        service = expected
    if service not in SERVICES or (expected is not None and service != expected):
        raise invalid(f"Service must be {expected or ' or '.join(SERVICES)}")
    ttl = int(option("ticket_ttl_seconds"))
    ticket = Ticket.objects.create(
        token=secrets.token_hex(16),
        listing=listing,
        service=service,
        expires_at=now() + dt.timedelta(seconds=ttl),
    )
    uri = f"{api.base}/uploads/{SERVICES[service]}"
    result = {"Token": ticket.token, "ExpiresIn": ttl, "Service": service, "Uri": uri}
    return success([result], status=option("create_status"))


def _ticket_error(message: str) -> ApiError:
    # The answer to a spent ticket is undocumented
    # (docs/spark-protocol.md#open-tickets-for-incomplete-listings).
    return ApiError(int(option("ticket_error_status")), int(option("ticket_error_code")), message)


def _usable_ticket(token: str | None, service: str) -> Ticket:
    if not token:
        raise missing("Token")
    ticket = Ticket.objects.select_related("listing").filter(token=token).first()
    if ticket is None or ticket.service != service:
        raise _ticket_error("Invalid ticket")
    if ticket.used_at is not None:
        raise _ticket_error("This ticket has already been used")
    if ticket.expires_at <= now():
        raise _ticket_error("This ticket has expired")
    return ticket


def _claim(ticket: Ticket) -> None:
    """Single use: only one of two concurrent uploads with the same ticket wins."""
    if Ticket.objects.filter(pk=ticket.pk, used_at__isnull=True).update(used_at=now()) != 1:
        raise _ticket_error("This ticket has already been used")


def _uploaded(api: Api) -> bytes:
    upload = api.request.FILES.get("File")
    if upload is None:
        raise missing("File")
    return upload.read()


def _after_upload(api: Api, new_id: str) -> HttpResponse:
    redirect_to = api.request.POST.get("RedirectTo")
    if redirect_to:
        response = HttpResponseRedirect(redirect_to)
        response.spark_code = None
        return response
    return success([{"Id": new_id}], status=option("create_status"))


def uploads_photo(api: Api) -> HttpResponse:
    form = api.request.POST
    ticket = _usable_ticket(form.get("Token"), "PhotoUploads")
    if not form.get("Name"):
        raise missing("Name")
    name = _check_name(form["Name"], limit=40)
    caption = _check_caption(form.get("Caption"))
    # How Primary is spelled is undocumented (docs/spark-protocol.md#open-tickets-for-incomplete-listings).
    primary = form.get("Primary", "").strip().lower() in option("form_true_values")
    upload = api.request.FILES.get("File")
    data = _uploaded(api)
    checked = images.check_photo(data)
    # One transaction (one commit) for the bytes, the ticket and the photo.
    with transaction.atomic():
        _claim(ticket)
        photo = _add_photo(
            ticket.listing,
            blob=images.store(data, *checked),
            name=name,
            caption=caption,
            file_name=_file_name(upload.name),
            primary=primary,
        )
    return _after_upload(api, photo.spark_id)


def _upload_privacy(value: str | None, name: str, property_type: str | None) -> str:
    forced = catalog.forced_privacy(name, property_type)
    if forced:
        return forced
    if not value:
        if catalog.DOCUMENT_DEFAULT_PRIVACY is None:
            raise missing("confidentiality")
        return catalog.DOCUMENT_DEFAULT_PRIVACY
    by_lower = {privacy.lower(): privacy for privacy in catalog.PRIVACY_VALUES}
    if value.strip().lower() not in by_lower:
        raise invalid("confidentiality must be public, datashare, private or hasedit")
    return by_lower[value.strip().lower()]


def uploads_document(api: Api) -> HttpResponse:
    form = api.request.POST
    ticket = _usable_ticket(form.get("Token"), "DocumentUploads")
    if not form.get("Name"):
        raise missing("Name")
    name = _check_name(form["Name"], limit=255)
    privacy = _upload_privacy(form.get("confidentiality"), name, ticket.listing.fields.get("PropertyType"))
    upload = api.request.FILES.get("File")
    data = _uploaded(api)
    content_type = images.check_document(data)
    listing = ticket.listing
    # One transaction (one commit) for the bytes, the ticket and the document.
    with transaction.atomic():
        _claim(ticket)
        blob = images.store(data, content_type)
        _lock(listing)
        last = Document.objects.filter(listing=listing).aggregate(last=Max("position"))["last"] or 0
        document = Document.objects.create(
            listing=listing,
            spark_id=new_spark_id(),
            name=name,
            privacy=privacy,
            file_name=_file_name(upload.name),
            position=last + 1,
            blob=blob,
            modified_at=now(),
        )
        _touch(listing, documents=True)
    return _after_upload(api, document.spark_id)


# --- files (the Uri* of photos, the Uri of documents) -------------------------------------------------


def files_photo(api: Api, photo_id: str, key: str, variant: str) -> HttpResponse:
    photo = Photo.objects.live().filter(spark_id=photo_id).select_related("blob").defer("blob__data").first()
    if photo is None or not photo.blob.sha256.startswith(key) or variant not in images.VARIANT_BOXES:
        raise not_found("Photo file")
    data, content_type = images.rendition(photo.blob, variant)
    response = HttpResponse(data, content_type=content_type)
    # The URL names the bytes (content hash), so it can be cached for good.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response.spark_code = None
    return response


def files_document(api: Api, document_id: str, file_name: str) -> HttpResponse:
    document = Document.objects.filter(spark_id=document_id).select_related("blob").first()
    if document is None:
        raise not_found("Document file")
    response = HttpResponse(bytes(document.blob.data), content_type=document.blob.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response.spark_code = None
    return response
