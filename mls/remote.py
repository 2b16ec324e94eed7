"""The Spark client as the portal uses it, configured from settings.

`client()` is the process's shared client. Its two hooks show what every request to the MLS
does besides the HTTP exchange: before it, wait for a token of the rate limit all workers share
and renew the lease of the job it serves; after it, write it to that job's call log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from spark.client import ListingRef, SparkClient, Ticket
from spark.errors import SparkError, SparkMethodNotAllowed, SparkNotFound, SparkRateLimited
from spark.ratelimit import FileTokenBucket, RateLimiter, RedisTokenBucket
from spark.tokens import CachedTokenStore, InMemoryTokenStore, RedisTokenStore, TokenStore

from . import planner
from .failures import is_transient
from .leased import log_exchange, renew_current_lease

# Seconds the Redis token store waits on its socket.
TOKEN_STORE_SOCKET_TIMEOUT = 5
# One read that fails transiently is tried this many times at once before it counts as a failure.
READ_ATTEMPTS = 3
# A Retry-After longer than this (seconds) belongs to the back-off, not to a sleeping worker.
LONGEST_READ_RETRY_WAIT = 5
# Pages of one listing walk at most (25 listings a page).
MAX_PAGES = 4000

_lock = threading.Lock()
_client_cache: dict[tuple[Any, ...], SparkClient] = {}
_limiter_cache: dict[tuple[str, float, str], RateLimiter] = {}


def limiter() -> RateLimiter:
    """The deployment's shared rate limiter (Redis when configured, else a file bucket)."""
    key = (settings.SYNC_REDIS_URL, settings.SPARK_RATE_LIMIT_PER_SECOND, str(settings.VAR_DIR))
    with _lock:
        if key not in _limiter_cache:
            rate = settings.SPARK_RATE_LIMIT_PER_SECOND
            if settings.SYNC_REDIS_URL:
                _limiter_cache[key] = RedisTokenBucket.from_url(settings.SYNC_REDIS_URL, rate=rate)
            else:
                _limiter_cache[key] = FileTokenBucket(
                    Path(settings.VAR_DIR) / "spark-ratelimit.json", rate=rate
                )
        return _limiter_cache[key]


def hold_every_worker(error: SparkRateLimited, default: float) -> None:
    """The remote asked us to slow down: pause the shared bucket, so every worker waits its
    Retry-After (else `default` seconds). Best effort: the bucket's store may be down too."""
    with contextlib.suppress(Exception):
        limiter().pause(error.retry_after if error.retry_after is not None else default)


def token_store() -> TokenStore:
    """The OAuth tokens every worker shares (Redis), else this process's own."""
    if settings.SYNC_REDIS_URL:
        shared = RedisTokenStore(
            redis.Redis.from_url(settings.SYNC_REDIS_URL, socket_timeout=TOKEN_STORE_SOCKET_TIMEOUT)
        )
        # Read once every few seconds, not before every request.
        return CachedTokenStore(shared, ttl=float(settings.SYNC_TOKEN_CACHE_SECONDS))
    return InMemoryTokenStore()


def wait_for_rate_limit_and_renew_lease(method: str, route: str) -> None:
    """The client's `before_request`: every request of every worker takes a token from the
    shared bucket; then the lease is renewed, so a worker that waited long cannot send after
    losing the draft."""
    limiter().acquire(timeout=float(settings.SYNC_RATE_WAIT_SECONDS))
    renew_current_lease()


def client_from_settings(**overrides: Any) -> SparkClient:
    """A client configured from the SPARK_* settings; keyword arguments override."""
    options: dict[str, Any] = {
        "base_url": settings.SPARK_API_URL,
        "access_token": settings.SPARK_ACCESS_TOKEN or None,
        "refresh_token": settings.SPARK_REFRESH_TOKEN or None,
        "client_id": settings.SPARK_CLIENT_ID or None,
        "client_secret": settings.SPARK_CLIENT_SECRET or None,
        "user_agent": settings.SPARK_USER_AGENT,
        "connect_timeout": float(settings.SPARK_CONNECT_TIMEOUT),
        "read_timeout": float(settings.SPARK_READ_TIMEOUT),
    }
    options.update(overrides)
    return SparkClient(**options)


def client() -> SparkClient:
    """The process's client for the push and publishing (made again when the settings change)."""
    key = (
        settings.SPARK_API_URL,
        settings.SPARK_ACCESS_TOKEN,
        settings.SYNC_REDIS_URL,
        settings.SPARK_CONNECT_TIMEOUT,
        settings.SPARK_READ_TIMEOUT,
    )
    with _lock:
        found = _client_cache.get(key)
        if found is None:
            found = client_from_settings(
                token_store=token_store(),
                before_request=wait_for_rate_limit_and_renew_lease,
                after_request=log_exchange,
            )
            _client_cache.clear()
            _client_cache[key] = found
        return found


# --- Reading ---------------------------------------------------------------------------------


def read_with_retry[T](read: Callable[..., T], *args: Any, attempts: int = READ_ATTEMPTS, **kwargs: Any) -> T:
    """An idempotent read, tried again at once (short jittered pause) on a transient failure:
    a lookup of many reads must not cost a whole back-off attempt per fault."""
    for attempt in range(1, attempts + 1):
        try:
            return read(*args, **kwargs)
        except SparkError as error:
            if not is_transient(error) or attempt == attempts:
                raise
            wait = error.retry_after
            if isinstance(error, SparkRateLimited):
                hold_every_worker(error, 1.0)
            if wait is not None and wait > LONGEST_READ_RETRY_WAIT:
                raise
            time.sleep(wait if wait is not None else random.uniform(0, 0.5 * attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def all_incomplete_listings(filter: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of GET /v1/listings/incomplete, each page read with retries."""
    page = 1
    while True:
        result = read_with_retry(
            client().list_incomplete_listings, filter=filter, limit=25, page=page, pagination=True, **query
        )
        yield from (record for record in result.results if isinstance(record, dict))
        if (
            not result.results
            or result.pagination is None
            or result.pagination.is_last_page
            or page >= MAX_PAGES
        ):
            return
        page += 1


def list_items(kind: str, ref: ListingRef) -> list[dict[str, Any]]:
    """The photos or documents of listing `ref`, as the remote lists them."""
    api = client()
    result = read_with_retry(api.list_photos if kind == planner.PHOTO else api.list_documents, ref)
    return [record for record in result.results if isinstance(record, dict) and record.get("Id")]


def upload_ticket(kind: str, ref: ListingRef) -> Ticket | None:
    """A new single-use upload ticket for a photo or document of listing `ref`; None where the
    remote has no photo tickets (the photo then goes by base64 POST). Documents have no other
    way in (docs/spark-protocol.md), so that refusal is raised."""
    api = client()
    try:
        return api.create_photo_ticket(ref) if kind == planner.PHOTO else api.create_document_ticket(ref)
    except (SparkNotFound, SparkMethodNotAllowed):
        if kind == planner.DOCUMENT:
            raise
        return None


def parse_time(value: Any) -> dt.datetime | None:
    """A timestamp of the remote (aware; naive ones are UTC)."""
    if not isinstance(value, str):
        return None
    moment = parse_datetime(value)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment
