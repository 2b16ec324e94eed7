"""Remote calls per change: how many requests the MLS receives for a person's burst of edits.

    .venv/bin/python bench/sync/calls.py [--latency-ms 20] [--workers 2]      (make bench-sync-calls)

The MLS publishes no rate limit, only a refusal (1550), so every call saved is throughput. In
one harness (its own database, Redis, sandbox, a prefork worker and beat, production settings:
tests/mls/worker_harness.py), each scenario runs on a synced draft of its own (five photos, a
document) and counts the requests the sandbox journals from the first edit until the draft is
synced again, plus two quiet seconds:

- 20 saves of the list price in 5 s (an agent nudging a price);
- 20 photo drags in 5 s;
- a caption, then the star (primary), on one photo, half a second apart;
- a document's name and privacy in one save.

Target: one or two calls each ("one call per change" would be 20, 20, 2 and 2). The Spark pages
make a document's rename and its privacy two requests ("each of these operations must be
performed independently in separate requests"), so two is that scenario's floor. Each line also
says whether the remote ended equal to the draft.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.mls.worker_harness import Harness, call_report, run_call_scenarios  # noqa: E402

SETTINGS = {
    # Production settings (docs: bench/sync/run.py), the drift check out of the way.
    "DATABASE_CONN_MAX_AGE": "60",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, default=20, help="sandbox answer delay (network distance)")
    parser.add_argument("--workers", type=int, default=2, help="pool processes of the Celery worker")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-calls-") as workdir,
        Harness(Path(workdir), worker_concurrency=options.workers, settings_env=SETTINGS) as harness,
    ):
        if options.latency_ms:
            harness.control("POST", "faults", {"rules": [], "latency_ms": options.latency_ms})
        harness.start_worker()
        harness.start_beat()
        print(
            f"database {harness.engine}; {options.workers} worker processes; "
            f"remote answers after {options.latency_ms} ms"
        )
        results = run_call_scenarios(harness)
        print(call_report(results))
        over = [result["title"] for result in results if result["calls"] > 2 or not result["matches"]]
        if over:
            print(f"over the target of two calls, or not equal to the draft: {over}")
            return 1
    return 0


def _exit_on_term(signum, frame) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_term)
    sys.exit(main())
