"""Publishing with a real Celery worker on a real Redis against the sandbox's fault switches,
the worker child SIGKILLed twice mid-job (issue 6: "a crash or remote failure at any step
resumes where it stopped, without duplicates").

Pass figures: every draft live; exactly one live listing per draft; its photos (order, names,
captions, primary, bytes) and documents (order, names, privacy, bytes) equal the draft's; no
incomplete listing left; all within a bounded time.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.mls.worker_harness import Harness, wait_until_synced

pytestmark = [pytest.mark.worker, pytest.mark.timeout(420)]

SETTINGS = {
    "SPARK_READ_TIMEOUT": "3",
    "SPARK_CONNECT_TIMEOUT": "2",
    "SPARK_RATE_LIMIT_PER_SECOND": "40",
    "SYNC_LEASE_SECONDS": "15",
    "SYNC_AMBIGUOUS_SETTLE_SECONDS": "5",
    "SYNC_BACKOFF_BASE_SECONDS": "0.5",
    "SYNC_BACKOFF_CAP_SECONDS": "4",
    "SYNC_SWEEP_SECONDS": "2",
    "SYNC_REQUEUE_AFTER_SECONDS": "6",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
    "PROMOTION_MAX_ATTEMPTS": "30",
}
DRAFTS = 8

FAULTS = {
    "seed": 20261123,
    "rules": [
        {
            "kind": "server_error",
            "probability": 0.25,
            "routes": [
                "listings.create",
                "listings.validate",
                "tickets.create",
                "photos.update",
                "listings.get",
            ],
        },
        {
            "kind": "drop_after_apply",
            "probability": 0.3,
            "routes": [
                "listings.create",
                "uploads.photo",
                "uploads.document",
                "photos.reorder",
                "incomplete.delete",
            ],
        },
        {"kind": "rate_limit", "status": 429, "retry_after": 1, "probability": 0.05},
        {"kind": "hang", "hang_seconds": 5, "probability": 0.15, "routes": ["uploads.photo"]},
    ],
}


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    with Harness(tmp_path_factory.mktemp("promotion-harness"), settings_env=SETTINGS) as running:
        running.start_worker()
        running.start_beat()
        yield running


def _wait_finished(harness: Harness, ids: list[int], timeout: float, kill_at: tuple[float, ...]) -> tuple:
    started = time.monotonic()
    kills: list[int] = []
    pending = list(kill_at)
    rows: list[dict] = []
    while time.monotonic() - started < timeout:
        if pending and time.monotonic() - started >= pending[0]:
            pending.pop(0)
            killed = harness.kill_worker_child()
            if killed:
                kills.append(killed)
        rows = harness.run("promotions", ids=ids)["drafts"]
        if all(row["state"] in ("done", "failed") for row in rows) and not pending:
            return rows, kills, time.monotonic() - started
        time.sleep(1.0)
    states = Counter((row["state"], row["step"]) for row in rows)
    raise AssertionError(
        f"not finished in {timeout:.0f}s: {states}\n--- worker log ---\n{harness.log_tail('worker')}"
    )


def test_publishing_under_faults_and_worker_kills_makes_every_listing_once(harness):
    harness.control("POST", "reset")
    seeded = harness.run("seed", drafts=DRAFTS, photos=3, documents=1, seed=11)
    ids = seeded["ids"]
    wait_until_synced(harness, ids, 90)

    harness.control("POST", "faults", FAULTS)
    harness.run("publish", ids=ids)
    rows, kills, seconds = _wait_finished(harness, ids, 240, kill_at=(2.0, 6.0))
    injected = sum(rule["injected"] for rule in harness.control("GET", "faults", None)["rules"])
    harness.control("DELETE", "faults")
    state = harness.control("GET", "state", None)

    live = {listing["Id"]: listing for listing in state["listings"]}
    mismatched, duplicates = [], 0
    for row in rows:
        listing = live.get(row["live_listing_id"])
        if listing is None:
            mismatched.append((row["id"], "no live listing", row["state"], row["error"]))
            continue
        photos = sorted(listing["Photos"], key=lambda p: p["Order"])
        documents = sorted(listing["Documents"], key=lambda d: d["Order"])
        remote_photos = [[p["Name"], p["Caption"], p["Primary"], p["sha256"]] for p in photos]
        remote_documents = [[d["Name"], d["Privacy"], d["sha256"]] for d in documents]
        duplicates += max(0, len(photos) - len(row["photos"])) + max(
            0, len(documents) - len(row["documents"])
        )
        fields_equal = all(
            listing["StandardFields"].get(name) == value
            for name, value in row["fields"].items()
            if name not in ("CustomFields", "ListAgentId") and value is not None
        )
        if remote_photos != row["photos"] or remote_documents != row["documents"] or not fields_equal:
            mismatched.append((row["id"], "differs"))
    print(
        f"\nPublishing under faults: {DRAFTS} drafts x 3 photos + 1 document, "
        f"{injected} faults injected, "
        f"worker child SIGKILLed {len(kills)} times; all finished in {seconds:.0f} s; "
        f"live {sum(row['status'] == 'live' for row in rows)}/{DRAFTS}, live listings {len(live)}, "
        f"duplicates {duplicates}, mismatched {len(mismatched)}, "
        f"incomplete listings left {len(state['incomplete_listings'])}"
    )
    assert len(kills) == 2
    assert [row["status"] for row in rows] == ["live"] * DRAFTS, mismatched
    assert len(live) == DRAFTS  # no listing created twice
    assert duplicates == 0
    assert mismatched == []
    assert state["incomplete_listings"] == []
