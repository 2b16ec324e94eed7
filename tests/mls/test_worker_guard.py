"""docs/reliability.md#j2-worker-child-killed, the guard: the checker can see a loss.

The same short run twice, each in its own harness (database, Redis, sandbox, real prefork
worker): three drafts queued once each (seeded with the doorbell off, so every draft has exactly
one message), the sandbox holds the first ``incomplete.create`` for a few seconds (a ``hang``
fault), and the pool child that holds that draft's claim is SIGKILLed while the request is in
flight. Then the usual checker (`compare`: remote == local, synced, no duplicates).

- Guard: the outbox sweep off (no beat) and ``task_reject_on_worker_lost=False`` (a per-worker
  override; the production default is untouched). Celery acks the killed task, nothing queues
  the draft again: the checker must report it (not synced, its change lost).
- Production settings (reject on worker lost, beat sweeping): the same run reports nothing lost.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.mls.worker_harness import Harness, compare

pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]

HANG_SECONDS = 5
SETTINGS = {
    # Longer than the hang: the client is surely still waiting when the child dies.
    "SPARK_READ_TIMEOUT": "15",
    "SPARK_CONNECT_TIMEOUT": "2",
    "SPARK_RATE_LIMIT_PER_SECOND": "40",
    # Longer than the test: only the dead-owner takeover (or nothing) frees the claim.
    "SYNC_LEASE_SECONDS": "120",
    # Longer than the hang, so the late create is found, not made twice.
    "SYNC_AMBIGUOUS_SETTLE_SECONDS": str(HANG_SECONDS + 2),
    "SYNC_BACKOFF_BASE_SECONDS": "0.5",
    "SYNC_BACKOFF_CAP_SECONDS": "3",
    "SYNC_SWEEP_SECONDS": "2",
    "SYNC_REQUEUE_AFTER_SECONDS": "6",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
    "SYNC_PUSH_BUDGET_SECONDS": "60",
}
DRAFTS = 3
# How long the run may take to converge after the kill (production settings: 5-6 s measured, SQLite).
SETTLE_TIMEOUT = 15.0
GUARD_CONF = {"task_reject_on_worker_lost": False}


def wait_for_hang(harness: Harness, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rules = harness.control("GET", "faults")["rules"]
        if rules and rules[0]["injected"] >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"the hang never fired\n--- worker log ---\n{harness.log_tail('worker')}")


def kill_mid_task(harness: Harness) -> dict[str, Any]:
    """Seed, queue once, SIGKILL the pool child inside the held create, wait, check."""
    harness.control("POST", "reset")
    harness.control(
        "POST",
        "faults",
        {
            "seed": 1,
            "rules": [
                {
                    "kind": "hang",
                    "routes": ["incomplete.create"],
                    "hang_seconds": HANG_SECONDS,
                    "times": 1,
                }
            ],
        },
    )
    # The doorbell off while seeding: exactly one message per draft (ring_all below), so no
    # second message can rescue the killed one.
    seeded = harness.run(
        "seed", drafts=DRAFTS, photos=1, documents=0, seed=11, env={"SYNC_ENQUEUE_ENABLED": "0"}
    )
    ids = seeded["ids"]
    harness.run("ring_all", ids=ids)
    wait_for_hang(harness)
    hang_seen = time.monotonic()
    children = harness.worker_children()
    assert len(children) == 1, children  # one pool child: it is the one inside the create
    victim_pid = children[0]
    os.kill(victim_pid, signal.SIGKILL)
    killed_after = time.monotonic() - hang_seen
    # The kill landed inside the held request (it answers HANG_SECONDS after it began).
    assert killed_after < HANG_SECONDS - 2, killed_after
    # The claim was the victim's (the production run may already have taken it over).
    victim_draft = None
    for row in harness.run("leases", ids=ids)["leases"]:
        if row["owner"].split(":")[1:2] == [str(victim_pid)]:
            victim_draft = row["id"]

    killed = time.monotonic()
    progress: dict[str, Any] = {}
    while time.monotonic() - killed < SETTLE_TIMEOUT:
        progress = harness.run("progress", ids=ids)
        if progress["synced"] == progress["total"]:
            break
        time.sleep(1)
    settled = time.monotonic() - killed
    figures = compare(harness.run("dump", ids=ids), harness.control("GET", "state"))
    figures.update(
        {
            "victim_draft": victim_draft,
            "victim_pid": victim_pid,
            "killed_after_hang_s": round(killed_after, 2),
            "seconds_after_kill": round(settled, 1),
            "states": progress.get("states"),
            "engine": harness.engine,
            # Celery's main process saw the child die (it logs WorkerLostError too when it had
            # already been told the job started).
            "kill_seen": "exited with 'signal 9 (SIGKILL)'" in harness.log_tail("worker", 400),
            "worker_lost_logged": "WorkerLostError" in harness.log_tail("worker", 400),
        }
    )
    return figures


def report(label: str, figures: dict[str, Any]) -> str:
    victim = figures["victim_draft"] or "? (its claim already taken over)"
    return (
        f"\nJ2 {label} ({figures['engine']}): child {figures['victim_pid']} SIGKILLed "
        f"{figures['killed_after_hang_s']} s into the held create of draft {victim}; "
        f"after {figures['seconds_after_kill']} s: unsynced {figures['unsynced_drafts']}, "
        f"lost changes {figures['lost_changes']}, duplicate listings {figures['duplicate_listings']}, "
        f"duplicate items {figures['duplicate_items']}, states {figures['states']}, "
        f"kill seen by Celery {figures['kill_seen']}, WorkerLostError logged {figures['worker_lost_logged']}"
    )


def test_guard_without_sweep_and_reject_on_worker_lost_the_checker_sees_the_loss(tmp_path):
    with Harness(tmp_path / "guard", worker_concurrency=1, settings_env=SETTINGS) as harness:
        harness.start_worker(conf=GUARD_CONF)  # and no beat: the sweep never runs
        figures = kill_mid_task(harness)
        worker_log = harness.log_tail("worker", 400)
    print(report("guard (no sweep, reject_on_worker_lost=False)", figures))
    assert figures["kill_seen"], worker_log
    # The loss: the killed child's draft never reaches "synced" (its remote side may or may
    # not have been complete when the child died; the op itself is what was lost).
    assert figures["victim_draft"] in figures["unsynced_drafts"], figures
    # Only the killed task was lost: the other drafts synced.
    assert figures["unsynced_drafts"] == [figures["victim_draft"]], figures


def test_production_settings_the_same_run_loses_nothing(tmp_path):
    with Harness(tmp_path / "production", worker_concurrency=1, settings_env=SETTINGS) as harness:
        harness.start_worker()
        harness.start_beat()
        figures = kill_mid_task(harness)
        worker_log = harness.log_tail("worker", 400)
    print(report("production settings", figures))
    assert figures["kill_seen"], worker_log
    assert figures["unsynced_drafts"] == [], (figures, worker_log)
    assert figures["lost_changes"] == 0, figures["mismatched_drafts"]
    assert figures["duplicate_items"] == 0
    assert figures["duplicate_listings"] == 0
    assert figures["remote_listings"] == figures["drafts"] == DRAFTS
