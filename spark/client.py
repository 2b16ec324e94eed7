"""HTTP client for the Spark Platform API (flexmls), the remote our drafts are pushed to.

Pure Python + ``requests``; it knows nothing of Django models. Protocol facts come from
``shared/spark-api.md`` (section numbers below refer to it) and the seed pages.

What a caller can rely on:

- Every method sends one logical request and returns plain data (:class:`SparkResult`,
  :class:`Ticket`, dicts) or raises a :class:`SparkError` subclass. The only automatic retry is
  the one documented by Spark: on code 1020 (token expired) the token is refreshed once and the
  request re-sent once. Back-off, rate limiting and re-sending are the caller's business; the
  error tells it how (``transient``/``permanent``, ``retry_after``, ``ambiguous``).
- ``ambiguous`` is true when a write may have been applied although no answer arrived (read
  timeout after the body was sent, connection dropped mid-response, 502/504): list the remote
  items and adopt a match before sending again.
- Tokens, passwords, client secrets, ticket tokens and file bytes never reach the log, an
  exception message or a ``repr``.
- One client may be shared by threads: the ``requests`` session pools connections and the
  token is refreshed under the :class:`TokenStore` lock, once for all waiting callers.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from spark.filters import Expr

__all__ = [
    "MAX_PAGE_SIZE",
    "AfterRequestHook",
    "BeforeRequestHook",
    "Exchange",
    "FieldError",
    "InMemoryTokenStore",
    "ListingRef",
    "Pagination",
    "SparkAuthError",
    "SparkClient",
    "SparkConflict",
    "SparkConnectionError",
    "SparkError",
    "SparkFilterError",
    "SparkInvalidResponse",
    "SparkMethodNotAllowed",
    "SparkNotFound",
    "SparkOAuthError",
    "SparkPermissionDenied",
    "SparkRateLimited",
    "SparkResult",
    "SparkServerError",
    "SparkTicketError",
    "SparkTimeout",
    "SparkTokenExpired",
    "SparkUnavailable",
    "SparkValidationError",
    "Ticket",
    "TokenSet",
    "TokenStore",
    "classify_error",
    "parse_response",
    "parse_retry_after",
]

logger = logging.getLogger("spark.client")

MAX_PAGE_SIZE = 25  # §6.1: larger _limit values are refused or clamped by Spark
PHOTO_NAME_MAX = 40  # §7.4
PHOTO_CAPTION_MAX = 1000  # §7.4
# Proactively refresh an OAuth token this long before its announced expiry.
TOKEN_EXPIRY_MARGIN_SECONDS = 60.0
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Privacy = Literal["Public", "DataShare", "Private", "HasEdit"]
Rotation = Literal["clockwise", "counterclockwise"]
FilterArg = str | Expr | None
ListArg = str | Sequence[str] | None

# (method, route) -> None; route is a stable name such as "photos.create" (see each method).
BeforeRequestHook = Callable[[str, str], None]


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange as `after_request` sees it (no token, no body)."""

    method: str
    path: str
    route: str
    status: int | None
    code: int | None
    duration_ms: float
    request_id: str | None
    failure: str | None


AfterRequestHook = Callable[[Exchange], None]


