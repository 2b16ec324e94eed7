"""One request rate toward the MLS, shared by every worker process.

`RedisTokenBucket` keeps the bucket in Redis (one Lua script, Redis's own clock, so workers
on several machines agree); `FileTokenBucket` does the same across the processes of one
machine through a locked file, for the embedded setup that has no Redis. Both also hold a
shared pause: when the remote says "slow down" (1550 with a wait), every worker waits.

At a high rate a process takes a few tokens per trip to the shared bucket (a hundredth of a
second's worth, at most 8) and spends them within a second, so the bucket is asked once per
few requests rather than before each; at the MLS's usual few requests per second it takes one.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import redis

_TAKE = """
local key = KEYS[1]
local pause_key = KEYS[2]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3]) or 1
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused_until = tonumber(redis.call('GET', pause_key) or '0')
if paused_until > now then
  return 'p' .. tostring(paused_until - now)
end
local data = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(data[1]) or burst
local ts = tonumber(data[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
-- Take the token now, even into debt: the caller pays the debt by waiting, and the
-- next caller queues behind it instead of racing for the same refill. Several only when
-- the bucket holds them all.
local granted = 1
if want > 1 and tokens >= want then
  granted = want
end
tokens = tokens - granted
local wait = 0
if tokens < 0 then
  wait = -tokens / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', key, 3600)
return tostring(wait) .. ' ' .. tostring(granted)
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'EX', math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""


class RateLimiter(Protocol):
    def acquire(self, timeout: float = 60.0) -> float:
        """Block until one request may be sent; return the seconds waited."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the remote asked us to back off)."""
        ...


class RateLimitTimeout(Exception):
    """No request slot within the caller's timeout."""


# Tokens a process may take per trip to the bucket: this many seconds' worth of the rate...
BATCH_SECONDS = 0.01
# ...and at most this many, spent within HOLD_SECONDS or dropped (they were counted as used).
BATCH_MAX = 8
HOLD_SECONDS = 1.0


class _SharedBucket:
    """What both buckets share: `rate` requests per second, bursts of `burst` (a second's worth
    by default), waiting for a token, and the few tokens held by this process."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.batch = max(1, min(BATCH_MAX, int(self.rate * BATCH_SECONDS)))
        self._held = 0
        self._held_until = 0.0
        self._lock = threading.Lock()

    def _take(self, want: int) -> tuple[float, int]:
        """Take up to `want` tokens from the shared bucket: (seconds to wait, tokens taken;
        0 while paused)."""
        raise NotImplementedError

    def try_take(self) -> tuple[float, bool]:
        """One token from the shared bucket itself: (seconds to wait, whether it was taken)."""
        wait, granted = self._take(1)
        return wait, granted > 0

    def acquire(self, timeout: float = 60.0) -> float:
        """Wait for a token. A token taken with a wait is already ours: the debt is paid by
        sleeping, not by asking again. A pause takes no token, so ask again after it."""
        with self._lock:
            if self._held and time.monotonic() < self._held_until:
                self._held -= 1
                return 0.0
        started = time.monotonic()
        while True:
            wait, granted = self._take(self.batch)
            if time.monotonic() - started + wait > timeout:
                raise RateLimitTimeout(f"no request slot toward the MLS within {timeout:.0f} s")
            if wait > 0:
                time.sleep(wait)
            if granted:
                if granted > 1:
                    with self._lock:
                        self._held = granted - 1
                        self._held_until = time.monotonic() + HOLD_SECONDS
                return time.monotonic() - started

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the remote asked us to back off). This process
        drops the tokens it holds; another spends at most `batch - 1` before it sees the pause."""
        with self._lock:
            self._held = 0
        self._pause(max(0.0, float(seconds)))

    def _pause(self, seconds: float) -> None:
        raise NotImplementedError


class RedisTokenBucket(_SharedBucket):
    """The bucket in Redis: one Lua script per trip, on Redis's clock."""

    def __init__(
        self, client: redis.Redis, *, rate: float, burst: float | None = None, key: str = "spark:ratelimit"
    ) -> None:
        super().__init__(rate, burst)
        self.client = client
        self.key = key
        self.pause_key = key + ":pause"
        self._take_script = client.register_script(_TAKE)
        self._pause_script = client.register_script(_PAUSE)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisTokenBucket:
        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), **options)

    def _take(self, want: int) -> tuple[float, int]:
        answer = self._take_script(
            keys=[self.key, self.pause_key], args=[self.rate, self.burst, want]
        ).decode()
        if answer.startswith("p"):
            return float(answer[1:]), 0
        wait, granted = answer.split()
        return float(wait), int(granted)

    def _pause(self, seconds: float) -> None:
        self._pause_script(keys=[self.pause_key], args=[seconds])


class FileTokenBucket(_SharedBucket):
    """The same bucket in a small JSON file guarded by `flock`: one machine, many processes."""

    def __init__(self, path: Path | str, *, rate: float, burst: float | None = None) -> None:
        super().__init__(rate, burst)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _update[T](self, change: Callable[[dict[str, Any], float], T]) -> T:
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                raw = handle.read()
                state = json.loads(raw) if raw.strip() else {}
                result = change(state, time.time())
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return result

    def _take(self, want: int) -> tuple[float, int]:
        def take(state: dict[str, Any], now: float) -> tuple[float, int]:
            if state.get("paused_until", 0) > now:
                return state["paused_until"] - now, 0
            tokens = min(
                self.burst, state.get("tokens", self.burst) + max(0.0, now - state.get("ts", now)) * self.rate
            )
            granted = want if want > 1 and tokens >= want else 1
            tokens -= granted
            state.update(tokens=tokens, ts=now)
            return (-tokens / self.rate if tokens < 0 else 0.0), granted

        return self._update(take)

    def _pause(self, seconds: float) -> None:
        def extend(state: dict[str, Any], now: float) -> None:
            state["paused_until"] = max(state.get("paused_until", 0), now + seconds)

        self._update(extend)
