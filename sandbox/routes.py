"""Stable route names of the Spark sandbox (the journal, the counters and fault rules use them).

Paths are relative to the base URL: ``http://host/sandbox`` inside the portal, ``http://127.0.0.1:8001``
under ``manage.py runsandbox``. ``{owner}`` is either ``/v1/listings/{LId}`` or
``/v1/listings/incomplete/{IId}``: photo, document and ticket routes have the same name for both kinds of
listing (the journal's ``path`` tells them apart).

=========================  ======  ==========================================================================
route                      verb    path
=========================  ======  ==========================================================================
incomplete.list            GET     /v1/listings/incomplete
incomplete.create          POST    /v1/listings/incomplete
incomplete.get             GET     /v1/listings/incomplete/{IId}
incomplete.update          PUT     /v1/listings/incomplete/{IId}
incomplete.delete          DELETE  /v1/listings/incomplete/{IId}
incomplete.nearby          GET     /v1/listings/incomplete/nearby
incomplete.promote         POST    /v1/listings/incomplete/{IId}/promote   (only with option
                                   ``promotion_endpoint``; not a real Spark call:
                                   docs/spark-protocol.md#open-promotion-call)
listings.search            GET     /v1/listings, /v1/contacts/{CId}/listings
listings.create            POST    /v1/listings
listings.get               GET     /v1/listings/{LId}, /v1/contacts/{CId}/listings/{LId}
listings.update            PUT     /v1/listings/{LId}
listings.flexmls_update    PUT     /v1/flexmls/listings/{LId}
listings.my                GET     /v1/my/listings
listings.office            GET     /v1/office/listings
listings.company           GET     /v1/company/listings
listings.nearby            GET     /v1/listings/nearby, /v1/contacts/{CId}/listings/nearby
listings.validate          POST    /v1/listings/validation
listings.validate_update   PUT     /v1/listings/{LId}/validation
photos.list                GET     {owner}/photos
photos.create              POST    {owner}/photos                  (base64 JSON upload)
photos.reorder             PUT     {owner}/photos                  (whole-list order by Id)
photos.get                 GET     {owner}/photos/{PId}
photos.update              PUT     {owner}/photos/{PId}            (Name, Caption, Primary, Order, Rotate)
photos.replace             PUT     {owner}/photos/{PId}            (the body carries ``Picture``)
photos.delete              DELETE  {owner}/photos/{PId}
photos.batch_delete        DELETE  {owner}/photos/{PId1},{PId2},...
photos.restore             PUT     {owner}/photos/{PId}/versions/current
photos.meta                GET     /v1/listings/photos/meta, /v1/listings/incomplete/photos/meta
documents.list             GET     {owner}/documents
documents.reorder          PUT     {owner}/documents               (whole-list order by Id)
documents.get              GET     {owner}/documents/{DId}
documents.update           PUT     {owner}/documents/{DId}         (Order, Name or Privacy)
documents.delete           DELETE  {owner}/documents/{DId}
documents.required         GET     {owner}/documents/required
documents.meta             GET     /v1/listings[/incomplete]/documents[/propertytypes/{Code}]/meta
openhouses.list            GET     /v1/listings/{LId}/openhouses        (upcoming; live listings only)
openhouses.create          POST    /v1/listings/{LId}/openhouses
openhouses.get             GET     /v1/listings/{LId}/openhouses/{OHId}
openhouses.update          PUT     /v1/listings/{LId}/openhouses/{OHId} (our reading: the POST's body)
openhouses.delete          DELETE  /v1/listings/{LId}/openhouses/{OHId} (our reading)
tickets.create             POST    {owner}/tickets, {owner}/photos/tickets, {owner}/documents/tickets
uploads.photo              POST    /uploads/photos                 (ticket, multipart, no Authorization)
uploads.document           POST    /uploads/documents              (ticket, multipart, no Authorization)
standardfields.list        GET     /v1/standardfields, /v1/mls/{MlsId}/standardfields (conditional GET)
standardfields.get         GET     /v1/standardfields/{Field}      (conditional GET)
propertytypes.list         GET     /v1/propertytypes, /v1/mls/{MlsId}/propertytypes
propertytypes.all          GET     /v1/propertytypes/all
customfields.list          GET     /v1/customfields                (conditional GET)
customfields.get           GET     /v1/customfields/{Field}        (conditional GET)
fieldorder.list            GET     /v1/fields/order                (conditional GET)
fieldorder.get             GET     /v1/fields/order/{Code}         (conditional GET)
roomsmeta.list             GET     /v1/rooms, /v1/mls/{MlsId}/rooms
roomsmeta.get              GET     /v1/rooms/{Field}, /v1/mls/{MlsId}/rooms/{Field}
unitsmeta.list             GET     /v1/units, /v1/mls/{MlsId}/units
unitsmeta.get              GET     /v1/units/{Field}, /v1/mls/{MlsId}/units/{Field}
rules.meta                 GET     /v1/listings/rules/meta
rules.list                 GET     /v1/listings/rules/propertytypes/{Code}
rooms.list                 GET     {owner}/rooms                   (Fields labelled: [{"<Label>": v}, ...])
rooms.raw                  GET     {owner}/rooms/raw               (Fields keyed by attribute name)
rooms.create               POST    {owner}/rooms                   ({"Fields": {attribute: value}})
rooms.reorder              PUT     {owner}/rooms                   ({"Rooms": [{"Id"}, ...]}, our reading)
rooms.get                  GET     {owner}/rooms/{Id}              (our reading)
rooms.get_raw              GET     {owner}/rooms/raw/{Id}          (our reading)
rooms.update               PUT     {owner}/rooms/{Id}              (our reading)
rooms.delete               DELETE  {owner}/rooms/{Id}              (our reading)
units.*                    ...     {owner}/units..., as rooms (units visible for PropertyType B only)
virtualtours.list          GET     {owner}/virtualtours
virtualtours.create        POST    {owner}/virtualtours            (Name, Uri, Type, GroupId?, Privacy?)
virtualtours.reorder       PUT     {owner}/virtualtours            ({"VirtualTours": [{"Id"}, ...]})
virtualtours.get           GET     {owner}/virtualtours/{Id}
virtualtours.update        PUT     {owner}/virtualtours/{Id}       (same body as POST)
virtualtours.delete        DELETE  {owner}/virtualtours/{Id}
virtualtours.meta          GET     /v1/listings[/incomplete]/virtualtours/meta
videos.*                   ...     {owner}/videos..., as virtual tours (ObjectHtml, Caption for Uri)
videos.meta                GET     /v1/listings[/incomplete]/videos/meta
oauth.grant                POST    /v1/oauth2/grant                (authorization_code, refresh_token)
oauth.openid_token         POST    /openid/token                   (same grants, JSON or form body)
oauth.revoke               DELETE  /v1/oauth2/token/{AccessToken}
files.photo                GET     the ``Uri*`` image URLs of a photo (faulted only when named in ``routes``)
files.document             GET     a document's ``Uri`` (faulted only when named in ``routes``)
<resource>.not_allowed     any     a verb the pages mark "Not implemented" (405), e.g. ``photos.not_allowed``
unknown                    any     a path the sandbox does not know (404)
=========================  ======  ==========================================================================

Not journaled and never faulted: the HTML page (``/``) and the control interface (``/_control/...``).
"""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from . import api_listings as listings
from . import api_media as media
from . import api_meta as meta
from . import api_open_houses as open_houses
from . import api_parts, control, pages
from .envelope import not_found
from .pipeline import Api, Handler, endpoint, handle