# ---------------------------------------------------------------------------------------------
# Plain data returned to callers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One entry of a Spark ``Errors``/``Details`` list, flattened (§3).

    ``type`` is ``InvalidAttribute``, ``RuleViolation``, ``Constraint`` (from the deprecated
    ``Details``) or whatever Spark sent; ``field`` is the attribute or the rule's field;
    ``status`` is the rule status (``Fatal``, ``Warn``...) when there is one.
    """

    type: str | None
    field: str | None
    message: str | None
    status: str | None = None
    rule: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Pagination:
    total_rows: int | None
    page_size: int | None
    total_pages: int | None
    current_page: int | None
    current_offset: int | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Pagination:
        return cls(
            total_rows=_as_int(payload.get("TotalRows")),
            page_size=_as_int(payload.get("PageSize")),
            total_pages=_as_int(payload.get("TotalPages")),
            current_page=_as_int(payload.get("CurrentPage")),
            current_offset=_as_int(payload.get("CurrentOffset")),
        )

    @property
    def is_last_page(self) -> bool:
        if self.total_pages is None or self.current_page is None:
            return True
        return self.current_page >= self.total_pages


@dataclass(frozen=True)
class SparkResult:
    """A successful response: ``D`` unpacked.

    ``warnings`` holds the ``Errors`` Spark may send with ``Success: true`` (incomplete
    listings treat most rule violations as warnings, §7.1); they are not failures.
    """

    status: int
    results: list[Any]
    pagination: Pagination | None = None
    warnings: list[FieldError] = field(default_factory=list)
    request_id: str | None = None
    version: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def first(self) -> Any:
        """The first result, or None when there are none."""
        return self.results[0] if self.results else None

    @property
    def resource_id(self) -> str | None:
        """Id of the first result: its ``Id``, else the last segment of its ``ResourceUri``."""
        first = self.first
        if not isinstance(first, Mapping):
            return None
        if first.get("Id"):
            return str(first["Id"])
        uri = first.get("ResourceUri")
        if isinstance(uri, str) and uri.rstrip("/"):
            return uri.rstrip("/").rsplit("/", 1)[-1]
        return None


@dataclass(frozen=True)
class TokenSet:
    """OAuth2 tokens as stored in a :class:`TokenStore`. ``expires_at`` is a Unix time."""

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None

    def expires_soon(self, now: float | None = None, margin: float = TOKEN_EXPIRY_MARGIN_SECONDS) -> bool:
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at - margin

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form, for stores that serialise (e.g. Redis)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(data.get("access_token"), data.get("refresh_token"), data.get("expires_at"))


@dataclass(frozen=True)
class Ticket:
    """A one-time upload ticket (§7.5). The token is a secret: it is kept out of ``repr``."""

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


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class SparkError(Exception):
    """A failed Spark call.

    Attributes: ``status`` (HTTP status, None when no response), ``code`` (Spark ``Code``),
    ``message``, ``field_errors`` (flattened ``Errors``/``Details``), ``sparkql_errors``,
    ``request_id``, ``method``, ``path``, ``route``, ``retry_after`` (seconds, from
    ``Retry-After``; None when absent), ``transient`` (retrying the same request later may
    succeed), ``permanent`` (= not transient) and ``ambiguous`` (a write may have been applied
    remotely although it failed: reconcile before re-sending).
    """

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        field_errors: Sequence[FieldError] = (),
        sparkql_errors: Sequence[Any] = (),
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        route: str | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
        ambiguous: bool = False,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field_errors = list(field_errors)
        self.sparkql_errors = list(sparkql_errors)
        self.request_id = request_id
        self.method = method
        self.path = path
        self.route = route
        self.retry_after = retry_after
        if transient is not None:
            self.transient = transient
        self.ambiguous = ambiguous
        self.data = dict(data or {})

    @property
    def permanent(self) -> bool:
        return not self.transient

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.method and self.path:
            text += f" ({self.method} {self.path})"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, transient={self.transient}, ambiguous={self.ambiguous}, "
            f"retry_after={self.retry_after!r}, request_id={self.request_id!r})"
        )


class SparkAuthError(SparkError):
    """401/403 and the auth codes (1000, 1010, 1013, 1015, 1019, 1021, ...): fix the credentials."""


class SparkTokenExpired(SparkAuthError):
    """Code 1020. Raised only when refreshing was impossible or did not help."""


class SparkPermissionDenied(SparkAuthError):
    """403: the key's role or the user may not do this (1500, 1505, 1013, ...)."""


