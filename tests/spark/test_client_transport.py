"""Transport details the sandbox does not exercise: gzip and chunked bodies, connection reuse and
the response's request id. The double is a plain HTTP server at the network edge (127.0.0.1)."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spark.client import SparkClient
from spark.errors import SparkNotFound
from spark.responses import Validators

OK = json.dumps({"D": {"Success": True, "Results": [{"Id": "1"}]}}).encode()
MISSING = json.dumps({"D": {"Success": False, "Code": 404, "Message": "Not found"}}).encode()


class EdgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[int, dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        EdgeHandler.seen.append((self.client_address[1], dict(self.headers)))
        kind = self.path.split("?")[0].rsplit("/", 1)[-1]
        if kind == "gzip":
            body = gzip.compress(OK)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "notmodified":
            # As in the conditional-requests page's example: a 304 repeating the ETag alone.
            self.send_response(304)
            self.send_header("ETag", '"abc"')
            self.end_headers()
        elif kind == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(OK), 7):
                piece = OK[start : start + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = MISSING if kind == "missing" else OK
            self.send_response(404 if kind == "missing" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Request-Id", f"req-{kind}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def edge() -> Iterator[str]:
    EdgeHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), EdgeHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_gzip_and_chunked_bodies_are_decoded(edge):
    client = SparkClient(edge, access_token="t")
    assert client.request("GET", "/v1/gzip", route="edge.gzip").results == [{"Id": "1"}]
    assert client.request("GET", "/v1/chunked", route="edge.chunked").results == [{"Id": "1"}]
    assert "gzip" in EdgeHandler.seen[0][1]["Accept-Encoding"]


def test_connections_are_pooled_and_headers_sent(edge):
    client = SparkClient(edge, access_token="tok", user_agent="Portal/2")
    for _ in range(3):
        client.request("GET", "/v1/plain", route="edge.plain")
    ports = {port for port, _headers in EdgeHandler.seen}
    assert len(ports) == 1  # one kept-alive connection
    headers = EdgeHandler.seen[0][1]
    assert headers["Authorization"] == "Bearer tok"
    assert headers["X-SparkApi-User-Agent"] == "Portal/2"
    assert headers["Accept"] == "application/json"


def test_request_id_reaches_results_errors_and_logs(edge, caplog):
    caplog.set_level(logging.INFO, logger="spark.client")
    client = SparkClient(edge, access_token="t")
    assert client.request("GET", "/v1/plain", route="edge.plain").request_id == "req-plain"
    with pytest.raises(SparkNotFound) as caught:
        client.request("GET", "/v1/missing", route="edge.missing")
    assert caught.value.request_id == "req-missing"
    records = [r for r in caplog.records if r.name == "spark.client"]
    assert [r.spark["request_id"] for r in records] == ["req-plain", "req-missing"]
    assert records[1].spark["spark_code"] == 404
    assert "request_id=req-missing" in records[1].getMessage()


def test_a_304_keeps_the_validator_it_does_not_repeat(edge):
    client = SparkClient(edge, access_token="t")
    held = Validators('"abc"', "Tue, 12 Aug 2014 15:42:08 GMT")
    result = client.request("GET", "/v1/notmodified", route="edge.notmodified", if_changed=held)
    assert result.not_modified and result.results == []
    assert result.validators == held
    headers = EdgeHandler.seen[0][1]
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Tue, 12 Aug 2014 15:42:08 GMT"
    plain = client.request("GET", "/v1/plain", route="edge.plain")
    assert not plain.not_modified and "If-None-Match" not in EdgeHandler.seen[1][1]


def test_the_environments_proxies_are_read_once_per_host_as_requests_reads_them(monkeypatch):
    """requests reads the proxy variables on every request; the transport's session keeps what
    it found per scheme and host, the same answer as a plain session's."""
    from requests import Session

    from spark.transport import SparkTransport

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "sandbox.example")
    session = SparkTransport("https://api.example", access_token="t").session
    plain = Session()
    for url in (
        "https://api.example/v1/listings",
        "https://sandbox.example/v1/x",
        "https://api.example/v1/y",
    ):
        assert session.merge_environment_settings(url, {}, True, None, None) == (
            plain.merge_environment_settings(url, {}, True, None, None)
        )
    found = session.merge_environment_settings("https://api.example/v1/z", {}, True, None, None)
    assert found["proxies"]["https"] == "http://proxy.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")
    # Kept: the environment is read once (a process's environment does not change while it runs)...
    kept = session.merge_environment_settings("https://api.example/v1/z", {}, True, None, None)
    assert kept["proxies"]["https"] == "http://proxy.example:3128"
    # ...but a setting of the session's own, or of the request, is honoured at once.
    session.trust_env = False
    assert (
        session.merge_environment_settings("https://api.example/v1/z", {}, True, None, None)["proxies"] == {}
    )
    session.trust_env = True
    asked = session.merge_environment_settings(
        "https://api.example/v1/z", {"https": "http://p:1"}, True, None, None
    )
    assert asked["proxies"]["https"] == "http://p:1"