L = "v1/listings/<str:listing_id>"
I = "v1/listings/incomplete/<str:incomplete_id>"  # noqa: E741 - reads like the docs' {IId}


def _unknown(api: Api, **kwargs: object) -> None:
    raise not_found("Resource")


def _owner_patterns(prefix: str, *, incomplete: bool) -> list[URLPattern]:
    """Photo, document and ticket routes; the same names for listings and incomplete listings."""
    kind = "incomplete" if incomplete else "listing"
    patterns = [
        path(
            f"{prefix}/photos",
            endpoint(
                "photos",
                GET=handle("photos.list", media.photos_list),
                POST=handle("photos.create", media.photos_create),
                PUT=handle("photos.reorder", media.photos_reorder),
            ),
            name=f"{kind}_photos",
        ),
        path(
            f"{prefix}/photos/tickets",
            endpoint("tickets", POST=handle("tickets.create", media.tickets_create)),
            {"service_path": "photos"},
            name=f"{kind}_photo_tickets",
        ),
        path(
            f"{prefix}/photos/<str:photo_id>/versions/current",
            endpoint("photos", PUT=handle("photos.restore", media.photos_restore)),
            name=f"{kind}_photo_restore",
        ),
        path(
            f"{prefix}/photos/<str:photo_id>",
            endpoint(
                "photos",
                GET=handle("photos.get", media.photos_get),
                PUT=handle(media.photo_put_route, media.photos_update),
                DELETE=handle(media.photo_delete_route, media.photos_delete),
            ),
            name=f"{kind}_photo",
        ),
        path(
            f"{prefix}/documents",
            endpoint(
                "documents",
                GET=handle("documents.list", media.documents_list),
                PUT=handle("documents.reorder", media.documents_reorder),
            ),
            name=f"{kind}_documents",
        ),
        path(
            f"{prefix}/documents/tickets",
            endpoint("tickets", POST=handle("tickets.create", media.tickets_create)),
            {"service_path": "documents"},
            name=f"{kind}_document_tickets",
        ),
        path(
            f"{prefix}/documents/required",
            endpoint("documents", GET=handle("documents.required", media.documents_required)),
            name=f"{kind}_documents_required",
        ),
        path(
            f"{prefix}/documents/<str:document_id>",
            endpoint(
                "documents",
                GET=handle("documents.get", media.documents_get),
                PUT=handle("documents.update", media.documents_update),
                DELETE=handle("documents.delete", media.documents_delete),
            ),
            name=f"{kind}_document",
        ),
        path(
            f"{prefix}/tickets",
            endpoint("tickets", POST=handle("tickets.create", media.tickets_create)),
            name=f"{kind}_tickets",
        ),
    ]
    return patterns