class SparkOAuthError(SparkAuthError):
    """The OAuth2 grant endpoint refused (``{"error", "error_description"}``)."""

    def __init__(self, message: str, *, error: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error


class SparkValidationError(SparkError):
    """400/422: the request or its data is invalid (1035, 1050, 1053, 1060, rule violations)."""


class SparkFilterError(SparkValidationError):
    """1040/1041/2xxx: the ``_filter`` was refused; details in ``sparkql_errors``."""


class SparkNotFound(SparkError):
    """404."""


class SparkMethodNotAllowed(SparkError):
    """405 (also 1017 read-only key, 1018 method forbidden)."""


class SparkConflict(SparkError):
    """409 (1055 and friends): the write conflicts with existing data."""


class SparkTicketError(SparkError):
    """An upload ticket was refused (expired, already used, unknown). Get a new ticket; if the
    previous upload with it was ambiguous, reconcile first."""


class SparkRateLimited(SparkError):
    """1550 (as 429 or 503) or HTTP 429. Wait ``retry_after`` seconds when it is not None."""

    transient = True


class SparkServerError(SparkError):
    """5xx."""

    transient = True


class SparkUnavailable(SparkServerError):
    """503 and the 'try later' codes 1510/1515/1516/1023/1024."""


class SparkTimeout(SparkError):
    """Connect or read timeout, or the whole-response deadline passed (slow bodies)."""

    transient = True


class SparkConnectionError(SparkError):
    """The connection could not be made or broke."""

    transient = True


class SparkInvalidResponse(SparkError):
    """A response that is not the documented ``D`` envelope (proxy error pages, truncation)."""

    transient = True


_RATE_LIMIT_CODE = 1550
_TOKEN_EXPIRED_CODE = 1020
_UNAVAILABLE_CODES = frozenset({1510, 1515, 1516, 1023, 1024, 2005})
_AUTH_CODES = frozenset({1000, 1005, 1010, 1013, 1015, 1019, 1021, 1030, 1100, 1500, 1505})
_NOT_ALLOWED_CODES = frozenset({405, 1017, 1018})
_CONFLICT_CODES = frozenset({1055, 1110, 2505})
_VALIDATION_CODES = frozenset({1016, 1022, 1035, 1050, 1053, 1060, 1061, 3000})
_AMBIGUOUS_STATUSES = frozenset({502, 504})


def _is_filter_code(code: int | None) -> bool:
    if code is None:
        return False
    return code in (1040, 1041) or (2000 <= code <= 2999 and code not in (2005, 2505))


def classify_error(status: int | None, code: int | None) -> type[SparkError]:
    """The error class for an HTTP status and Spark code (§4, §5). Codes win over statuses."""
    if code == _RATE_LIMIT_CODE or status == 429:
        return SparkRateLimited
    if code == _TOKEN_EXPIRED_CODE:
        return SparkTokenExpired
    if code in _UNAVAILABLE_CODES:
        return SparkUnavailable
    if code in _NOT_ALLOWED_CODES or status == 405:
        return SparkMethodNotAllowed
    if code == 404 or status == 404:
        return SparkNotFound
    if code in _CONFLICT_CODES or status == 409:
        return SparkConflict
    if _is_filter_code(code):
        return SparkFilterError
    if code in _AUTH_CODES or status in (401, 403):
        # 1005 "key not set up" comes as a 500 but no retry will fix it.
        return SparkPermissionDenied if status == 403 else SparkAuthError
    if code in _VALIDATION_CODES or status in (400, 422):
        return SparkValidationError
    if status is not None and status == 503:
        return SparkUnavailable
    if status is not None and status >= 500:
        return SparkServerError
    return SparkError


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    None when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


def flatten_errors(entries: Any) -> list[FieldError]:
    """Flatten a Spark ``Errors`` list (nested ``InvalidRecord`` -> attribute/rule entries)."""
    found: list[FieldError] = []
    if not isinstance(entries, list):
        return found
    for entry in entries:
        if not isinstance(entry, Mapping):
            found.append(FieldError(type=None, field=None, message=str(entry), raw={"value": entry}))
            continue
        nested = entry.get("Errors")
        if isinstance(nested, list) and nested:
            found.extend(flatten_errors(nested))
            continue
        rule = entry.get("Rule") if isinstance(entry.get("Rule"), Mapping) else None
        field_name = entry.get("Attribute") or entry.get("Field") or (rule or {}).get("Field")
        message = entry.get("Message")
        if message is None and rule is not None:
            message = rule.get("Description") or rule.get("Summary") or rule.get("Expression")
        found.append(
            FieldError(
                type=entry.get("Type"),
                field=field_name,
                message=message,
                status=entry.get("Status") or (rule or {}).get("Status"),
                rule=rule,
                raw=_without_record(entry),
            )
        )
    return found


def _without_record(entry: Mapping[str, Any]) -> dict[str, Any]:
    # An InvalidRecord echoes the posted record, which may hold a base64 picture.
    return {k: v for k, v in entry.items() if k != "Record"}


def _flatten_details(details: Any) -> list[FieldError]:
    """The deprecated ``Details: [{"<Field>": [{RuleName, RuleValue, ...}]}]`` (§3, code 1053)."""
    found: list[FieldError] = []
    if not isinstance(details, list):
        return found
    for entry in details:
        if not isinstance(entry, Mapping):
            continue
        for field_name, constraints in entry.items():
            for constraint in constraints if isinstance(constraints, list) else [constraints]:
                constraint = constraint if isinstance(constraint, Mapping) else {"RuleName": constraint}
                rule_name = constraint.get("RuleName")
                rule_value = constraint.get("RuleValue")
                message = f"{rule_name} {rule_value}".strip() if rule_value is not None else rule_name
                found.append(
                    FieldError(type="Constraint", field=field_name, message=message, raw=dict(constraint))
                )
    return found


def parse_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | Mapping[str, Any] | None,
    *,
    method: str = "GET",
    path: str = "",
    route: str | None = None,
) -> SparkResult:
    """Unpack one Spark response: a :class:`SparkResult`, or raise the classified error.

    This is the only place responses are interpreted; the client and the tests both use it.
    """
    method = method.upper()
    request_id = _header(headers, "X-Request-Id")
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    is_write = method in _WRITE_METHODS
    payload, text = _decode_body(body)
    common: dict[str, Any] = {
        "status": status,
        "request_id": request_id,
        "method": method,
        "path": path,
        "route": route,
        "retry_after": retry_after,
    }

    envelope = payload.get("D") if isinstance(payload, Mapping) else None
    if not isinstance(envelope, Mapping):
        if 200 <= status < 300 and not text.strip():
            return SparkResult(status=status, results=[], request_id=request_id)
        error_class = classify_error(status, None)
        if 200 <= status < 300 or error_class is SparkError:
            error_class = SparkInvalidResponse
        message = _oauth_message(payload) or _snippet(text) or f"HTTP {status} without a D envelope"
        raise error_class(
            message,
            ambiguous=is_write and (200 <= status < 300 or status in _AMBIGUOUS_STATUSES),
            data=payload if isinstance(payload, Mapping) else None,
            **common,
        )

    code = _as_int(envelope.get("Code"))
    success = envelope.get("Success")
    field_errors = flatten_errors(envelope.get("Errors")) + _flatten_details(envelope.get("Details"))
    if 200 <= status < 300 and success is not False:
        pagination = envelope.get("Pagination")
        results = envelope.get("Results")
        return SparkResult(
            status=status,
            results=list(results) if isinstance(results, list) else ([] if results is None else [results]),
            pagination=Pagination.from_payload(pagination) if isinstance(pagination, Mapping) else None,
            warnings=field_errors,
            request_id=request_id,
            version=_as_int(envelope.get("Version")),
            data=envelope,
        )

    error_class = classify_error(status, code)
    message = envelope.get("Message") or (field_errors[0].message if field_errors else None)
    raise error_class(
        str(message or f"HTTP {status}"),
        code=code,
        field_errors=field_errors,
        sparkql_errors=envelope.get("SparkQLErrors") or [],
        ambiguous=is_write and status in _AMBIGUOUS_STATUSES,
        data=envelope,
        **common,
    )


