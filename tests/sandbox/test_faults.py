"""Fault injection, the call journal and the control interface."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
import requests

from tests.sandbox.conftest import CONTROL_HEADERS, DRAFT, b64, envelope_error, jpeg, pdf

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = "/v1/propertytypes"


def statuses(sandbox, n: int, path: str = TYPES) -> list[int]:
    return [sandbox.get(path).status_code for _ in range(n)]


def wait_for_journal(sandbox, route: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = sandbox.control("GET", f"calls?route={route}")["journal"]
        if entries:
            return entries
        time.sleep(0.05)
    raise AssertionError(f"no journal entry for {route}")


@pytest.mark.parametrize(("status", "code"), [(500, 1026), (502, 1510), (503, 1510), (504, 1515)])
def test_server_error_answers_the_status_with_an_envelope(sandbox, status, code):
    sandbox.faults({"kind": "server_error", "status": status, "routes": ["propertytypes.list"], "times": 2})
    assert envelope_error(sandbox.get(TYPES)) == (status, code)
    assert envelope_error(sandbox.get(TYPES)) == (status, code)
    assert sandbox.get(TYPES).status_code == 200  # "times" used up
    rule = sandbox.control("GET", "faults")["rules"][0]
    assert (rule["matched"], rule["injected"]) == (2, 2)


def test_server_error_can_be_a_bare_proxy_page(sandbox):
    sandbox.faults({"kind": "server_error", "status": 502, "envelope": False})
    response = sandbox.get(TYPES)
    assert response.status_code == 502 and response.headers["Content-Type"].startswith("text/html")


def test_routes_and_methods_narrow_a_rule(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    sandbox.faults({"kind": "server_error", "status": 503, "routes": ["photos.create"], "methods": ["POST"]})
    assert sandbox.get(f"{owner}/photos").status_code == 200
    assert sandbox.get(TYPES).status_code == 200
    failed = sandbox.post(f"{owner}/photos", {"Photos": [{"Name": "x"}]})
    assert envelope_error(failed) == (503, 1510)
    assert sandbox.results(f"{owner}/photos") == []
    entry = sandbox.control("GET", "calls?route=photos.create")["journal"][0]
    assert entry["fault"] == "server_error" and entry["applied"] is False and entry["code"] == 1510


def test_same_seed_same_schedule(sandbox):
    rule = {"kind": "server_error", "status": 503, "probability": 0.5, "routes": ["propertytypes.list"]}
    sandbox.faults(rule, seed=7)
    first = statuses(sandbox, 24)
    sandbox.faults(rule, seed=7)
    assert statuses(sandbox, 24) == first
    assert 0 < first.count(503) < 24
    sandbox.faults(rule, seed=8)
    assert statuses(sandbox, 24) != first


def test_rate_limit_with_retry_after_seconds_date_or_none(sandbox):
    sandbox.faults({"kind": "rate_limit", "status": 429, "retry_after": "2", "times": 1})
    response = sandbox.get(TYPES)
    assert envelope_error(response) == (429, 1550) and response.headers["Retry-After"] == "2"
    sandbox.faults({"kind": "rate_limit", "status": 503, "retry_after_date_in": 3, "times": 1})
    response = sandbox.get(TYPES)
    assert envelope_error(response) == (503, 1550)
    moment = email.utils.parsedate_to_datetime(response.headers["Retry-After"])
    assert 2 <= moment.timestamp() - time.time() <= 4.1
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    sandbox.faults({"kind": "rate_limit", "retry_after": date, "times": 1})
    assert sandbox.get(TYPES).headers["Retry-After"] == date
    sandbox.faults({"kind": "rate_limit", "retry_after": None, "times": 1})
    response = sandbox.get(TYPES)
    assert envelope_error(response) == (429, 1550) and "Retry-After" not in response.headers
    sandbox.options(rate_limit_status=503)
    sandbox.faults({"kind": "rate_limit", "times": 1})
    assert envelope_error(sandbox.get(TYPES)) == (503, 1550)


def test_steady_rate_limiter(sandbox):
    sandbox.faults(
        {"kind": "rate_limit", "max_per_second": 5, "retry_after": "1", "routes": ["propertytypes.list"]}
    )
    answers = statuses(sandbox, 12)
    assert answers[:5] == [200] * 5
    assert 429 in answers[5:]


def test_token_expired_and_custom_errors(sandbox):
    sandbox.faults({"kind": "token_expired", "times": 1})
    assert envelope_error(sandbox.get(TYPES)) == (401, 1020)
    sandbox.faults({"kind": "error", "status": 409, "code": 1055, "message": "Conflict", "times": 1})
    assert envelope_error(sandbox.get(TYPES)) == (409, 1055)
    assert sandbox.get(TYPES).status_code == 200


def test_hang_then_answers_normally(sandbox):
    sandbox.faults({"kind": "hang", "hang_seconds": 1.0, "routes": ["incomplete.create"], "times": 1})
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        sandbox.post("/v1/listings/incomplete", DRAFT, timeout=0.3)
    assert time.monotonic() - started < 0.9
    (entry,) = wait_for_journal(sandbox, "incomplete.create")
    assert entry["fault"] == "hang" and entry["status"] == 201 and entry["applied"] is True
    assert entry["duration_ms"] >= 1000
    assert len(sandbox.results("/v1/listings/incomplete")) == 1  # applied late, after the client gave up


def test_drop_after_apply_really_drops_the_connection(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.faults({"kind": "drop_after_apply", "routes": ["photos.create", "incomplete.update"]})
    photo = {"Picture": b64(jpeg()), "FileName": "a.jpg", "Name": "Porch"}
    with pytest.raises(requests.exceptions.ConnectionError):
        sandbox.post(f"{owner}/photos", {"Photos": [photo]})
    with pytest.raises(requests.exceptions.ConnectionError):
        sandbox.put(owner, {"ListPrice": 5})
    sandbox.control("DELETE", "faults")
    (state,) = sandbox.state()["incomplete_listings"]
    assert [p["Name"] for p in state["Photos"]] == ["Porch"]
    assert state["StandardFields"]["ListPrice"] == 5
    journal = sandbox.calls()["journal"]
    dropped = [e for e in journal if e["fault"] == "drop_after_apply"]
    assert [(e["route"], e["status"], e["applied"]) for e in dropped] == [
        ("photos.create", 201, True),
        ("incomplete.update", 200, True),
    ]


def test_trickle_sends_the_body_slowly(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.faults({"kind": "trickle", "trickle_interval": 0.02, "routes": ["incomplete.delete"]})
    started = time.monotonic()
    response = sandbox.delete(owner)
    elapsed = time.monotonic() - started
    assert response.json() == {"D": {"Success": True}}
    body_bytes = len(response.content)
    assert elapsed >= (body_bytes - 1) * 0.02 * 0.8
    assert response.headers["Content-Length"] == str(body_bytes)


def test_latency_applies_to_every_request(sandbox):
    sandbox.faults(latency_ms=150)
    started = time.monotonic()
    sandbox.get(TYPES)
    assert time.monotonic() - started >= 0.15


def test_file_downloads_are_faulted_only_when_named(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(owner)
    sandbox.faults({"kind": "server_error", "status": 500})
    assert requests.get(photo["UriThumb"], timeout=5).status_code == 200
    sandbox.faults({"kind": "server_error", "status": 500, "routes": ["files.photo"]})
    assert requests.get(photo["UriThumb"], timeout=5).status_code == 500


def test_uploads_can_be_dropped_after_use(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    ticket = sandbox.ticket(owner, "documents")
    sandbox.faults({"kind": "drop_after_apply", "routes": ["uploads.document"]})
    form = {"Token": ticket["Token"], "Name": "Survey", "confidentiality": "private"}
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(ticket["Uri"], data=form, files={"File": ("s.pdf", pdf())}, timeout=5)
    sandbox.control("DELETE", "faults")
    assert [d["Name"] for d in sandbox.results(f"{owner}/documents")] == ["Survey"]
    again = requests.post(ticket["Uri"], data=form, files={"File": ("s.pdf", pdf())}, timeout=5)
    assert envelope_error(again) == (401, 1000)  # the ticket was used


def test_faults_from_settings_are_installed_by_reset(sandbox, settings):
    settings.SPARK_SANDBOX_FAULTS = json.dumps({"seed": 1, "rules": [{"kind": "token_expired", "times": 1}]})
    sandbox.control("POST", "reset")
    assert envelope_error(sandbox.get(TYPES)) == (401, 1020)
    assert sandbox.get(TYPES).status_code == 200


def test_bad_fault_specs_are_refused(sandbox):
    for body in (
        {"rules": [{"kind": "meteor"}]},
        {"rules": [{"kind": "server_error", "status": 418}]},
        {"rules": [{"kind": "hang", "probability": 2}]},
        {"seed": "x"},
    ):
        response = requests.post(
            sandbox.url("/_control/faults"), json=body, headers=CONTROL_HEADERS, timeout=5
        )
        assert response.status_code == 400, body


def test_calls_count_every_route_and_reset_wipes_everything(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.add_photo(owner)
    sandbox.add_photo(owner, "Two")
    sandbox.get(owner)
    sandbox.get(f"{owner}/nope/nope")
    calls = sandbox.calls()
    assert calls["counts"] == {"incomplete.create": 1, "photos.create": 2, "incomplete.get": 1, "unknown": 1}
    entry = calls["journal"][1]
    assert {"at", "method", "path", "route", "status", "code", "fault", "applied"} <= set(entry)
    assert (entry["method"], entry["route"], entry["status"], entry["applied"]) == (
        "POST",
        "photos.create",
        201,
        True,
    )
    assert calls["journal"][-1]["code"] == 404
    since = sandbox.control("GET", f"calls?since={calls['journal'][2]['id']}")["journal"]
    assert [e["route"] for e in since] == ["incomplete.get", "unknown"]
    sandbox.faults({"kind": "server_error"})
    sandbox.options(create_status=200)
    sandbox.control("POST", "reset")
    assert sandbox.calls() == {"counts": {}, "journal": []}
    assert sandbox.state() == {"listings": [], "incomplete_listings": []}
    assert sandbox.control("GET", "faults")["rules"] == []
    assert sandbox.control("GET", "options")["overrides"] == {}
    assert sandbox.post("/v1/listings/incomplete", DRAFT).status_code == 201


def test_control_interface_is_404_when_disabled(sandbox, settings):
    settings.SPARK_SANDBOX_CONTROL_ENABLED = False
    for name in ("reset", "faults", "calls", "expire_tokens", "state", "options", "clock"):
        response = requests.get(sandbox.url(f"/_control/{name}"), headers=CONTROL_HEADERS, timeout=5)
        assert response.status_code == 404, name


def test_options_refuse_unknown_names(sandbox):
    response = requests.post(
        sandbox.url("/_control/options"), json={"no_such_option": 1}, headers=CONTROL_HEADERS, timeout=5
    )
    assert response.status_code == 400
