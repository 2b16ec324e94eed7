"""The sandbox as every test folder reaches it: its tokens, its control interface, and the live
server that serves it (one fixture for the client, sandbox, sync and browser tests)."""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings

SANDBOX_TOKEN = "sandbox-access-token"
# The tests' way into the sandbox's _control/ (SPARK_SANDBOX_CONTROL_TOKEN; no session, no CSRF).
SANDBOX_CONTROL_TOKEN = "sandbox-control-token-for-tests"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
CONTROL_HEADERS = {"X-Sandbox-Control-Token": SANDBOX_CONTROL_TOKEN}


class SandboxControl:
    """The sandbox's ``/_control`` interface (JSON; the control token in its header)."""

    def __init__(self, base_url: str, control_token: str = SANDBOX_CONTROL_TOKEN) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["X-Sandbox-Control-Token"] = control_token

    def _url(self, name: str) -> str:
        return f"{self.base_url}/_control/{name}"

    def _check(self, response: requests.Response) -> Any:
        assert response.status_code < 300, f"{response.request.method} {response.url}: {response.text[:500]}"
        return response.json() if response.content else None

    def reset(self) -> None:
        self._check(self.http.post(self._url("reset"), timeout=10))

    def faults(self, *rules: dict[str, Any], seed: int = 42, latency_ms: int = 0) -> None:
        body = {"seed": seed, "latency_ms": latency_ms, "rules": list(rules)}
        self._check(self.http.post(self._url("faults"), json=body, timeout=10))

    def clear_faults(self) -> None:
        self._check(self.http.delete(self._url("faults"), timeout=10))

    def calls(self) -> dict[str, Any]:
        return self._check(self.http.get(self._url("calls"), timeout=10))

    def count(self, route: str) -> int:
        return int(self.calls()["counts"].get(route, 0))

    def expire_tokens(self) -> None:
        self._check(self.http.post(self._url("expire_tokens"), timeout=10))

    def state(self) -> dict[str, Any]:
        return self._check(self.http.get(self._url("state"), timeout=10))

    def options(self, **values: Any) -> None:
        self._check(self.http.post(self._url("options"), json=values, timeout=10))

    def clock(self, offset_seconds: float) -> None:
        self._check(self.http.post(self._url("clock"), json={"offset_seconds": offset_seconds}, timeout=10))


def start_live_server(request: Any) -> Any:
    """pytest-django's live server, started while MEDIA_URL is a string.

    Ours is None (media only goes through access-checked views), and the live server thread's
    media handler parses MEDIA_URL once at start-up: None breaks every request. The handler keeps
    the parsed value, so the setting is restored at once.
    """
    original = settings.MEDIA_URL
    if original is None:
        settings.MEDIA_URL = "/__live-server-media__/"
    try:
        return request.getfixturevalue("live_server")
    finally:
        settings.MEDIA_URL = original