def _parts_patterns(prefix: str, *, incomplete: bool) -> list[URLPattern]:
    """Rooms, units, virtual tours and videos (sandbox/api_parts.py); the same names for both owners."""
    kind = "incomplete" if incomplete else "listing"
    patterns = []
    for collection in ("rooms", "units", "virtualtours", "videos"):
        extra = {"collection": collection}
        if collection in ("rooms", "units"):
            patterns += [
                path(
                    f"{prefix}/{collection}/raw",
                    endpoint(collection, GET=handle(f"{collection}.raw", api_parts.parts_list)),
                    {**extra, "raw": True},
                    name=f"{kind}_{collection}_raw",
                ),
                path(
                    f"{prefix}/{collection}/raw/<str:part_id>",
                    endpoint(collection, GET=handle(f"{collection}.get_raw", api_parts.parts_get)),
                    {**extra, "raw": True},
                    name=f"{kind}_{collection}_raw_one",
                ),
            ]
        patterns += [
            path(
                f"{prefix}/{collection}",
                endpoint(
                    collection,
                    GET=handle(f"{collection}.list", api_parts.parts_list),
                    POST=handle(f"{collection}.create", api_parts.parts_create),
                    PUT=handle(f"{collection}.reorder", api_parts.parts_reorder),
                ),
                extra,
                name=f"{kind}_{collection}",
            ),
            path(
                f"{prefix}/{collection}/<str:part_id>",
                endpoint(
                    collection,
                    GET=handle(f"{collection}.get", api_parts.parts_get),
                    PUT=handle(f"{collection}.update", api_parts.parts_update),
                    DELETE=handle(f"{collection}.delete", api_parts.parts_delete),
                ),
                extra,
                name=f"{kind}_{collection}_one",
            ),
        ]
    return patterns


def _extra_fields_patterns(resource: str, listed: Handler, single: Handler) -> list[URLPattern]:
    """Rooms or units metadata, for the key's MLS and under /v1/mls/{MlsId}/."""
    route = f"{resource}meta"
    patterns = []
    for prefix, suffix in (("v1", ""), ("v1/mls/<str:mls_id>", "_mls")):
        patterns += [
            path(
                f"{prefix}/{resource}",
                endpoint(route, GET=handle(f"{route}.list", listed)),
                name=f"{route}{suffix}",
            ),
            path(
                f"{prefix}/{resource}/<str:field_name>",
                endpoint(route, GET=handle(f"{route}.get", single)),
                name=f"{route}_field{suffix}",
            ),
        ]
    return patterns


