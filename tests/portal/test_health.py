"""GET /health/: liveness for anyone; the report for staff or HEALTH_TOKEN; the remote asked rarely."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from tests.factories import AgentFactory, UserFactory

TOKEN = "a-health-token-for-tests"


class CountingRemote(ThreadingHTTPServer):
    """A stand-in MLS at the network edge that counts the requests it answers."""

    requests_seen = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requests_seen += 1
        body = json.dumps({"D": {"Success": False, "Code": 1000, "Message": "token"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def remote(settings, db) -> Iterator[CountingRemote]:
    server = CountingRemote(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SPARK_API_URL = server.url
    settings.HEALTH_TOKEN = TOKEN
    settings.HEALTH_REMOTE_CACHE_SECONDS = 10.0
    cache.clear()
    yield server
    server.shutdown()
    server.server_close()


def test_anonymous_callers_get_liveness_only_and_the_remote_is_not_asked(client, remote):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"healthy": True}
    assert remote.requests_seen == 0


def test_signed_in_agents_who_are_not_staff_get_liveness_only(client, remote):
    client.force_login(AgentFactory())
    assert client.get("/health/").json() == {"healthy": True}


def test_a_wrong_or_empty_health_token_gets_liveness_only(client, remote, settings):
    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer not-the-token").json() == {"healthy": True}
    settings.HEALTH_TOKEN = ""
    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer ").json() == {"healthy": True}


def test_the_health_token_gets_the_report(client, remote):
    response = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    data = response.json()
    assert data["healthy"] is True
    assert data["checks"]["database"]["ok"] and data["checks"]["broker"]["ok"]
    assert data["checks"]["remote"]["ok"] and data["checks"]["remote"]["detail"] == "HTTP 401"
    assert remote.requests_seen == 1


def test_staff_get_the_report_without_the_remote_when_asked(client, remote):
    client.force_login(UserFactory(is_staff=True))
    data = client.get("/health/?remote=0").json()
    assert set(data["checks"]) == {"database", "broker"}
    assert remote.requests_seen == 0


def test_rapid_detailed_calls_ask_the_remote_once(client, remote):
    for _ in range(10):
        response = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.json()["checks"]["remote"]["ok"]
    assert remote.requests_seen == 1


def test_without_the_cache_every_detailed_call_asks_the_remote(client, remote, settings):
    settings.HEALTH_REMOTE_CACHE_SECONDS = 0
    for _ in range(3):
        client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert remote.requests_seen == 3
