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

from spark.client import ListingRef, SparkClient
from spark.errors import SparkError
from tests.sandbox_support import SANDBOX_CONTROL_TOKEN, SANDBOX_TOKEN, SandboxControl


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_only: needs the sandbox's control endpoints; skipped against the real API"
    )


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
    live_server = request.getfixturevalue("sandbox_live_server")
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