def _decode_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[Any, str]:
    if body is None:
        return None, ""
    if isinstance(body, Mapping):
        return body, ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        return None, text
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _oauth_message(payload: Any) -> str | None:
    if isinstance(payload, Mapping) and payload.get("error"):
        return str(payload.get("error_description") or payload["error"])
    return None


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text[:limit]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_id(value: str) -> str:
    # Ids are path segments: refuse anything that could change the path.
    if not value or not isinstance(value, str) or any(c in value for c in "/?#%,\\ \t\r\n"):
        raise ValueError(f"invalid Spark id: {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Token storage
# ---------------------------------------------------------------------------------------------


@runtime_checkable
class TokenStore(Protocol):
    """Where the OAuth tokens live, shared by every caller that should share one session.

    Contract (a Redis implementation must keep it):

    - ``get()`` returns the current :class:`TokenSet` or None; it must be cheap (called before
      every request) and must not take the lock.
    - ``set(tokens)`` replaces the tokens; it is only called while ``lock()`` is held.
    - ``lock()`` returns a context manager giving mutual exclusion among all callers of the
      store (threads, and processes for a cross-process store). It is held for one grant request
      at most (bounded by the client's timeouts), so a lease of ~2 x (connect + read timeout)
      is enough for a distributed lock.

    The client double-checks under the lock: a caller that waited re-reads the token and
    refreshes only if it still holds the stale one, so N concurrent 1020s cause one refresh.
    """

    def get(self) -> TokenSet | None: ...

    def set(self, tokens: TokenSet) -> None: ...

    def lock(self) -> contextlib.AbstractContextManager[Any]: ...


class InMemoryTokenStore:
    """The default store: one process, guarded by a ``threading.Lock``."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def get(self) -> TokenSet | None:
        return self._tokens

    def set(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        return self._lock


class CachedTokenStore:
    """A shared store (Redis) read at most every `ttl` seconds by this process.

    `get()` runs before every request; with a remote store that is one network round trip per
    call. A token replaced by another process is seen within `ttl`; before that, a request with
    the old token is refused (1020, not applied) and the client's refresh, which takes the lock,
    reads the store afresh (the lock drops the cached copy) and finds the new token instead of
    refreshing again. Expiry is still checked on every call on the cached `TokenSet`.
    """

    def __init__(self, store: TokenStore, *, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._tokens: TokenSet | None = None
        self._read_at: float | None = None
        self._guard = threading.Lock()

    def get(self) -> TokenSet | None:
        now = time.monotonic()
        with self._guard:
            if self._read_at is not None and now - self._read_at < self.ttl:
                return self._tokens
        tokens = self.store.get()
        with self._guard:
            # No token yet (none configured, or being stored): look again on the next call.
            self._tokens, self._read_at = tokens, (now if tokens is not None else None)
        return tokens

    def invalidate(self) -> None:
        with self._guard:
            self._read_at = None

    def set(self, tokens: TokenSet) -> None:
        self.store.set(tokens)
        with self._guard:
            self._tokens, self._read_at = tokens, time.monotonic()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self.store.lock():
            # Whoever holds the lock decides on a refresh: it must see the store as it is now.
            self.invalidate()
            yield


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRetryAdapter(HTTPAdapter):
    """Pooling without urllib3's own retries: a silent re-send of a POST could duplicate it."""

    def __init__(self, pool_maxsize: int) -> None:
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)