urlpatterns: list[URLPattern] = [
    # OAuth (no Spark credentials needed).
    path(
        "v1/oauth2/grant",
        endpoint("oauth", POST=handle("oauth.grant", meta.oauth_grant, auth=False)),
        name="oauth_grant",
    ),
    path(
        "openid/token",
        endpoint("oauth", POST=handle("oauth.openid_token", meta.oauth_openid_token, auth=False)),
        name="openid_token",
    ),
    path(
        "v1/oauth2/token/<str:token>",
        endpoint("oauth", DELETE=handle("oauth.revoke", meta.oauth_revoke)),
        name="oauth_revoke",
    ),
    # Metadata.
    path(
        "v1/standardfields",
        endpoint("standardfields", GET=handle("standardfields.list", meta.standardfields_list)),
        name="standardfields",
    ),
    path(
        "v1/mls/<str:mls_id>/standardfields",
        endpoint("standardfields", GET=handle("standardfields.list", meta.standardfields_list)),
        name="mls_standardfields",
    ),
    path(
        "v1/standardfields/<str:field_name>",
        endpoint("standardfields", GET=handle("standardfields.get", meta.standardfields_get)),
        name="standardfield",
    ),
    path(
        "v1/propertytypes",
        endpoint("propertytypes", GET=handle("propertytypes.list", meta.propertytypes_list)),
        name="propertytypes",
    ),
    path(
        "v1/propertytypes/all",
        endpoint("propertytypes", GET=handle("propertytypes.all", meta.propertytypes_all)),
        name="propertytypes_all",
    ),
    path(
        "v1/mls/<str:mls_id>/propertytypes",
        endpoint("propertytypes", GET=handle("propertytypes.list", meta.propertytypes_list)),
        name="mls_propertytypes",
    ),
    path(
        "v1/customfields",
        endpoint("customfields", GET=handle("customfields.list", meta.customfields_list)),
        name="customfields",
    ),
    path(
        "v1/customfields/<str:field_name>",
        endpoint("customfields", GET=handle("customfields.get", meta.customfields_get)),
        name="customfield",
    ),
    path(
        "v1/fields/order",
        endpoint("fieldorder", GET=handle("fieldorder.list", meta.fieldorder_list)),
        name="fieldorder",
    ),
    path(
        "v1/fields/order/<str:property_type>",
        endpoint("fieldorder", GET=handle("fieldorder.get", meta.fieldorder_get)),
        name="fieldorder_type",
    ),
    *_extra_fields_patterns("rooms", meta.rooms_meta, meta.rooms_meta_field),
    *_extra_fields_patterns("units", meta.units_meta, meta.units_meta_field),
    path(
        "v1/listings/rules/meta",
        endpoint("rules", GET=handle("rules.meta", meta.rules_meta)),
        name="rules_meta",
    ),
    path(
        "v1/listings/rules/propertytypes/<str:property_type>",
        endpoint("rules", GET=handle("rules.list", meta.rules_list)),
        name="rules",
    ),
    path(
        "v1/listings/photos/meta",
        endpoint("photos", GET=handle("photos.meta", media.photos_meta)),
        name="photos_meta",
    ),
    path(
        "v1/listings/incomplete/photos/meta",
        endpoint("photos", GET=handle("photos.meta", media.photos_meta)),
        name="incomplete_photos_meta",
    ),
    path(
        "v1/listings/documents/meta",
        endpoint("documents", GET=handle("documents.meta", media.documents_meta)),
        name="documents_meta",
    ),
    path(
        "v1/listings/incomplete/documents/meta",
        endpoint("documents", GET=handle("documents.meta", media.documents_meta)),
        name="incomplete_documents_meta",
    ),
    path(
        "v1/listings/documents/propertytypes/<str:property_type>/meta",
        endpoint("documents", GET=handle("documents.meta", media.documents_meta)),
        name="documents_type_meta",
    ),
    path(
        "v1/listings/incomplete/documents/propertytypes/<str:property_type>/meta",
        endpoint("documents", GET=handle("documents.meta", media.documents_meta)),
        name="incomplete_documents_type_meta",
    ),
    *[
        path(
            f"v1/listings{scope}/{collection}/meta",
            endpoint(collection, GET=handle(f"{collection}.meta", api_parts.media_meta)),
            name=f"{name}{collection}_meta",
        )
        for collection in ("virtualtours", "videos")
        for scope, name in (("", ""), ("/incomplete", "incomplete_"))
    ],
    # Incomplete listings.
    path(
        "v1/listings/incomplete",
        endpoint(
            "incomplete",
            GET=handle("incomplete.list", listings.incomplete_list),
            POST=handle("incomplete.create", listings.incomplete_create),
        ),
        name="incomplete_listings",
    ),
    path(
        "v1/listings/incomplete/nearby",
        endpoint("incomplete", GET=handle("incomplete.nearby", listings.incomplete_nearby)),
        name="incomplete_nearby",
    ),
    path(
        I,
        endpoint(
            "incomplete",
            GET=handle("incomplete.get", listings.incomplete_get),
            PUT=handle("incomplete.update", listings.incomplete_update),
            DELETE=handle("incomplete.delete", listings.incomplete_delete),
        ),
        name="incomplete_listing",
    ),
    path(
        f"{I}/promote",
        endpoint("incomplete", POST=handle("incomplete.promote", listings.incomplete_promote)),
        name="incomplete_promote",
    ),
    *_owner_patterns(I, incomplete=True),
    *_parts_patterns(I, incomplete=True),
    # Listings.
    path(
        "v1/listings",
        endpoint(
            "listings",
            GET=handle("listings.search", listings.listings_search),
            POST=handle("listings.create", listings.listings_create),
        ),
        name="listings",
    ),
    path(
        "v1/listings/nearby",
        endpoint("listings", GET=handle("listings.nearby", listings.listings_nearby)),
        name="listings_nearby",
    ),
    path(
        "v1/listings/validation",
        endpoint("listings", POST=handle("listings.validate", listings.listings_validate)),
        name="listings_validation",
    ),
    path(
        "v1/my/listings",
        endpoint("listings", GET=handle("listings.my", listings.listings_my)),
        name="my_listings",
    ),
    path(
        "v1/office/listings",
        endpoint("listings", GET=handle("listings.office", listings.listings_office)),
        name="office_listings",
    ),
    path(
        "v1/company/listings",
        endpoint("listings", GET=handle("listings.company", listings.listings_company)),
        name="company_listings",
    ),
    path(
        "v1/contacts/<str:contact_id>/listings",
        endpoint("listings", GET=handle("listings.search", listings.listings_search)),
        name="contact_listings",
    ),
    path(
        "v1/contacts/<str:contact_id>/listings/nearby",
        endpoint("listings", GET=handle("listings.nearby", listings.listings_nearby)),
        name="contact_listings_nearby",
    ),
    path(
        "v1/contacts/<str:contact_id>/listings/<str:listing_id>",
        endpoint("listings", GET=handle("listings.get", listings.listings_get)),
        name="contact_listing",
    ),
    path(
        "v1/flexmls/listings/<str:listing_id>",
        endpoint("listings", PUT=handle("listings.flexmls_update", listings.flexmls_update)),
        name="flexmls_listing",
    ),
    path(
        L,
        endpoint(
            "listings",
            GET=handle("listings.get", listings.listings_get),
            PUT=handle("listings.update", listings.listings_update),
        ),
        name="listing",
    ),
    path(
        f"{L}/validation",
        endpoint("listings", PUT=handle("listings.validate_update", listings.listings_validate_update)),
        name="listing_validation",
    ),
    *_owner_patterns(L, incomplete=False),
    *_parts_patterns(L, incomplete=False),
    # Open houses of live listings (sandbox/api_open_houses.py).
    path(
        f"{L}/openhouses",
        endpoint(
            "openhouses",
            GET=handle("openhouses.list", open_houses.open_houses_list),
            POST=handle("openhouses.create", open_houses.open_houses_create),
        ),
        name="listing_open_houses",
    ),
    path(
        f"{L}/openhouses/<str:open_house_id>",
        endpoint(
            "openhouses",
            GET=handle("openhouses.get", open_houses.open_houses_get),
            PUT=handle("openhouses.update", open_houses.open_houses_update),
            DELETE=handle("openhouses.delete", open_houses.open_houses_delete),
        ),
        name="listing_open_house",
    ),
    # Ticket uploads: no Authorization header, the ticket is the credential
    # (docs/spark-protocol.md#upload-tickets).
    path(
        "uploads/photos",
        endpoint("uploads", POST=handle("uploads.photo", media.uploads_photo, auth=False)),
        name="upload_photo",
    ),
    path(
        "uploads/documents",
        endpoint("uploads", POST=handle("uploads.document", media.uploads_document, auth=False)),
        name="upload_document",
    ),
    # The files behind Uri* / Uri (public, like Spark's photo CDN).
    path(
        "files/photos/<str:photo_id>/<str:key>/<str:variant>.jpg",
        endpoint("files", opt_in=True, GET=handle("files.photo", media.files_photo, auth=False)),
        name="photo_file",
    ),
    path(
        "files/documents/<str:document_id>/<path:file_name>",
        endpoint("files", opt_in=True, GET=handle("files.document", media.files_document, auth=False)),
        name="document_file",
    ),
    # Control interface and the HTML page (never journaled or faulted).
    path("_control/reset", control.reset, name="control_reset"),
    path("_control/faults", control.fault_rules, name="control_faults"),
    path("_control/calls", control.calls, name="control_calls"),
    path("_control/expire_tokens", control.expire_tokens, name="control_expire_tokens"),
    path("_control/state", control.state, name="control_state"),
    path("_control/options", control.option_overrides, name="control_options"),
    path("_control/clock", control.clock, name="control_clock"),
    path("", pages.index, name="index"),
    # Anything else inside the sandbox: a 404 in the D envelope, journaled as "unknown".
    re_path(
        r"^.*$",
        endpoint(
            "unknown",
            **{
                method: handle("unknown", _unknown, auth=False)
                for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
            },
        ),
        name="unknown",
    ),
]
