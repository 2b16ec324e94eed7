"""Pure unit tests of the Spark client: no HTTP. Responses are canned envelopes fed to
``parse_response``, the same function the client runs on every answer."""

import datetime as dt
import json
import threading
import time
from decimal import Decimal

import pytest

from spark.client import ListingRef, SparkClient, Ticket
from spark.errors import (
    SparkAuthError,
    SparkConflict,
    SparkError,
    SparkFilterError,
    SparkInvalidResponse,
    SparkMethodNotAllowed,
    SparkNotFound,
    SparkPermissionDenied,
    SparkRateLimited,
    SparkServerError,
    SparkTicketError,
    SparkTimeout,
    SparkTokenExpired,
    SparkUnavailable,
    SparkValidationError,
    classify_error,
)
from spark.filters import And, Field, Not, Or, Raw, literal
from spark.responses import parse_response, parse_retry_after
from spark.tokens import CachedTokenStore, InMemoryTokenStore, TokenSet, TokenStore
from spark.transport import MAX_PAGE_SIZE

# --- the _filter builder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fargo", "'Fargo'"),
        ("O'Neill", r"'O\'Neill'"),
        ("back\\slash", r"'back\\slash'"),
        ("\\'", r"'\\\''"),
        ("x' Or ListPrice Gt 0 Or City Eq 'y", r"'x\' Or ListPrice Gt 0 Or City Eq \'y'"),
        ("", "''"),
        ("Zürich", "'Zürich'"),
        (3, "3"),
        (-7, "-7"),
        (2.5, "2.5"),
        (100000.0, "100000.0"),
        (1e-7, "0.0000001"),
        (Decimal("10000.00"), "10000.00"),
        (True, "true"),
        (False, "false"),
        (None, "NULL"),
        (dt.date(2024, 1, 31), "2024-01-31"),
        (dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC), "2024-01-01T00:00:00Z"),
        (dt.datetime(2024, 1, 1, 8, 30), "2024-01-01T08:30:00"),
        (
            dt.datetime(2024, 1, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            "2024-01-01T08:30:00-05:00",
        ),
        (dt.time(9, 15), "09:15:00"),
    ],
)
def test_literals_are_typed_and_strings_escaped(value, expected):
    assert literal(value) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), "nul\x00", object(), [1]])
def test_literal_refuses_values_it_cannot_render_safely(bad):
    with pytest.raises((ValueError, TypeError)):
        literal(bad)


