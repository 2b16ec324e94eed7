"""How one Spark answer is read: the ``D`` envelope unpacked into a :class:`SparkResult`, or the
classified :class:`~spark.errors.SparkError` raised (docs/spark-protocol.md#response-envelope).

This is the only place responses are interpreted; the client and the tests both use it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spark.errors import (
    FieldError,
    SparkError,
    SparkInvalidResponse,
    classify_error,
    flatten_details,
    flatten_errors,
)

__all__ = [
    "AMBIGUOUS_STATUSES",
    "WRITE_METHODS",
    "Pagination",
    "SparkResult",
    "Validators",
    "as_int",
    "body_snippet",
    "decode_body",
    "header_value",
    "oauth_message",
    "parse_response",
    "parse_retry_after",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A gateway answered for Spark: a write behind it may have been applied.
AMBIGUOUS_STATUSES = frozenset({502, 504})
NOT_MODIFIED = 304
# Characters of a non-Spark body kept in an error message.
SNIPPET_LENGTH = 200


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
            total_rows=as_int(payload.get("TotalRows")),
            page_size=as_int(payload.get("PageSize")),
            total_pages=as_int(payload.get("TotalPages")),
            current_page=as_int(payload.get("CurrentPage")),
            current_offset=as_int(payload.get("CurrentOffset")),
        )

    @property
    def is_last_page(self) -> bool:
        if self.total_pages is None or self.current_page is None:
            return True
        return self.current_page >= self.total_pages


@dataclass(frozen=True)
class Validators:
    """The validators of a conditional GET (docs/spark-protocol.md#conditional-requests): what
    the server sent as ``ETag`` and ``Last-Modified``, sent back as ``If-None-Match`` and
    ``If-Modified-Since``. Kept as the server wrote them: they are compared, never parsed."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Validators:
        return cls(header_value(headers, "ETag") or None, header_value(headers, "Last-Modified") or None)

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)

    def request_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class SparkResult:
    """A successful response: ``D`` unpacked.

    ``warnings`` holds the ``Errors`` Spark may send with ``Success: true`` (incomplete listings
    treat most rule violations as warnings, docs/spark-protocol.md#incomplete-listings); they are
    not failures.
    """

    status: int
    results: list[Any]
    pagination: Pagination | None = None
    warnings: list[FieldError] = field(default_factory=list)
    request_id: str | None = None
    version: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Sent by services that answer conditional GETs; empty elsewhere.
    validators: Validators = field(default_factory=Validators)

    @property
    def not_modified(self) -> bool:
        """True for the answer to a conditional GET whose copy is still current (HTTP 304, no
        results): keep the copy you have."""
        return self.status == NOT_MODIFIED

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


def parse_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | Mapping[str, Any] | None,
    *,
    method: str = "GET",
    path: str = "",
    route: str | None = None,
) -> SparkResult:
    """Unpack one Spark response: a :class:`SparkResult`, or raise the classified error."""
    method = method.upper()
    request_id = header_value(headers, "X-Request-Id")
    retry_after = parse_retry_after(header_value(headers, "Retry-After"))
    is_write = method in WRITE_METHODS
    payload, text = decode_body(body)
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
        message = oauth_message(payload) or body_snippet(text) or f"HTTP {status} without a D envelope"
        raise error_class(
            message,
            ambiguous=is_write and (200 <= status < 300 or status in AMBIGUOUS_STATUSES),
            data=payload if isinstance(payload, Mapping) else None,
            **common,
        )

    code = as_int(envelope.get("Code"))
    success = envelope.get("Success")
    field_errors = flatten_errors(envelope.get("Errors")) + flatten_details(envelope.get("Details"))
    if 200 <= status < 300 and success is not False:
        pagination = envelope.get("Pagination")
        results = envelope.get("Results")
        return SparkResult(
            status=status,
            results=list(results) if isinstance(results, list) else ([] if results is None else [results]),
            pagination=Pagination.from_payload(pagination) if isinstance(pagination, Mapping) else None,
            warnings=field_errors,
            request_id=request_id,
            version=as_int(envelope.get("Version")),
            data=envelope,
            validators=Validators.from_headers(headers),
        )

    error_class = classify_error(status, code)
    reported = envelope.get("Message") or (field_errors[0].message if field_errors else None)
    raise error_class(
        str(reported or f"HTTP {status}"),
        code=code,
        field_errors=field_errors,
        sparkql_errors=envelope.get("SparkQLErrors") or [],
        ambiguous=is_write and status in AMBIGUOUS_STATUSES,
        data=envelope,
        **common,
    )


def decode_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[Any, str]:
    """The JSON payload of a body (None when it is not JSON) and its text."""
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


def oauth_message(payload: Any) -> str | None:
    """The message of an OAuth2 error body (``{"error", "error_description"}``), if it is one."""
    if isinstance(payload, Mapping) and payload.get("error"):
        return str(payload.get("error_description") or payload["error"])
    return None


def body_snippet(text: str, limit: int = SNIPPET_LENGTH) -> str:
    """The start of a body on one line, for an error message."""
    text = " ".join(text.split())
    return text[:limit]


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case of the mapping's keys."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def as_int(value: Any) -> int | None:
    """An integer from a JSON value, None when it is missing or not a number (booleans too)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
