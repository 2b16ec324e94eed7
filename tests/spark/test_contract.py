"""The Spark client against a Spark server over real HTTP: every endpoint it wraps.

Runs against the sandbox (live server) and, when SPARK_CONTRACT_API_URL and
SPARK_CONTRACT_ACCESS_TOKEN are set, against the real API (see conftest.py). Tests that need the
sandbox's control endpoints, or that would create live listings, are ``sandbox_only``.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfWriter

from spark.client import ListingRef, SparkClient, Ticket
from spark.errors import (
    SparkAuthError,
    SparkFilterError,
    SparkMethodNotAllowed,
    SparkNotFound,
    SparkOAuthError,
    SparkTicketError,
    SparkTokenExpired,
    SparkValidationError,
)
from spark.filters import Field
from spark.tokens import InMemoryTokenStore, TokenSet
from tests.sandbox_support import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.spark.conftest import MINIMAL_DRAFT

pytestmark = [pytest.mark.django_db(transaction=True)]

MISSING_ID = "19990101000000000000000000"
REDIRECT_URI = "https://portal.example/oauth/callback"


def jpeg_bytes(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def draft(**changes: Any) -> dict[str, Any]:
    fields = dict(MINIMAL_DRAFT)
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


@pytest.fixture
def listing_ref(spark_target, spark) -> ListingRef:
    """A (complete) listing; created only on the sandbox, never in a live MLS."""
    if not spark_target.is_sandbox:
        pytest.skip("would create a live listing")
    created = spark.create_listing(draft())
    return ListingRef.for_listing(created.resource_id)


@pytest.fixture(params=["incomplete", "listing"])
def parent(request, draft_ref) -> ListingRef:
    """Photos, documents and tickets exist under both kinds of listing."""
    if request.param == "incomplete":
        return draft_ref
    return request.getfixturevalue("listing_ref")


# --- incomplete listings ------------------------------------------------------------------------


def test_incomplete_listing_lifecycle(spark):
    created = spark.create_incomplete_listing(draft())
    assert 200 <= created.status < 300
    assert created.resource_id
    assert created.warnings == []
    listing_id = created.resource_id

    fetched = spark.get_incomplete_listing(listing_id)
    record = fetched.first
    assert record["Id"] == listing_id
    assert record["StandardFields"]["City"] == "Fargo"
    assert record["StandardFields"]["ListPrice"] == 250000

    updated = spark.update_incomplete_listing(listing_id, {"PostalCode": "58104", "YearBuilt": 1990})
    assert updated.warnings == []
    fields = spark.get_incomplete_listing(listing_id, select=["PostalCode", "YearBuilt"]).first[
        "StandardFields"
    ]
    assert fields["PostalCode"] == "58104"
    assert fields["YearBuilt"] == 1990

    spark.delete_incomplete_listing(listing_id)
    with pytest.raises(SparkNotFound) as caught:
        spark.get_incomplete_listing(listing_id)
    assert caught.value.permanent and caught.value.status == 404


def test_rule_violations_on_drafts_are_warnings_with_success(spark_target, spark):
    created = spark.create_incomplete_listing(draft(BedsTotal=None, PostalCode="5810"))
    assert created.resource_id
    updated = spark.update_incomplete_listing(created.resource_id, {"YearBuilt": 1500})
    # the update was applied although it may break a rule
    assert spark.get_incomplete_listing(created.resource_id).first["StandardFields"]["YearBuilt"] == 1500
    spark.delete_incomplete_listing(created.resource_id)
    if spark_target.is_sandbox:  # which rules exist is the MLS's business; these are the sandbox's
        assert {"BedsTotal", "PostalCode"} <= {w.field for w in created.warnings}
        assert all(w.type == "RuleViolation" for w in created.warnings)
        assert "YearBuilt" in {w.field for w in updated.warnings}


def test_invalid_attributes_are_permanent_validation_errors(spark):
    with pytest.raises(SparkValidationError) as caught:
        spark.create_incomplete_listing(draft(ListPrice="a lot"))
    error = caught.value
    assert error.status == 400 and error.code == 1053
    assert error.permanent and not error.ambiguous
    assert "ListPrice" in {e.field for e in error.field_errors}


def test_missing_ids_are_not_found(spark, draft_ref):
    with pytest.raises(SparkNotFound):
        spark.get_incomplete_listing(MISSING_ID)
    with pytest.raises(SparkNotFound):
        spark.update_incomplete_listing(MISSING_ID, {"City": "Fargo"})
    with pytest.raises(SparkNotFound):
        spark.delete_incomplete_listing(MISSING_ID)
    with pytest.raises(SparkNotFound):
        spark.get_photo(draft_ref, MISSING_ID)
    with pytest.raises(SparkNotFound):
        spark.get_document(draft_ref, MISSING_ID)
    with pytest.raises(SparkNotFound):
        spark.list_photos(ListingRef.for_incomplete(MISSING_ID))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/listings/incomplete"),
        ("DELETE", "/v1/listings/incomplete"),
        ("POST", "/v1/listings/incomplete/{draft}"),
        ("POST", "/v1/listings/incomplete/nearby"),
        ("PUT", "/v1/listings"),
        ("DELETE", "/v1/listings"),
        ("POST", "/v1/my/listings"),
        ("GET", "/v1/listings/validation"),
        ("DELETE", "/v1/listings/incomplete/{draft}/photos"),
        ("POST", "/v1/listings/incomplete/{draft}/documents"),
        ("DELETE", "/v1/listings/incomplete/{draft}/documents"),
        ("GET", "/v1/listings/incomplete/{draft}/photos/tickets"),
        ("PUT", "/v1/listings/photos/meta"),
        ("POST", "/v1/propertytypes"),
    ],
)
def test_not_implemented_verbs_are_405(spark, draft_ref, method, path):
    with pytest.raises(SparkMethodNotAllowed) as caught:
        spark.request(
            method,
            path.format(draft=draft_ref.id),
            route="contract.not_allowed",
            body={} if method in ("POST", "PUT") else None,
        )
    assert caught.value.status == 405
    assert caught.value.permanent


def test_paging_iterates_every_page(spark_target, spark):
    ids = [spark.create_incomplete_listing(draft(ListPrice=100000 + n)).resource_id for n in range(7)]
    first = spark.list_incomplete_listings(limit=3, page=1, pagination=True)
    assert first.pagination.page_size == 3
    assert first.pagination.current_page == 1
    assert first.pagination.total_rows >= 7
    assert len(first.results) == 3

    seen = [record["Id"] for record in spark.iter_incomplete_listings(page_size=3)]
    assert set(ids) <= set(seen)
    assert len(seen) == len(set(seen))
    if spark_target.is_sandbox:
        assert len(seen) == 7
        assert spark_target.control.count("incomplete.list") == 1 + 3  # one page above + three pages

    counted = spark.list_incomplete_listings(pagination="count")
    assert counted.results == [] and counted.pagination.total_rows >= 7
    for listing_id in ids:
        spark.delete_incomplete_listing(listing_id)


def test_page_size_above_25_is_refused_before_sending(spark):
    with pytest.raises(ValueError):
        spark.list_incomplete_listings(limit=26)


def test_filters_are_quoted_safely(spark):
    ids = [spark.create_incomplete_listing(draft()).resource_id for _ in range(3)]
    both = spark.list_incomplete_listings(filter=Field("Id").eq(ids[0], ids[1]), limit=25)
    assert sorted(r["Id"] for r in both.results) == sorted(ids[:2])
    # An injection attempt stays one quoted value and matches nothing.
    injected = spark.list_incomplete_listings(filter=Field("Id").eq(f"{ids[0]}' Or Id Ne 'x"))
    assert injected.results == []
    others = spark.list_incomplete_listings(filter=~Field("Id").eq(ids[0]) & Field("Id").eq(*ids), limit=25)
    assert sorted(r["Id"] for r in others.results) == sorted(ids[1:])
    for listing_id in ids:
        spark.delete_incomplete_listing(listing_id)


@pytest.mark.parametrize(
    "bad_filter", ["NoSuchField Eq 'x'", "ListingKey Eq", "Id Eq 'unterminated", "Id Eq 'a' And And"]
)
def test_filter_errors_are_typed(spark, bad_filter):
    with pytest.raises(SparkFilterError) as caught:
        spark.list_incomplete_listings(filter=bad_filter)
    assert caught.value.status == 400
    assert caught.value.code in (1040, 1041) or 2000 <= caught.value.code < 3000
    assert caught.value.permanent


def test_nearby_incomplete_listings_sorts_by_distance(spark):
    far = spark.create_incomplete_listing(draft(Latitude=46.0, Longitude=-96.0)).resource_id
    near = spark.create_incomplete_listing(draft(Latitude=46.87, Longitude=-96.79)).resource_id
    result = spark.nearby_incomplete_listings(46.8685, -96.7923, limit=25)
    order = [r["Id"] for r in result.results]
    assert order.index(near) < order.index(far)
    for listing_id in (far, near):
        spark.delete_incomplete_listing(listing_id)


# --- listings -----------------------------------------------------------------------------------


def test_listing_search_reads(spark_target, spark):
    if spark_target.is_sandbox:
        spark.create_listing(draft(City="Moorhead", StateOrProvince="MN", PostalCode="56560"))
        spark.create_listing(draft(ListPrice=400000))
    found = spark.search_listings(limit=1, pagination=True, orderby="-ListPrice")
    assert found.pagination is not None and found.pagination.total_rows >= 1
    first = found.first
    assert spark.get_listing(first["Id"]).first["Id"] == first["Id"]
    assert list(spark.iter_listings(page_size=25, max_pages=1))
    if spark_target.is_sandbox:
        assert first["StandardFields"]["ListPrice"] == 400000
        moorhead = spark.search_listings(filter=Field("City").eq("Moorhead"))
        assert [r["StandardFields"]["City"] for r in moorhead.results] == ["Moorhead"]
        assert len(spark.my_listings(limit=25).results) == 2
        assert len(spark.office_listings(limit=25).results) == 2
        assert len(spark.company_listings(limit=25).results) == 2
        assert len(list(spark.iter_scope_listings("my", page_size=1))) == 2
        nearby = spark.nearby_listings(46.87, -96.79, limit=25)
        assert len(nearby.results) == 2


@pytest.mark.sandbox_only
def test_listing_create_update_and_validation(spark):
    with pytest.raises(SparkValidationError) as caught:
        spark.create_listing(draft(BedsTotal=None))
    assert any(e.type == "RuleViolation" and e.field == "BedsTotal" for e in caught.value.field_errors)

    assert spark.validate_listing(draft()).status == 200
    with pytest.raises(SparkValidationError):
        spark.validate_listing(draft(ListPrice=0))

    created = spark.create_listing(draft())
    listing_id = created.resource_id
    spark.update_listing(listing_id, {"ListPrice": 260000})
    assert spark.get_listing(listing_id).first["StandardFields"]["ListPrice"] == 260000
    assert spark.validate_listing_update(listing_id, {"ListPrice": 270000}).status == 200
    with pytest.raises(SparkValidationError):
        spark.validate_listing_update(listing_id, {"PostalCode": "nope"})
    with pytest.raises(SparkValidationError):
        spark.update_listing(listing_id, {"YearBuilt": 1200})  # fatal on listings
    assert spark.get_listing(listing_id).first["StandardFields"]["ListPrice"] == 260000


# --- photos -------------------------------------------------------------------------------------


def test_photo_lifecycle(spark, parent):
    first = spark.upload_photo(
        parent, jpeg_bytes("red"), file_name="front.jpg", name="Front", caption="Porch"
    )
    photo1 = first.first
    assert photo1["Id"] and photo1["Name"] == "Front" and photo1["Caption"] == "Porch"
    assert photo1["Primary"] is True  # the first photo becomes primary
    assert photo1["ResourceUri"].endswith(photo1["Id"])
    photo2 = spark.upload_photo(parent, jpeg_bytes("blue"), file_name="back.jpg", name="Back").first
    assert photo2["Primary"] is False

    listed = spark.list_photos(parent).results
    assert [p["Id"] for p in listed] == [photo1["Id"], photo2["Id"]]
    assert spark.get_photo(parent, photo2["Id"]).first["Name"] == "Back"

    renamed = spark.update_photo(parent, photo2["Id"], name="Garden", caption="Roses")
    assert renamed.first["Name"] == "Garden" and renamed.first["Caption"] == "Roses"
    spark.update_photo(parent, photo2["Id"], primary=True)
    primaries = {p["Id"]: p["Primary"] for p in spark.list_photos(parent).results}
    assert primaries == {photo1["Id"]: False, photo2["Id"]: True}

    spark.set_photo_order(parent, photo2["Id"], 1)
    assert [p["Id"] for p in spark.list_photos(parent).results] == [photo2["Id"], photo1["Id"]]
    spark.reorder_photos(parent, [photo1["Id"], photo2["Id"]])
    assert [p["Id"] for p in spark.list_photos(parent).results] == [photo1["Id"], photo2["Id"]]

    assert spark.rotate_photo(parent, photo1["Id"], "clockwise").first["Id"] == photo1["Id"]

    replaced = spark.replace_photo(parent, photo1["Id"], jpeg_bytes("green"), file_name="front2.jpg").first
    assert replaced["Id"] != photo1["Id"]  # a new image gets a new ResourceUri
    assert replaced["Name"] == "Front"

    spark.delete_photo(parent, replaced["Id"])
    with pytest.raises(SparkNotFound):
        spark.get_photo(parent, replaced["Id"])
    assert [p["Id"] for p in spark.list_photos(parent).results] == [photo2["Id"]]


def test_photo_batch_delete(spark, draft_ref):
    ids = [
        spark.upload_photo(draft_ref, jpeg_bytes(color), file_name=f"{color}.jpg", name=color).resource_id
        for color in ("red", "green", "blue")
    ]
    spark.delete_photos(draft_ref, ids[:2])
    assert [p["Id"] for p in spark.list_photos(draft_ref).results] == [ids[2]]
    with pytest.raises(SparkNotFound):
        spark.delete_photos(draft_ref, [ids[0], ids[2]])  # all or nothing


def test_photo_the_server_refuses(spark, draft_ref):
    with pytest.raises(SparkValidationError) as caught:
        spark.upload_photo(draft_ref, b"this is not an image", file_name="x.jpg", name="Broken")
    assert caught.value.status == 400 and caught.value.permanent
    with pytest.raises(SparkValidationError):
        spark.request(
            "POST",
            f"{draft_ref.path}/photos",
            route="photos.create",
            body={
                "Photos": [
                    {
                        "Picture": base64.b64encode(jpeg_bytes()).decode(),
                        "FileName": "a.jpg",
                        "Name": "n",
                        "Primary": True,
                    }
                ]
            },
        )  # Primary is invalid on POST
    assert spark.list_photos(draft_ref).results == []


@pytest.mark.sandbox_only
def test_photo_collection_put_can_be_not_allowed(spark, sandbox, draft_ref):
    photo = spark.upload_photo(draft_ref, jpeg_bytes(), file_name="a.jpg", name="A").resource_id
    sandbox.options(photo_collection_put="not_allowed")
    with pytest.raises(SparkMethodNotAllowed):
        spark.reorder_photos(draft_ref, [photo])


# --- tickets and uploads ------------------------------------------------------------------------


def test_photo_upload_with_ticket_sends_no_credentials(spark, parent):
    sent: dict[str, dict[str, str]] = {}
    spark.session.hooks["response"].append(lambda r, *a, **k: sent.update({r.request.url: r.request.headers}))

    ticket = spark.create_photo_ticket(parent)
    assert len(ticket.token) >= 16 and ticket.expires_in > 0 and ticket.service == "PhotoUploads"
    uploaded = spark.upload_photo_with_ticket(
        ticket, jpeg_bytes(), name="Kitchen", caption="Bright", file_name="kitchen.jpg", primary=True
    )
    photo_id = uploaded.resource_id
    photo = spark.get_photo(parent, photo_id).first
    assert (photo["Name"], photo["Caption"], photo["Primary"]) == ("Kitchen", "Bright", True)

    upload_headers = sent[ticket.uri]
    assert "Authorization" not in upload_headers
    assert upload_headers["Content-Type"].startswith("multipart/form-data")
    ticket_request = next(h for url, h in sent.items() if url.endswith("/photos/tickets"))
    assert ticket_request["Authorization"].startswith("Bearer ")


def test_generic_ticket_path(spark, draft_ref):
    ticket = spark.create_ticket(draft_ref, "DocumentUploads")
    assert ticket.service == "DocumentUploads"
    uploaded = spark.upload_document_with_ticket(ticket, pdf_bytes(), name="Survey", privacy="Private")
    assert spark.get_document(draft_ref, uploaded.resource_id).first["Name"] == "Survey"


def test_ticket_is_single_use(spark, draft_ref):
    ticket = spark.create_photo_ticket(draft_ref)
    spark.upload_photo_with_ticket(ticket, jpeg_bytes(), name="Once")
    with pytest.raises(SparkTicketError) as caught:
        spark.upload_photo_with_ticket(ticket, jpeg_bytes(), name="Twice")
    assert caught.value.permanent and not caught.value.ambiguous
    assert [p["Name"] for p in spark.list_photos(draft_ref).results] == ["Once"]


def test_unknown_ticket_is_refused(spark, draft_ref):
    real = spark.create_photo_ticket(draft_ref)
    forged = Ticket(token="0" * 32, uri=real.uri, service="PhotoUploads", expires_in=3600)
    with pytest.raises(SparkTicketError):
        spark.upload_photo_with_ticket(forged, jpeg_bytes(), name="Forged")


@pytest.mark.sandbox_only
def test_expired_ticket_is_refused(spark, sandbox, draft_ref):
    ticket = spark.create_photo_ticket(draft_ref)
    sandbox.clock(ticket.expires_in + 1)
    with pytest.raises(SparkTicketError) as caught:
        spark.upload_photo_with_ticket(ticket, jpeg_bytes(), name="Late")
    assert caught.value.status == 401 and caught.value.permanent
    assert spark.list_photos(draft_ref).results == []


# --- documents ----------------------------------------------------------------------------------


def test_document_lifecycle(spark, parent):
    names = ["Floor Plan", "Survey", "Inspection"]
    ids = []
    for name in names:
        ticket = spark.create_document_ticket(parent)
        assert ticket.service == "DocumentUploads"
        ids.append(
            spark.upload_document_with_ticket(ticket, pdf_bytes(), name=name, privacy="Public").resource_id
        )

    listed = spark.list_documents(parent).results
    assert [d["Name"] for d in listed] == names
    assert all(d["Privacy"] == "Public" for d in listed)
    assert spark.get_document(parent, ids[1]).first["Name"] == "Survey"

    spark.rename_document(parent, ids[1], "Boundary Survey")
    spark.set_document_privacy(parent, ids[1], "DataShare")
    document = spark.get_document(parent, ids[1]).first
    assert (document["Name"], document["Privacy"]) == ("Boundary Survey", "DataShare")

    spark.set_document_order(parent, ids[2], 1)
    assert [d["Id"] for d in spark.list_documents(parent).results] == [ids[2], ids[0], ids[1]]
    spark.reorder_documents(parent, [ids[1], ids[0], ids[2]])
    assert [d["Id"] for d in spark.list_documents(parent).results] == [ids[1], ids[0], ids[2]]

    spark.delete_document(parent, ids[0])
    assert [d["Id"] for d in spark.list_documents(parent).results] == [ids[1], ids[2]]
    with pytest.raises(SparkNotFound):
        spark.get_document(parent, ids[0])


@pytest.mark.sandbox_only  # HasEditNames and required documents are the sandbox MLS's
def test_document_rules_from_metadata(spark, draft_ref):
    ticket = spark.create_document_ticket(draft_ref)
    disclosure = spark.upload_document_with_ticket(
        ticket, pdf_bytes(), name="Property Disclosure", privacy="Public"
    ).resource_id
    # A HasEditNames document is forced to HasEdit and cannot be made public.
    assert spark.get_document(draft_ref, disclosure).first["Privacy"] == "HasEdit"
    with pytest.raises(SparkValidationError):
        spark.set_document_privacy(draft_ref, disclosure, "Public")
    with pytest.raises(SparkValidationError):
        spark.reorder_documents(draft_ref, [MISSING_ID])
    required = {r["Name"]: r["Present"] for r in spark.required_documents(draft_ref).results}
    assert required["Property Disclosure"] is True


# --- metadata -----------------------------------------------------------------------------------


def test_metadata_services(spark_target, spark):
    for incomplete in (True, False):
        photos_meta = spark.photos_meta(incomplete=incomplete).first
        assert "Public" in photos_meta["Privacy"]["Options"]
        documents_meta = spark.documents_meta(incomplete=incomplete).first
        assert "Options" in documents_meta["Privacy"]
    by_type = spark.documents_meta(property_type="A").first
    if spark_target.is_sandbox:
        assert list(by_type["Privacy"]["HasEditNames"]) == ["A"]

    fields = spark.standard_fields().first
    assert fields["ListPrice"]["Type"] in ("Integer", "Decimal")
    property_type = spark.standard_field("PropertyType").first["PropertyType"]
    assert property_type["HasList"] is True
    assert any(item["Value"] == "A" for item in property_type["FieldList"])
    with pytest.raises(SparkNotFound):
        spark.standard_field("NoSuchField")

    codes = {t["MlsCode"] for t in spark.property_types().results}
    assert "A" in codes
    assert codes <= {t["MlsCode"] for t in spark.property_types(include_inactive=True).results}


# --- authentication -----------------------------------------------------------------------------


def test_bad_token_is_a_permanent_auth_error(spark_target):
    client = spark_target.client(access_token="not-a-token")
    with pytest.raises(SparkAuthError) as caught:
        client.list_incomplete_listings()
    assert caught.value.status == 401 and caught.value.code == 1000
    assert caught.value.permanent


def test_missing_user_agent_is_refused(spark_target):
    client = spark_target.client(user_agent="")
    with pytest.raises(SparkValidationError) as caught:
        client.property_types()
    assert caught.value.code == 1016


def oauth_client(spark_target, **overrides: Any) -> SparkClient:
    options: dict[str, Any] = {
        "access_token": None,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
    }
    options.update(overrides)
    return spark_target.client(**options)


@pytest.mark.sandbox_only
def test_authorization_code_grant_then_refresh_on_1020(spark_target, sandbox):
    client = oauth_client(spark_target)
    tokens = client.exchange_code("code-1")
    assert tokens.access_token and tokens.refresh_token and tokens.expires_at
    client.property_types()
    sandbox.expire_tokens()

    assert client.property_types().results
    calls = sandbox.calls()
    assert calls["counts"]["oauth.grant"] == 2  # the exchange and exactly one refresh
    attempts = [c for c in calls["journal"] if c["route"] == "propertytypes.list"]
    assert [(c["status"], c["code"]) for c in attempts] == [(200, None), (401, 1020), (200, None)]
    assert client.token_store.get().access_token != tokens.access_token

    with pytest.raises(SparkOAuthError) as caught:
        client.exchange_code("code-1")  # a code works once
    assert caught.value.permanent and caught.value.error == "invalid_grant"


@pytest.mark.sandbox_only
def test_concurrent_callers_refresh_once(spark_target, sandbox):
    client = oauth_client(spark_target, pool_maxsize=8)
    client.exchange_code("code-threads")
    sandbox.expire_tokens()
    barrier = threading.Barrier(6)
    outcomes: list[Any] = []

    def work() -> None:
        barrier.wait()
        try:
            outcomes.append(len(client.property_types().results))
        except Exception as error:  # collected and asserted below
            outcomes.append(error)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(isinstance(o, int) and o > 0 for o in outcomes), outcomes
    assert len(outcomes) == 6
    # One exchange plus one refresh: waiting callers re-read the refreshed token.
    assert sandbox.count("oauth.grant") == 2


@pytest.mark.sandbox_only
def test_refresh_happens_once_and_retry_once(spark_target, sandbox):
    client = oauth_client(spark_target)
    client.exchange_code("code-2")
    sandbox.faults({"kind": "token_expired", "routes": ["propertytypes.list"], "times": 2})
    with pytest.raises(SparkTokenExpired) as caught:
        client.property_types()
    assert caught.value.permanent
    counts = sandbox.calls()["counts"]
    assert counts["propertytypes.list"] == 2
    assert counts["oauth.grant"] == 2


@pytest.mark.sandbox_only
def test_static_token_is_not_refreshed(spark_target, sandbox):
    client = spark_target.client()  # no OAuth client: a 1020 cannot be fixed here
    sandbox.faults({"kind": "token_expired", "routes": ["propertytypes.list"], "times": 1})
    with pytest.raises(SparkTokenExpired):
        client.property_types()
    counts = sandbox.calls()["counts"]
    assert counts["propertytypes.list"] == 1
    assert "oauth.grant" not in counts


@pytest.mark.sandbox_only
def test_token_near_expiry_is_refreshed_before_the_call(spark_target, sandbox):
    seed = oauth_client(spark_target)
    tokens = seed.exchange_code("code-3")
    store = InMemoryTokenStore(
        TokenSet(tokens.access_token, tokens.refresh_token, expires_at=time.time() - 1)
    )
    client = oauth_client(spark_target, token_store=store)
    client.property_types()
    attempts = [c for c in sandbox.calls()["journal"] if c["route"] == "propertytypes.list"]
    assert [c["status"] for c in attempts] == [200]  # no 1020 round trip
    assert store.get().access_token != tokens.access_token


@pytest.mark.sandbox_only
def test_unusable_refresh_token_is_a_permanent_oauth_error(spark_target, sandbox):
    client = oauth_client(spark_target, access_token="expired", refresh_token="not-a-refresh-token")
    sandbox.faults({"kind": "token_expired", "routes": ["propertytypes.list"], "times": 1})
    with pytest.raises(SparkOAuthError) as caught:
        client.property_types()
    assert caught.value.status == 400 and caught.value.permanent


# --- logging ------------------------------------------------------------------------------------


@pytest.mark.sandbox_only
def test_logs_carry_call_facts_but_no_secrets_or_bytes(spark_target, sandbox, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3's own debug lines are checked too
    client = oauth_client(spark_target)
    tokens = client.exchange_code("code-log")
    sandbox.expire_tokens()
    ref = ListingRef.for_incomplete(client.create_incomplete_listing(draft()).resource_id)
    picture = jpeg_bytes("purple")
    client.upload_photo(ref, picture, file_name="p.jpg", name="Purple")
    ticket = client.create_photo_ticket(ref)
    client.upload_photo_with_ticket(ticket, picture, name="Ticketed")
    document = pdf_bytes()
    doc_ticket = client.create_document_ticket(ref)
    client.upload_document_with_ticket(doc_ticket, document, name="Survey", privacy="Private")
    with pytest.raises(SparkNotFound):
        client.get_photo(ref, MISSING_ID)

    refreshed = client.token_store.get()
    secrets = [
        tokens.access_token,
        tokens.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
        SANDBOX_CLIENT_SECRET,
        ticket.token,
        doc_ticket.token,
        base64.b64encode(picture).decode()[:40],
    ]
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in secrets:
        assert secret not in everything
    assert "JFIF" not in everything and "%PDF" not in everything

    ours = [r for r in caplog.records if r.name == "spark.client"]
    routes = [r.spark["route"] for r in ours]
    assert routes[:3] == ["oauth.grant", "incomplete.create", "oauth.grant"]
    assert "uploads.photo" in routes and "uploads.document" in routes
    for record in ours:
        assert set(record.spark) >= {"method", "path", "status", "spark_code", "duration_ms", "request_id"}
    expired = next(r for r in ours if r.spark["status"] == 401)
    assert expired.spark["spark_code"] == 1020 and expired.levelno == logging.WARNING
    missing = ours[-1]
    assert (missing.spark["status"], missing.spark["spark_code"]) == (404, 404)
