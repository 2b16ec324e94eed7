"""The errors a Spark call raises, and how a Spark answer is classified into them.

Each error says what the caller may do next: ``transient`` (the same request may succeed later),
``retry_after`` (how long Spark asked us to wait) and ``ambiguous`` (a write may have been applied
although it failed: reconcile before re-sending).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TOKEN_EXPIRED_CODE",
    "FieldError",
    "SparkAuthError",
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
    "SparkServerError",
    "SparkTicketError",
    "SparkTimeout",
    "SparkTokenExpired",
    "SparkUnavailable",
    "SparkValidationError",
    "classify_error",
    "flatten_details",
    "flatten_errors",
    "local_error",
]


@dataclass(frozen=True)
class FieldError:
    """One entry of a Spark ``Errors``/``Details`` list, flattened
    (docs/spark-protocol.md#the-errors-list).

    ``type`` is ``InvalidAttribute``, ``RuleViolation``, ``Constraint`` (from the deprecated
    ``Details``) or whatever Spark sent; ``field`` is the attribute or the rule's field;
    ``status`` is the rule status (``Fatal``, ``Warn``...) when there is one.
    """

    type: str | None
    field: str | None
    message: str | None
    status: str | None = None
    rule: Mapping[str, Any] | None = None
    # `dataclasses.field` in full: the `field` attribute above shadows the bare name.
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


def local_error(field_name: str, message: str) -> FieldError:
    """A field error found by the client itself, before any request."""
    return FieldError(type="InvalidAttribute", field=field_name, message=message)


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


RATE_LIMIT_CODE = 1550
TOKEN_EXPIRED_CODE = 1020
_UNAVAILABLE_CODES = frozenset({1510, 1515, 1516, 1023, 1024, 2005})
_AUTH_CODES = frozenset({1000, 1005, 1010, 1013, 1015, 1019, 1021, 1030, 1100, 1500, 1505})
_NOT_ALLOWED_CODES = frozenset({405, 1017, 1018})
_CONFLICT_CODES = frozenset({1055, 1110, 2505})
_VALIDATION_CODES = frozenset({1016, 1022, 1035, 1050, 1053, 1060, 1061, 3000})


def _is_filter_code(code: int | None) -> bool:
    if code is None:
        return False
    return code in (1040, 1041) or (2000 <= code <= 2999 and code not in (2005, 2505))


def classify_error(status: int | None, code: int | None) -> type[SparkError]:
    """The error class for an HTTP status and Spark code (docs/spark-protocol.md#error-codes,
    docs/spark-protocol.md#rate-limits). Codes win over statuses."""
    if code == RATE_LIMIT_CODE or status == 429:
        return SparkRateLimited
    if code == TOKEN_EXPIRED_CODE:
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


def flatten_details(details: Any) -> list[FieldError]:
    """The deprecated ``Details: [{"<Field>": [{RuleName, RuleValue, ...}]}]`` (code 1053,
    docs/spark-protocol.md#the-errors-list)."""
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