class SparkClient:
    """Typed access to the Spark endpoints our portal uses.

    ``base_url`` is the API root without ``/v1`` (``https://sparkapi.com``, or the sandbox's
    ``http://host/sandbox``). Authentication: a static ``access_token``; add ``client_id``,
    ``client_secret`` and ``refresh_token`` to refresh it through ``/v1/oauth2/grant`` (§2.2)
    when Spark answers 1020 or the announced expiry is near.

    ``before_request(method, route)`` is called before every HTTP request the client sends
    (including the grant and ticket uploads); it may block (a rate limiter) or raise to abort.
    ``after_request(exchange)`` is called after each one, answered or not (a call log).
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        user_agent: str = "ListingDraftsPortal/1.0",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float | None = None,
        token_store: TokenStore | None = None,
        before_request: BeforeRequestHook | None = None,
        after_request: AfterRequestHook | None = None,
        session: requests.Session | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        base = base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        self.base_url = base
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # The socket read timeout bounds each wait; this bounds a body trickled byte by byte.
        self.total_timeout = total_timeout if total_timeout is not None else connect_timeout + read_timeout
        self.before_request = before_request
        self.after_request = after_request
        self._client_id = client_id or None
        self._client_secret = client_secret or None
        self._redirect_uri = redirect_uri or None
        self._configured_refresh_token = refresh_token or None

        self.token_store: TokenStore = token_store or InMemoryTokenStore()
        if access_token or refresh_token:
            with self.token_store.lock():
                if self.token_store.get() is None:
                    self.token_store.set(TokenSet(access_token or None, refresh_token or None))

        self.session = session or requests.Session()
        adapter = _NoRetryAdapter(pool_maxsize)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "X-SparkApi-User-Agent": user_agent,
                "User-Agent": user_agent,
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                "Content-Type": "application/json",
            }
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SparkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SparkClient(base_url={self.base_url!r})"

    # -- authentication -----------------------------------------------------------------------

    @property
    def can_refresh(self) -> bool:
        tokens = self.token_store.get()
        refresh_token = (tokens.refresh_token if tokens else None) or self._configured_refresh_token
        return bool(self._client_id and self._client_secret and refresh_token)

    def exchange_code(self, code: str, redirect_uri: str | None = None) -> TokenSet:
        """Authorization-code grant (§2.2 step 2); stores and returns the new tokens."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self._redirect_uri,
        }
        with self.token_store.lock():
            tokens = self._grant(body, previous=None)
            self.token_store.set(tokens)
        return tokens

    def refresh_access_token(self, stale_access_token: str | None = None) -> TokenSet:
        """Refresh unless another caller already replaced ``stale_access_token``.

        Double-checked under the store's lock: whoever waited for the lock re-reads the token
        and returns the one the other caller obtained instead of refreshing again. With no
        ``stale_access_token`` it always refreshes.
        """
        with self.token_store.lock():
            current = self.token_store.get()
            if (
                stale_access_token is not None
                and current is not None
                and current.access_token
                and current.access_token != stale_access_token
                and not current.expires_soon()
            ):
                return current
            refresh_token = (current.refresh_token if current else None) or self._configured_refresh_token
            if not (self._client_id and self._client_secret and refresh_token):
                raise SparkTokenExpired(
                    "access token expired and no refresh credentials are configured",
                    code=_TOKEN_EXPIRED_CODE,
                    route="oauth.grant",
                )
            body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            if self._redirect_uri:
                body["redirect_uri"] = self._redirect_uri
            tokens = self._grant(body, previous=current)
            self.token_store.set(tokens)
            return tokens

    def _grant(self, body: dict[str, Any], previous: TokenSet | None) -> TokenSet:
        """POST /v1/oauth2/grant. The body is bare JSON, not wrapped in D (§2.2)."""
        if not (self._client_id and self._client_secret):
            raise SparkAuthError("OAuth client id/secret are not configured", route="oauth.grant")
        payload = {"client_id": self._client_id, "client_secret": self._client_secret, **body}
        payload = {k: v for k, v in payload.items() if v is not None}
        path = "/v1/oauth2/grant"
        raw = self._send(
            "POST",
            self.base_url + path,
            route="oauth.grant",
            log_path=path,
            data=json.dumps(payload).encode(),
            headers={"Authorization": None},
        )
        parsed, text = _decode_body(raw.body)
        common = {
            "status": raw.status,
            "method": "POST",
            "path": path,
            "route": "oauth.grant",
            "request_id": _header(raw.headers, "X-Request-Id"),
            "retry_after": parse_retry_after(_header(raw.headers, "Retry-After")),
        }
        if 200 <= raw.status < 300 and isinstance(parsed, Mapping) and parsed.get("access_token"):
            expires_in = _as_int(parsed.get("expires_in"))
            # Without rotation Spark may omit the refresh token: keep using the one we have.
            refresh_token = (
                parsed.get("refresh_token")
                or body.get("refresh_token")
                or (previous and previous.refresh_token)
            )
            return TokenSet(
                access_token=str(parsed["access_token"]),
                refresh_token=str(refresh_token) if refresh_token else None,
                expires_at=time.time() + expires_in if expires_in else None,
            )
        if isinstance(parsed, Mapping) and isinstance(parsed.get("D"), Mapping):
            # Spark-style failure (rate limit, 5xx...): classified like any other response.
            parse_response(raw.status, raw.headers, parsed, method="POST", path=path, route="oauth.grant")
        if raw.status >= 500 or raw.status == 429:
            error_class = classify_error(raw.status, None)
            raise error_class(_oauth_message(parsed) or _snippet(text) or "grant failed", **common)
        raise SparkOAuthError(
            _oauth_message(parsed) or "OAuth grant refused",
            error=parsed.get("error") if isinstance(parsed, Mapping) else None,
            **common,
        )

    def _access_token(self) -> str:
        tokens = self.token_store.get()
        if tokens is not None and tokens.access_token and not (tokens.expires_soon() and self.can_refresh):
            return tokens.access_token
        if self.can_refresh:
            stale = tokens.access_token if tokens else None
            try:
                refreshed = self.refresh_access_token(stale)
            except SparkError as error:
                # Refreshing ahead of expiry is a courtesy: while the old token is still valid, a
                # grant endpoint hiccup must not fail the call.
                still_valid = tokens is not None and tokens.access_token and not tokens.expires_soon(margin=0)
                if not (error.transient and still_valid):
                    raise
                return tokens.access_token  # type: ignore[union-attr,return-value]
            if refreshed.access_token:
                return refreshed.access_token
        if tokens is not None and tokens.access_token:
            return tokens.access_token
        raise SparkAuthError("no Spark access token is configured")

    # -- transport ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        route: str,
        log_path: str,
        params: Mapping[str, Any] | None = None,
        data: bytes | Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> _RawResponse:
        """One HTTP exchange. Maps transport failures to errors; never interprets the body."""
        if self.before_request is not None:
            self.before_request(method, route)
        started = time.monotonic()
        deadline = started + self.total_timeout
        is_write = method in _WRITE_METHODS
        status: int | None = None
        code: int | None = None
        request_id: str | None = None
        failure: str | None = None
        response: requests.Response | None = None
        try:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,  # type: ignore[arg-type]  # None values delete session headers
                    timeout=(self.connect_timeout, self.read_timeout),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout as exc:
                failure = "connect timeout"
                raise SparkTimeout(
                    f"connect timeout after {self.connect_timeout:g}s",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=False,
                ) from exc
            except requests.exceptions.ReadTimeout as exc:
                failure = "read timeout"
                raise SparkTimeout(
                    f"no response within {self.read_timeout:g}s",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=is_write,
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                sent = not _is_connect_failure(exc)
                failure = "connection dropped" if sent else "connection failed"
                raise SparkConnectionError(
                    f"{failure}: {type(_root_cause(exc)).__name__}",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=is_write and sent,
                ) from exc
            except requests.exceptions.RequestException as exc:
                failure = type(exc).__name__
                raise SparkConnectionError(
                    f"request failed: {type(exc).__name__}",
                    method=method,
                    path=log_path,
                    route=route,
                    ambiguous=False,
                ) from exc

            status = response.status_code
            request_id = response.headers.get("X-Request-Id")
            try:
                body = self._read_body(response, deadline)
            except _DeadlinePassed as exc:
                failure = "response deadline"
                raise SparkTimeout(
                    f"response not complete within {self.total_timeout:g}s",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            except urllib3.exceptions.ReadTimeoutError as exc:
                failure = "body read timeout"
                raise SparkTimeout(
                    f"response body stalled for {self.read_timeout:g}s",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                failure = "connection dropped mid-response"
                raise SparkConnectionError(
                    f"connection dropped mid-response: {type(exc).__name__}",
                    status=status,
                    method=method,
                    path=log_path,
                    route=route,
                    request_id=request_id,
                    ambiguous=is_write,
                ) from exc
            code = _peek_code(body, response.headers.get("Content-Type", ""))
            return _RawResponse(status=status, headers=response.headers, body=body)
        finally:
            if response is not None:
                response.close()
            self._log(method, log_path, route, status, code, started, request_id, failure)

    @staticmethod
    def _read_body(response: requests.Response, deadline: float) -> bytes:
        # read1 returns what has arrived, so a trickled body cannot outlive the deadline by
        # more than one socket read timeout.
        raw = response.raw
        chunks: list[bytes] = []
        while True:
            if time.monotonic() > deadline:
                raise _DeadlinePassed
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _log(
        self,
        method: str,
        path: str,
        route: str,
        status: int | None,
        code: int | None,
        started: float,
        request_id: str | None,
        failure: str | None,
    ) -> None:
        duration_ms = (time.monotonic() - started) * 1000
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "spark_code": code,
            "duration_ms": round(duration_ms, 1),
            "request_id": request_id,
            "failure": failure,
        }
        failed = failure is not None or status is None or status >= 400
        logger.log(
            logging.WARNING if failed else logging.INFO,
            "spark %s %s -> %s code=%s %.0fms request_id=%s%s",
            method,
            path,
            status if status is not None else "-",
            code if code is not None else "-",
            duration_ms,
            request_id or "-",
            f" failure={failure}" if failure else "",
            extra={"spark": fields},
        )
        if self.after_request is not None:
            self.after_request(
                Exchange(method, path, route, status, code, duration_ms, request_id, failure)
            )

    def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> SparkResult:
        """Any authenticated Spark call: ``body`` (if not None) is sent as ``{"D": body}``.

        ``path`` starts with ``/v1``; ``route`` names the call for ``before_request`` and the log.
        On code 1020 the token is refreshed once (when refresh credentials exist) and the request
        sent once more. The typed methods below all go through here.
        """
        method = method.upper()
        data = json.dumps({"D": body}).encode() if body is not None else None
        url = self.base_url + path
        for attempt in (1, 2):
            token = self._access_token()
            raw = self._send(
                method,
                url,
                route=route,
                log_path=path,
                params=params,
                data=data,
                headers={"Authorization": f"Bearer {token}"},
            )
            try:
                return parse_response(
                    raw.status, raw.headers, raw.body, method=method, path=path, route=route
                )
            except SparkTokenExpired:
                if attempt == 2 or not self.can_refresh:
                    raise
                self.refresh_access_token(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- query helpers ------------------------------------------------------------------------

    @staticmethod
    def build_query(
        *,
        filter: FilterArg = None,
        orderby: ListArg = None,
        select: ListArg = None,
        expand: ListArg = None,
        limit: int | None = None,
        page: int | None = None,
        pagination: bool | Literal["count"] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Query parameters for GET collections (§6)."""
        params: dict[str, str] = {}
        if filter is not None:
            text = str(filter)
            if text:
                params["_filter"] = text
        for name, value in (("_orderby", orderby), ("_select", select), ("_expand", expand)):
            joined = _join(value)
            if joined:
                params[name] = joined
        if limit is not None:
            if not 1 <= limit <= MAX_PAGE_SIZE:
                raise ValueError(f"_limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
            params["_limit"] = str(limit)
        if page is not None:
            if page < 1:
                raise ValueError(f"_page is 1-based, got {page}")
            params["_page"] = str(page)
        if pagination is not None:
            params["_pagination"] = "count" if pagination == "count" else ("1" if pagination else "0")
        for key, value in (extra or {}).items():
            if value is not None:
                params[key] = _query_value(value)
        return params

    def _list(self, path: str, route: str, **query: Any) -> SparkResult:
        return self.request("GET", path, route=route, params=self.build_query(**query))

    def iter_pages(
        self,
        path: str,
        *,
        route: str,
        page_size: int = MAX_PAGE_SIZE,
        start_page: int = 1,
        max_pages: int | None = None,
        **query: Any,
    ) -> Iterator[SparkResult]:
        """Yield each page of a collection (``_pagination=1``, ``_page``, ``_limit``).

        Pages are fetched lazily; a record created or deleted meanwhile can shift the pages.
        """
        page = start_page
        fetched = 0
        while True:
            result = self.request(
                "GET",
                path,
                route=route,
                params=self.build_query(limit=page_size, page=page, pagination=True, **query),
            )
            yield result
            fetched += 1
            if not result.results or result.pagination is None or result.pagination.is_last_page:
                return
            if max_pages is not None and fetched >= max_pages:
                return
            page += 1

    def iter_records(self, path: str, *, route: str, **kwargs: Any) -> Iterator[Any]:
        """Yield every record of every page (see :meth:`iter_pages`)."""
        for result in self.iter_pages(path, route=route, **kwargs):
            yield from result.results

    # -- incomplete listings (§7.1) -----------------------------------------------------------

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
        """GET /v1/listings/incomplete/nearby?_lat=&_lon= (nearest first, §6.4)."""
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

    # -- listings (§7.2, §7.9) ----------------------------------------------------------------

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

    # -- photos (§7.4) ------------------------------------------------------------------------

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
                "the picture is empty", field_errors=[_local_error("Picture", "empty")]
            )
        if not file_name:
            raise SparkValidationError(
                "FileName is required", field_errors=[_local_error("FileName", "required")]
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
        """Replace the image of a photo; Spark gives it a new ResourceUri (§7.4)."""
        _check_photo_text(name=name, caption=caption, name_required=False)
        if not picture or not file_name:
            raise SparkValidationError(
                "Picture and FileName are required together",
                field_errors=[_local_error("Picture", "required with FileName")],
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
        """PUT .../photos with every photo Id in the wanted order (newer docs; §7.4 [UNCONFIRMED])."""
        return self.request(
            "PUT",
            f"{listing.path}/photos",
            route="photos.reorder",
            body={"Photos": [{"Id": _check_id(pid)} for pid in photo_ids]},
        )

    def delete_photo(self, listing: ListingRef, photo_id: str) -> SparkResult:
        return self.request("DELETE", f"{listing.path}/photos/{_check_id(photo_id)}", route="photos.delete")

    def delete_photos(self, listing: ListingRef, photo_ids: Sequence[str]) -> SparkResult:
        """Batch delete: DELETE .../photos/{Id1},{Id2} (§7.4)."""
        ids = [_check_id(pid) for pid in photo_ids]
        if not ids:
            raise ValueError("no photo ids given")
        return self.request("DELETE", f"{listing.path}/photos/{','.join(ids)}", route="photos.batch_delete")

    # -- documents (§7.7) ---------------------------------------------------------------------

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
            raise SparkValidationError("Name is required", field_errors=[_local_error("Name", "required")])
        return self._put_document(listing, document_id, {"Name": name})

    def set_document_privacy(self, listing: ListingRef, document_id: str, privacy: Privacy) -> SparkResult:
        if privacy not in ("Public", "DataShare", "Private", "HasEdit"):
            raise ValueError(f"invalid privacy: {privacy!r}")
        return self._put_document(listing, document_id, {"Privacy": privacy})

    def _put_document(self, listing: ListingRef, document_id: str, body: dict[str, Any]) -> SparkResult:
        # Spark takes one operation per request (§7.7), hence one method per operation.
        return self.request(
            "PUT", f"{listing.path}/documents/{_check_id(document_id)}", route="documents.update", body=body
        )

    def delete_document(self, listing: ListingRef, document_id: str) -> SparkResult:
        return self.request(
            "DELETE", f"{listing.path}/documents/{_check_id(document_id)}", route="documents.delete"
        )

    def required_documents(self, listing: ListingRef) -> SparkResult:
        """GET .../documents/required (alpha service, §7.7)."""
        return self.request("GET", f"{listing.path}/documents/required", route="documents.required")

    # -- tickets and uploads (§7.5, §7.6, §7.8) -----------------------------------------------

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
            expires_in=_as_int(item.get("ExpiresIn")) or 0,
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
        """Multipart POST to ``ticket.uri`` without Authorization (§7.6). ``resource_id`` of the
        result is the new photo Id."""
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
        """Multipart POST to ``ticket.uri`` without Authorization (§7.8); ``privacy`` is sent as
        the lower-case ``confidentiality`` field the upload service expects."""
        if not name:
            raise SparkValidationError("Name is required", field_errors=[_local_error("Name", "required")])
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
            raise SparkValidationError("the file is empty", field_errors=[_local_error("File", "empty")])
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

    # -- metadata (§7.4, §7.7, §7.11, §7.12) --------------------------------------------------

    def photos_meta(self, *, incomplete: bool = True) -> SparkResult:
        path = "/v1/listings/incomplete/photos/meta" if incomplete else "/v1/listings/photos/meta"
        return self.request("GET", path, route="photos.meta")

    def documents_meta(self, *, incomplete: bool = True, property_type: str | None = None) -> SparkResult:
        base = "/v1/listings/incomplete/documents" if incomplete else "/v1/listings/documents"
        path = f"{base}/propertytypes/{_check_id(property_type)}/meta" if property_type else f"{base}/meta"
        return self.request("GET", path, route="documents.meta")

    def standard_fields(self, *, mls: ListArg = None) -> SparkResult:
        """GET /v1/standardfields: one result keyed by field name."""
        return self._list("/v1/standardfields", "standardfields.list", extra={"_mls": _join(mls)})

    def standard_field(self, field_name: str) -> SparkResult:
        """GET /v1/standardfields/{Field}, with its ``FieldList`` of allowed values."""
        return self.request("GET", f"/v1/standardfields/{_check_id(field_name)}", route="standardfields.get")

    def property_types(self, *, include_inactive: bool = False, mls: ListArg = None) -> SparkResult:
        if include_inactive:
            return self._list("/v1/propertytypes/all", "propertytypes.all", extra={"_mls": _join(mls)})
        return self._list("/v1/propertytypes", "propertytypes.list", extra={"_mls": _join(mls)})


class _DeadlinePassed(Exception):
    pass


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            args = getattr(current, "args", ())
            nxt = next((a for a in args if isinstance(a, BaseException)), None)
        if nxt is None:
            nxt = current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return current


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (refused, DNS, TLS handshake)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(
            current,
            urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.NameResolutionError
            | urllib3.exceptions.ConnectTimeoutError
            | ConnectionRefusedError,
        ):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
    return False


def _peek_code(body: bytes, content_type: str) -> int | None:
    """The Spark Code of a response, for the log line only."""
    if not body or len(body) > 1_000_000 or "json" not in content_type.lower():
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    envelope = payload.get("D") if isinstance(payload, dict) else None
    return _as_int(envelope.get("Code")) if isinstance(envelope, dict) else None


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


def _local_error(field_name: str, message: str) -> FieldError:
    return FieldError(type="InvalidAttribute", field=field_name, message=message)


def _check_photo_text(*, name: str | None, caption: str | None, name_required: bool) -> None:
    """Spark's limits (§7.4), checked before any call so a doomed request is never sent."""
    errors: list[FieldError] = []
    if name_required and not name:
        errors.append(_local_error("Name", "required"))
    if name is not None and len(name) > PHOTO_NAME_MAX:
        errors.append(_local_error("Name", f"at most {PHOTO_NAME_MAX} characters"))
    if caption is not None and len(caption) > PHOTO_CAPTION_MAX:
        errors.append(_local_error("Caption", f"at most {PHOTO_CAPTION_MAX} characters"))
    if errors:
        raise SparkValidationError("; ".join(f"{e.field}: {e.message}" for e in errors), field_errors=errors)


def _join(value: ListArg) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    joined = ",".join(str(v) for v in value if v)
    return joined or None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _latlon(lat: float, lon: float) -> dict[str, str]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"invalid coordinates: {lat}, {lon}")
    return {"_lat": repr(float(lat)), "_lon": repr(float(lon))}
