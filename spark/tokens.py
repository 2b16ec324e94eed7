"""Where the OAuth tokens live: a :class:`TokenStore` shared by every caller that should share
one session, so a 1020 (expired token) makes one refresh, not one per caller.

`InMemoryTokenStore` serves one process; `RedisTokenStore` every worker (the tokens in one key,
the refresh guarded by a Redis lock whose lease outlives one grant request); `CachedTokenStore`
spares a round trip to the shared store before every request.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import redis
from redis.lock import Lock

__all__ = [
    "TOKEN_EXPIRY_MARGIN_SECONDS",
    "CachedTokenStore",
    "InMemoryTokenStore",
    "RedisTokenStore",
    "TokenSet",
    "TokenStore",
]

# Proactively refresh an OAuth token this long before its announced expiry.
TOKEN_EXPIRY_MARGIN_SECONDS = 60.0
# The Redis lock's lease: longer than one grant request (connect + read timeout) with margin.
REDIS_LOCK_SECONDS = 80.0
# How long `CachedTokenStore` trusts its copy of the shared tokens by default.
CACHE_SECONDS = 5.0


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


@runtime_checkable
class TokenStore(Protocol):
    """Where the OAuth tokens live, shared by every caller that should share one session.

    Contract (every implementation keeps it):

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


class RedisTokenStore:
    """The tokens every worker shares, in one Redis key."""

    def __init__(
        self, client: redis.Redis, *, key: str = "spark:oauth", lock_seconds: float = REDIS_LOCK_SECONDS
    ) -> None:
        self.client = client
        self.key = key
        self.lock_seconds = lock_seconds

    def get(self) -> TokenSet | None:
        raw = self.client.get(self.key)
        return TokenSet.from_dict(json.loads(raw)) if raw else None

    def set(self, tokens: TokenSet) -> None:
        self.client.set(self.key, json.dumps(tokens.to_dict()))

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        lock: Lock = self.client.lock(
            self.key + ":lock", timeout=self.lock_seconds, blocking_timeout=self.lock_seconds
        )
        return lock


class CachedTokenStore:
    """A shared store (Redis) read at most every `ttl` seconds by this process.

    A token replaced by another process is seen within `ttl`; before that, a request with the old
    token is refused (1020, not applied) and the refresh, which takes the lock and so reads the
    store afresh, finds the new token instead of refreshing again.
    """

    def __init__(self, store: TokenStore, *, ttl: float = CACHE_SECONDS) -> None:
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
