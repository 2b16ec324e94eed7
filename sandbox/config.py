"""Run-time configuration of the sandbox: options, the sandbox clock and Spark-style ids.

Options are layered: ``DEFAULTS`` below <- the ``SPARK_SANDBOX_OPTIONS`` setting (a dict, or JSON in the
environment) <- ``POST _control/options`` (stored in ``SandboxConfig``, wiped by ``_control/reset``), so a
test in another process can flip one without restarting the server.

Every behaviour the Spark pages leave open (docs/spark-protocol.md#open-questions) is an option here; the
comment on each links its entry. The defaults pick the variant that is hardest on a client. The metadata
services' assumptions are listed in sandbox/meta_catalog.py.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import json
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from .faults import install, settings_faults
from .models import FaultRule, SandboxConfig

DEFAULTS: dict[str, Any] = {
    # When on, POST {owner}/promote turns an incomplete listing into a listing (same Id, media kept) after
    # a fatal rule check; off, clients create the listing and re-attach media, as the pages imply
    # (docs/spark-protocol.md#open-promotion-call, docs/spark-protocol.md#no-promote-call).
    "promotion_endpoint": False,
    # Photo limits are unpublished (docs/spark-protocol.md#open-photo-limits).
    "photo_max_bytes": 25 * 1024 * 1024,
    "photo_formats": ["JPEG", "PNG", "GIF", "WEBP"],
    "photo_max_count": 100,
    "photo_min_long_edge": 0,
    # Document types and size are unpublished (docs/spark-protocol.md#open-document-limits).
    "document_max_bytes": 25 * 1024 * 1024,
    "document_types": ["application/pdf"],
    # Ticket paths for incomplete listings and spent-ticket answers are undocumented
    # (docs/spark-protocol.md#open-tickets-for-incomplete-listings).
    "incomplete_tickets": True,
    "ticket_ttl_seconds": 3600,
    "ticket_error_status": 401,
    "ticket_error_code": 1000,
    # Spellings of a true form boolean such as Primary
    # (docs/spark-protocol.md#open-tickets-for-incomplete-listings).
    "form_true_values": ["true", "1", "yes", "on"],
    # PUT on the photo collection: "reorder" (newer page) or "not_allowed" (older page answers 405);
    # docs/spark-protocol.md#open-reorder-and-privacy-bodies.
    "photo_collection_put": "reorder",
    # Whether a reorder body must list every item; false puts the listed ones first
    # (docs/spark-protocol.md#open-reorder-and-privacy-bodies).
    "reorder_requires_all": True,
    # The Rule.Status a *warning* carries on incomplete listings ("Fatal" or e.g. "Warn"); clients must
    # decide on D.Success, never on Status (docs/spark-protocol.md#open-warning-status).
    "warning_rule_status": "Fatal",
    # When on, _distance (+ _units mi|km) limits nearby results; radius() lengths are in ``distance_units``
    # (docs/spark-protocol.md#open-proximity-parameters).
    "nearby_distance_param": True,
    "distance_units": "mi",
    # HTTP status of code 1550 when a fault rule gives none (docs/spark-protocol.md#open-rate-limit-status).
    "rate_limit_status": 429,
    # Whether a refresh grant retires the refresh token it used (docs/spark-protocol.md#open-token-rotation).
    "rotate_refresh_tokens": True,
    # HTTP status of a successful creation, 200 or 201 (docs/spark-protocol.md#open-creation-status).
    "create_status": 201,
    # _limit above 25: "reject" (400/1053) or "clamp" (docs/spark-protocol.md#open-limit-above-maximum).
    "limit_over_max": "reject",
    # Whether a missing X-SparkApi-User-Agent is refused with 400/1016
    # (docs/spark-protocol.md#open-user-agent-enforced).
    "require_user_agent": True,
    # Whether a replaced photo's old Id still answers (docs/spark-protocol.md#open-replaced-photo-id).
    "photo_replace_keeps_old_id": False,
    # Bump to make the MLS change its metadata: a new ETag and a Last-Modified one day later per step
    # (docs/spark-protocol.md#conditional-requests).
    "metadata_revision": 0,
    # Branding.Enabled of the tour and video metadata: off, branded tours and videos are refused
    # (sandbox/api_parts.py).
    "branded_parts_enabled": True,
    # Our own guard on JSON bodies (base64 photos are large; Django's DATA_UPLOAD_MAX_MEMORY_SIZE is not
    # applied to API bodies).
    "max_body_bytes": 64 * 1024 * 1024,
}

_shared_connection_lock = threading.RLock()


def db_guard() -> contextlib.AbstractContextManager:
    """A process-wide lock while every thread shares one in-memory SQLite connection.

    That is the test live server's set-up (pytest-django hands its connection to the server threads);
    sqlite3 fails with "bad parameter or other API misuse" when two threads use it at once. File SQLite
    and PostgreSQL give each thread its own connection and need no lock.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return _shared_connection_lock
    return contextlib.nullcontext()


