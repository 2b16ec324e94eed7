"""Fixtures for the Spark client tests.

``spark_target`` is parametrised: ``sandbox`` (our emulator in the live server) always, and
``real`` (the real Spark API) when SPARK_CONTRACT_API_URL and SPARK_CONTRACT_ACCESS_TOKEN are
set; otherwise the ``real`` variant is skipped with that reason. Tests that drive the sandbox's
control endpoints (faults, token expiry, journal) are marked ``sandbox_only``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from spark.client import ListingRef, SparkClient
from spark.errors import SparkError

SANDBOX_TOKEN = "sandbox-access-token"
# The tests' way into the sandbox's _control/ (SPARK_SANDBOX_CONTROL_TOKEN; no session, no CSRF).
SANDBOX_CONTROL_TOKEN = "sandbox-control-token-for-tests"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_only: needs the sandbox's control endpoints; skipped against the real API"
    )


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


@dataclass
class Target:
    name: str
    base_url: str
    access_token: str
    control: SandboxControl | None
    clients: list[SparkClient] = field(default_factory=list)

    @property
    def is_sandbox(self) -> bool:
        return self.control is not None

    def client(self, **overrides: Any) -> SparkClient:
        options: dict[str, Any] = {
            "access_token": self.access_token,
            "user_agent": "ListingDraftsPortal-tests/1.0",
            "connect_timeout": 5.0,
            "read_timeout": 10.0,
        }
        options.update(overrides)
        client = SparkClient(self.base_url, **options)
        self.clients.append(client)
        return client

    def close(self) -> None:
        # Closing the kept-alive connections lets the live server's threads end during the test
        # session rather than after the server (and its shared database connection) is gone.
        for client in self.clients:
            client.close()
        if self.control is not None:
            self.control.http.close()


@pytest.fixture(scope="session")
def spark_live_server(request: pytest.FixtureRequest) -> Any:
    """pytest-django's live server, started while MEDIA_URL is a string.

    settings.MEDIA_URL is None (media is only served through access-checked views), and the live
    server thread's media handler parses MEDIA_URL once at start-up: None breaks every request. The
    handler keeps the parsed value, so the setting is restored at once.
    """
    from django.conf import settings as django_settings

    original = django_settings.MEDIA_URL
    if original is None:
        django_settings.MEDIA_URL = "/__live-server-media__/"
    try:
        return request.getfixturevalue("live_server")
    finally:
        django_settings.MEDIA_URL = original


@pytest.fixture(params=["sandbox", "real"])
def spark_target(request: pytest.FixtureRequest, settings) -> Iterator[Target]:
    if request.param == "real":
        url = os.environ.get("SPARK_CONTRACT_API_URL")
        token = os.environ.get("SPARK_CONTRACT_ACCESS_TOKEN")
        if not (url and token):
            pytest.skip("real Spark API: set SPARK_CONTRACT_API_URL and SPARK_CONTRACT_ACCESS_TOKEN")
        if request.node.get_closest_marker("sandbox_only"):
            pytest.skip("needs the sandbox's control endpoints")
        target = Target("real", url, token, None)
        yield target
        target.close()
        return
    settings.SPARK_SANDBOX_CONTROL_ENABLED = True
    settings.SPARK_SANDBOX_CONTROL_TOKEN = SANDBOX_CONTROL_TOKEN
    settings.SPARK_SANDBOX_FAULTS = ""  # start from no faults and default options, whatever the env says
    settings.SPARK_SANDBOX_OPTIONS = ""
    live_server = request.getfixturevalue("spark_live_server")
    base_url = f"{live_server.url}/sandbox"
    control = SandboxControl(base_url)
    control.reset()
    target = Target("sandbox", base_url, SANDBOX_TOKEN, control)
    yield target
    control.clear_faults()
    target.close()


@pytest.fixture
def sandbox(spark_target: Target) -> SandboxControl:
    """The control interface; only for tests marked ``sandbox_only``."""
    assert spark_target.control is not None, "mark the test sandbox_only"
    return spark_target.control


@pytest.fixture
def spark(spark_target: Target) -> SparkClient:
    return spark_target.client()


@pytest.fixture
def draft_ref(spark: SparkClient) -> Iterator[ListingRef]:
    """A fresh remote incomplete listing, deleted afterwards."""
    created = spark.create_incomplete_listing(MINIMAL_DRAFT)
    assert created.resource_id
    ref = ListingRef.for_incomplete(created.resource_id)
    yield ref
    # Already deleted by the test, or a fault rule still active: the sandbox is reset anyway.
    with contextlib.suppress(SparkError):
        spark.delete_incomplete_listing(ref.id)


MINIMAL_DRAFT: dict[str, Any] = {
    "PropertyType": "A",
    "PropertySubType": "SF",
    "ListPrice": 250000,
    "StreetNumber": "611",
    "StreetName": "8th",
    "StreetSuffix": "St",
    "StreetDirSuffix": "S",
    "City": "Fargo",
    "StateOrProvince": "ND",
    "PostalCode": "58103",
    "BedsTotal": 3,
    "BathsTotal": 2,
    "YearBuilt": 1984,
    "Latitude": 46.868464,
    "Longitude": -96.792246,
}