def test_comparisons_render_spark_syntax():
    assert str(Field("City").eq("Fargo")) == "City Eq 'Fargo'"
    assert str(Field("City").ne("Fargo", "Moorhead")) == "City Ne 'Fargo','Moorhead'"
    assert str(Field("ListPrice").gt(100000)) == "ListPrice Gt 100000"
    assert str(Field("ListPrice").ge(Decimal("10000.00"))) == "ListPrice Ge 10000.00"
    assert str(Field("BathsTotal").lt(3.0)) == "BathsTotal Lt 3.0"
    assert str(Field("YearBuilt").le(1990)) == "YearBuilt Le 1990"
    assert str(Field("ListPrice").bt(100000, 200000)) == "ListPrice Bt 100000,200000"
    assert (
        str(Field("ModificationTimestamp").gt(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
        == "ModificationTimestamp Gt 2024-01-01T00:00:00Z"
    )
    assert str(Field("OnMarketDate").bt(dt.date(2024, 1, 1), dt.date(2024, 2, 1))) == (
        "OnMarketDate Bt 2024-01-01,2024-02-01"
    )
    assert str(Field("Garage").eq(True)) == "Garage Eq true"
    assert str(Field("StreetDirPrefix").eq(None)) == "StreetDirPrefix Eq NULL"
    assert str(Field.custom("Contract Information", "Book Section").eq("Res")) == (
        '"Contract Information"."Book Section" Eq \'Res\''
    )


def test_multi_value_eq_escapes_every_value():
    assert str(Field("City").eq("Fargo", "O'Neill", "a\\b")) == r"City Eq 'Fargo','O\'Neill','a\\b'"


def test_junctions_nest_with_parentheses_because_and_or_share_precedence():
    a = Field("City").eq("Fargo")
    b = Field("ListPrice").gt(100000)
    c = Field("PropertyType").eq("A")
    assert str(a & b) == "City Eq 'Fargo' And ListPrice Gt 100000"
    assert str(And(a, b, c)) == "City Eq 'Fargo' And ListPrice Gt 100000 And PropertyType Eq 'A'"
    # flattening keeps the depth low
    assert str((a & b) & c) == str(And(a, b, c))
    assert str((a | b) & c) == "(City Eq 'Fargo' Or ListPrice Gt 100000) And PropertyType Eq 'A'"
    assert str(a | (b & c)) == "City Eq 'Fargo' Or (ListPrice Gt 100000 And PropertyType Eq 'A')"
    assert str(Or(a)) == "City Eq 'Fargo'"


def test_not_wraps_groups_and_is_grouped_inside_junctions():
    a = Field("City").eq("Fargo")
    b = Field("ListPrice").gt(100000)
    assert str(Not(a)) == "Not City Eq 'Fargo'"
    assert str(~(a | b)) == "Not (City Eq 'Fargo' Or ListPrice Gt 100000)"
    assert str(b & ~a) == "ListPrice Gt 100000 And (Not City Eq 'Fargo')"


def test_raw_fragments_are_grouped_when_combined():
    radius = Raw("Location Eq radius('46.87 -96.79',1.0)")
    assert str(radius) == "Location Eq radius('46.87 -96.79',1.0)"
    assert str(radius & Field("City").eq("Fargo")) == (
        "(Location Eq radius('46.87 -96.79',1.0)) And City Eq 'Fargo'"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: Field("City").gt("Fargo"),
        lambda: Field("Garage").lt(True),
        lambda: Field("X").ge(None),
        lambda: Field("ListPrice")._compare("Gt", (1, 2)),
        lambda: Field("ListPrice").bt("1", "2"),
        lambda: Field("City").eq(),
        lambda: Field("City Eq 'x' Or 1"),
        lambda: Field("1abc"),
        lambda: Field.custom('Gr"oup', "Field"),
        lambda: And(),
    ],
)
def test_builder_refuses_what_sparkql_refuses(build):
    with pytest.raises(ValueError):
        build()


# --- Retry-After --------------------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),
        ("Sunday, 01-Mar-26 12:01:00 GMT", 60.0),
        ("Sun Mar  1 12:00:05 2026", 5.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_seconds_or_http_date(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


# --- classification from canned envelopes -------------------------------------------------------


def envelope(code, message="boom", **extra):
    return {"D": {"Success": False, "Code": code, "Message": message, **extra}}


@pytest.mark.parametrize(
    ("status", "code", "error_class", "transient"),
    [
        (429, 1550, SparkRateLimited, True),
        (503, 1550, SparkRateLimited, True),
        (429, None, SparkRateLimited, True),
        (503, 1510, SparkUnavailable, True),
        (503, 1515, SparkUnavailable, True),
        (503, 1516, SparkUnavailable, True),
        (503, 1023, SparkUnavailable, True),
        (503, 1024, SparkUnavailable, True),
        (500, None, SparkServerError, True),
        (500, 1026, SparkServerError, True),
        (502, None, SparkServerError, True),
        (503, None, SparkUnavailable, True),
        (504, None, SparkServerError, True),
        (400, 1053, SparkValidationError, False),
        (400, 1050, SparkValidationError, False),
        (400, 1035, SparkValidationError, False),
        (400, 1016, SparkValidationError, False),
        (400, 1040, SparkFilterError, False),
        (400, 1041, SparkFilterError, False),
        (400, 2001, SparkFilterError, False),
        (401, 1000, SparkAuthError, False),
        (401, 1020, SparkTokenExpired, False),
        (403, 1500, SparkPermissionDenied, False),
        (403, 1021, SparkPermissionDenied, False),
        (403, None, SparkPermissionDenied, False),
        (500, 1005, SparkAuthError, False),
        (404, 404, SparkNotFound, False),
        (404, None, SparkNotFound, False),
        (405, 405, SparkMethodNotAllowed, False),
        (405, 1017, SparkMethodNotAllowed, False),
        (405, 1018, SparkMethodNotAllowed, False),
        (409, 1055, SparkConflict, False),
        (418, None, SparkError, False),
    ],
)
def test_errors_are_classified_by_code_then_status(status, code, error_class, transient):
    assert classify_error(status, code) is error_class
    with pytest.raises(SparkError) as caught:
        parse_response(status, {"X-Request-Id": "req-1"}, json.dumps(envelope(code)).encode(), method="GET")
    error = caught.value
    assert type(error) is error_class
    assert error.transient is transient
    assert error.permanent is (not transient)
    assert error.status == status
    assert error.code == code
    assert error.message == "boom"
    assert error.request_id == "req-1"
    assert error.ambiguous is False  # a GET applies nothing


@pytest.mark.parametrize(
    ("status", "ambiguous"), [(500, False), (502, True), (503, False), (504, True), (429, False)]
)
def test_only_502_and_504_make_a_write_ambiguous(status, ambiguous):
    with pytest.raises(SparkError) as caught:
        parse_response(status, {}, envelope(None), method="POST", path="/v1/listings/incomplete")
    assert caught.value.ambiguous is ambiguous
    assert caught.value.transient is True


def test_rate_limit_carries_its_wait_in_seconds_or_none():
    with pytest.raises(SparkRateLimited) as caught:
        parse_response(429, {"Retry-After": "2"}, envelope(1550, "Over rate limit"))
    assert caught.value.retry_after == 2.0
    with pytest.raises(SparkRateLimited) as caught:
        parse_response(503, {}, envelope(1550, "Over rate limit"))
    assert caught.value.retry_after is None
    assert caught.value.status == 503
    with pytest.raises(SparkRateLimited) as caught:
        parse_response(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, envelope(1550))
    assert caught.value.retry_after == 0.0  # a date in the past: do not wait


def test_validation_errors_flatten_nested_records_and_rules():
    body = envelope(
        1053,
        "Listing has errors",
        Errors=[
            {
                "Type": "InvalidRecord",
                "Record": {"ListPrice": -1, "Picture": "QUFBQQ=="},
                "Errors": [
                    {"Type": "InvalidAttribute", "Attribute": "ListPrice", "Message": "must be positive"},
                    {
                        "Type": "RuleViolation",
                        "Message": None,
                        "Rule": {
                            "Id": "1",
                            "Status": "Fatal",
                            "Field": "PostalCode",
                            "Action": "SET_REQUIRED",
                            "Expression": "PostalCode Ne NULL",
                        },
                    },
                ],
            }
        ],
        Details=[{"YearBuilt": [{"RuleName": "MaxValue", "RuleValue": "2030", "Value": "3000"}]}],
    )
    with pytest.raises(SparkValidationError) as caught:
        parse_response(400, {}, body, method="POST", path="/v1/listings")
    errors = caught.value.field_errors
    assert [(e.type, e.field) for e in errors] == [
        ("InvalidAttribute", "ListPrice"),
        ("RuleViolation", "PostalCode"),
        ("Constraint", "YearBuilt"),
    ]
    assert errors[0].message == "must be positive"
    assert errors[1].status == "Fatal"
    assert errors[1].rule["Action"] == "SET_REQUIRED"
    assert errors[2].message == "MaxValue 2030"
    assert "Record" not in errors[0].raw
    assert caught.value.permanent and not caught.value.ambiguous


def test_filter_errors_carry_sparkql_details():
    details = [{"Token": "Foo", "Message": "unknown field", "Status": "fatal"}]
    with pytest.raises(SparkFilterError) as caught:
        parse_response(400, {}, envelope(1040, "Invalid filter", SparkQLErrors=details))
    assert caught.value.sparkql_errors == details


def test_success_with_errors_returns_warnings_not_an_exception():
    body = {
        "D": {
            "Success": True,
            "Results": [{"ResourceUri": "/v1/listings/incomplete/20240101000000000001000000"}],
            "Errors": [
                {
                    "Type": "RuleViolation",
                    "Message": "BedsTotal is recommended",
                    "Rule": {"Field": "BedsTotal"},
                }
            ],
        }
    }
    result = parse_response(201, {"X-Request-Id": "abc"}, body, method="POST")
    assert result.status == 201
    assert result.resource_id == "20240101000000000001000000"
    assert [(w.field, w.message) for w in result.warnings] == [("BedsTotal", "BedsTotal is recommended")]
    assert result.request_id == "abc"


def test_pagination_and_version_are_parsed():
    body = {
        "D": {
            "Success": True,
            "Results": [{"Id": "1"}, {"Id": "2"}],
            "Pagination": {"TotalRows": 78, "PageSize": 25, "TotalPages": 4, "CurrentPage": 1},
            "Version": 3,
        }
    }
    result = parse_response(200, {}, json.dumps(body))
    assert result.pagination.total_rows == 78
    assert result.pagination.total_pages == 4
    assert not result.pagination.is_last_page
    assert result.version == 3
    assert result.first == {"Id": "1"}
    assert result.resource_id == "1"


def test_success_without_body_and_plain_success():
    assert parse_response(204, {}, b"").results == []
    result = parse_response(200, {}, b'{"D": {"Success": true}}')
    assert result.results == [] and result.warnings == [] and result.pagination is None


@pytest.mark.parametrize(
    ("status", "body", "method", "error_class", "ambiguous"),
    [
        (200, b"<html>oops</html>", "POST", SparkInvalidResponse, True),
        (200, b'{"Success": true}', "GET", SparkInvalidResponse, False),
        (502, b"<html>Bad gateway</html>", "PUT", SparkServerError, True),
        (504, b"", "DELETE", SparkServerError, True),
        (503, b"Service Unavailable", "POST", SparkUnavailable, False),
        (404, b"Not Found", "GET", SparkNotFound, False),
        (302, b"", "GET", SparkInvalidResponse, False),
    ],
)
def test_bodies_without_an_envelope(status, body, method, error_class, ambiguous):
    with pytest.raises(SparkError) as caught:
        parse_response(status, {}, body, method=method)
    assert type(caught.value) is error_class
    assert caught.value.ambiguous is ambiguous


def test_error_text_names_status_code_route_and_request_but_nothing_secret():
    with pytest.raises(SparkError) as caught:
        parse_response(
            404, {"X-Request-Id": "r-9"}, envelope(404, "Not found"), method="GET", path="/v1/listings/1"
        )
    assert str(caught.value) == "HTTP 404 code 404: Not found (GET /v1/listings/1) [request r-9]"
    assert "SparkNotFound(status=404" in repr(caught.value)


# --- tokens, tickets, query building ------------------------------------------------------------


def test_in_memory_store_satisfies_the_protocol_and_locks():
    store = InMemoryTokenStore()
    assert isinstance(store, TokenStore)
    assert store.get() is None
    store.set(TokenSet("a", "r", None))
    assert store.get().access_token == "a"
    with store.lock():
        acquired = []
        worker = threading.Thread(target=lambda: acquired.append(store.lock().acquire(timeout=0.05)))
        worker.start()
        worker.join()
        assert acquired == [False]


class CountingStore(InMemoryTokenStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self):
        self.reads += 1
        return super().get()


def test_cached_store_reads_the_shared_store_once_per_ttl_and_afresh_under_the_lock():
    shared = CountingStore()
    cached = CachedTokenStore(shared, ttl=60)
    assert isinstance(cached, TokenStore)
    # Nothing stored yet: not cached, the next call looks again.
    assert cached.get() is None and cached.get() is None and shared.reads == 2
    shared.set(TokenSet("old", "r", None))
    for _ in range(5):
        assert cached.get().access_token == "old"
    assert shared.reads == 3
    # Another process refreshed: this one still sends the old token (the remote refuses it,
    # 1020)...
    shared.set(TokenSet("new", "r2", None))
    assert cached.get().access_token == "old"
    # ...and whoever takes the lock to decide on a refresh reads the store as it is now.
    with cached.lock():
        assert cached.get().access_token == "new"
    assert cached.get().access_token == "new" and shared.reads == 4
    # Its own refresh is written through and cached.
    cached.set(TokenSet("newest", "r3", None))
    assert shared.get().access_token == "newest"
    reads = shared.reads
    assert cached.get().access_token == "newest" and shared.reads == reads


def test_cached_store_reads_again_after_its_ttl():
    shared = CountingStore()
    shared.set(TokenSet("a", "r", None))
    cached = CachedTokenStore(shared, ttl=0.05)
    cached.get()
    shared.set(TokenSet("b", "r", None))
    time.sleep(0.06)
    assert cached.get().access_token == "b" and shared.reads == 2


def test_secrets_stay_out_of_reprs():
    tokens = TokenSet("secret-access", "secret-refresh", 123.0)
    ticket = Ticket(
        token="secret-ticket", uri="http://x/uploads/photos", service="PhotoUploads", expires_in=60
    )
    assert "secret" not in repr(tokens)
    assert "secret" not in repr(ticket)
    client = SparkClient("http://x", access_token="secret-access", client_secret="secret-client")
    assert "secret" not in repr(client)


def test_token_set_expiry_and_serialisation():
    tokens = TokenSet("a", "r", expires_at=1000.0)
    assert tokens.expires_soon(now=950.0)
    assert not tokens.expires_soon(now=900.0)
    assert not TokenSet("a").expires_soon()
    assert TokenSet.from_dict(tokens.to_dict()) == tokens


def test_ticket_expiry():
    ticket = Ticket(token="t", uri="u", service="PhotoUploads", expires_in=60, issued_at=1000.0)
    assert not ticket.is_expired(now=1059.0)
    assert ticket.is_expired(now=1060.0)


def test_query_building():
    query = SparkClient.build_query(
        filter=Field("City").eq("Fargo"),
        orderby=["-ListPrice", "+BathsTotal"],
        select=["ListPrice", "City"],
        expand="Photos",
        limit=25,
        page=2,
        pagination=True,
        extra={"_lat": 46.9, "flag": True, "skip": None},
    )
    assert query == {
        "_filter": "City Eq 'Fargo'",
        "_orderby": "-ListPrice,+BathsTotal",
        "_select": "ListPrice,City",
        "_expand": "Photos",
        "_limit": "25",
        "_page": "2",
        "_pagination": "1",
        "_lat": "46.9",
        "flag": "true",
    }
    assert SparkClient.build_query(pagination="count") == {"_pagination": "count"}
    with pytest.raises(ValueError):
        SparkClient.build_query(limit=MAX_PAGE_SIZE + 1)
    with pytest.raises(ValueError):
        SparkClient.build_query(page=0)


def test_listing_refs_build_both_path_prefixes_and_refuse_path_tricks():
    assert ListingRef.for_incomplete("1").path == "/v1/listings/incomplete/1"
    assert ListingRef.for_listing("1").path == "/v1/listings/1"
    for bad in ["", "../1", "1/photos", "1?x=1", "1,2", "a b"]:
        with pytest.raises(ValueError):
            _ = ListingRef.for_listing(bad).path


def test_base_url_accepts_a_trailing_v1():
    assert SparkClient("https://sparkapi.com/v1/").base_url == "https://sparkapi.com"
    assert SparkClient("http://h/sandbox").base_url == "http://h/sandbox"


def test_local_photo_checks_refuse_before_any_call():
    calls = []
    client = SparkClient("http://127.0.0.1:9", access_token="t", before_request=lambda m, r: calls.append(r))
    ref = ListingRef.for_incomplete("1")
    with pytest.raises(SparkValidationError) as caught:
        client.upload_photo(ref, b"x", file_name="a.jpg", name="n" * 41)
    assert caught.value.field_errors[0].field == "Name"
    assert caught.value.permanent and caught.value.status is None
    with pytest.raises(SparkValidationError):
        client.upload_photo(ref, b"x", file_name="a.jpg", name="ok", caption="c" * 1001)
    with pytest.raises(SparkValidationError):
        client.upload_photo(ref, b"", file_name="a.jpg", name="ok")
    with pytest.raises(ValueError):
        client.update_photo(ref, "2", primary=False)
    with pytest.raises(ValueError):
        client.update_photo(ref, "2")
    assert calls == []


def test_expired_ticket_is_refused_locally():
    calls = []
    client = SparkClient("http://127.0.0.1:9", access_token="t", before_request=lambda m, r: calls.append(r))
    ticket = Ticket(token="t", uri="http://127.0.0.1:9/uploads/photos", service="PhotoUploads", expires_in=0)
    with pytest.raises(SparkTicketError):
        client.upload_photo_with_ticket(ticket, b"jpeg", name="n")
    assert calls == []


def test_connection_refused_is_transient_and_never_ambiguous():
    # Port 9 (discard) is closed on this machine: nothing can have been applied.
    client = SparkClient("http://127.0.0.1:9", access_token="t", connect_timeout=1, read_timeout=1)
    with pytest.raises(SparkError) as caught:
        client.create_incomplete_listing({"City": "Fargo"})
    assert caught.value.transient
    assert caught.value.ambiguous is False
    assert not isinstance(caught.value, SparkTimeout)
