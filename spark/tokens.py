"""OAuth tokens shared by every worker, so a 1020 makes one refresh, not one per worker.

Implements `spark.client.TokenStore` on Redis: the tokens in one key, the refresh guarded
by a Redis lock whose lease outlives one grant request.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from .client import TokenSet


class RedisTokenStore:
    def __init__(self, client, *, key: str = "spark:oauth", lock_seconds: float = 80.0):
        self.client = client
        self.key = key
        self.lock_seconds = lock_seconds

    def get(self) -> TokenSet | None:
        raw = self.client.get(self.key)
        return TokenSet.from_dict(json.loads(raw)) if raw else None

    def set(self, tokens: TokenSet) -> None:
        self.client.set(self.key, json.dumps(tokens.to_dict()))

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        return self.client.lock(
            self.key + ":lock", timeout=self.lock_seconds, blocking_timeout=self.lock_seconds
        )