_request_config: contextvars.ContextVar[SandboxConfig | None] = contextvars.ContextVar(
    "sandbox_request_config", default=None
)


@functools.cache
def _config_sql() -> str:
    # Written out because every API request runs it: compiling the same ORM query each time cost more
    # than half a millisecond, the raw query about a fifth of that.
    quote = connection.ops.quote_name
    config, rules = SandboxConfig._meta.db_table, FaultRule._meta.db_table
    # Only quoted table names are formatted in; the id is a parameter.
    return f"SELECT *, EXISTS (SELECT 1 FROM {quote(rules)}) AS has_rules FROM {quote(config)} WHERE id = %s"  # noqa: S608


def load_config() -> SandboxConfig:
    """The config row; a fresh database starts with the faults of setting ``SPARK_SANDBOX_FAULTS``.

    It comes with ``has_rules`` (whether any fault rule exists), so that ``faults.decide`` needs no query
    of its own on the common path: one query per API request for both.
    """
    config = next(iter(SandboxConfig.objects.raw(_config_sql(), [1])), None)
    if config is not None:
        return config
    with transaction.atomic():
        config, created = SandboxConfig.objects.get_or_create(pk=1)
        if created and (spec := settings_faults()):
            install(spec)
            config.refresh_from_db()
    return config


def use_config(config: SandboxConfig | None) -> contextvars.Token:
    """Pin one config row for the rest of a request (one query, a consistent view)."""
    return _request_config.set(config)


def release_config(token: contextvars.Token) -> None:
    _request_config.reset(token)


def current_config() -> SandboxConfig:
    return _request_config.get() or load_config()


def settings_options() -> dict[str, Any]:
    raw = settings.SPARK_SANDBOX_OPTIONS or {}
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def options() -> dict[str, Any]:
    return {**DEFAULTS, **settings_options(), **(current_config().options or {})}


def option(name: str) -> Any:
    return options()[name]


def now() -> dt.datetime:
    """The sandbox clock: real time plus the offset set by ``_control/clock`` (ticket/token expiry)."""
    return timezone.now() + dt.timedelta(seconds=current_config().clock_offset_seconds)


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_id_lock = threading.Lock()
_last_id_micros = 0


def new_spark_id() -> str:
    """A 26-digit id like Spark's: YYYYMMDDhhmmss + 6 fractional digits + 000000.

    Strictly increasing within a process. Two processes would have to create something in the same
    microsecond to clash, and the unique constraints would then refuse the second (a 500, never a mix-up).
    """
    global _last_id_micros
    with _id_lock:
        micros = max(time.time_ns() // 1000, _last_id_micros + 1)
        _last_id_micros = micros
    moment = dt.datetime.fromtimestamp(micros / 1_000_000, tz=dt.UTC)
    return moment.strftime("%Y%m%d%H%M%S") + f"{micros % 1_000_000:06d}" + "000000"
