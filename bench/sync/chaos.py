"""The headline chaos run, with whole-worker kills and Redis restarts at scale, one command
(docs/reliability.md#j14-headline-chaos-run, #j3-whole-worker-killed, #j12-redis-restart):

    .venv/bin/python bench/sync/chaos.py [--drafts 200] [--photos 3] [--documents 1] [--seeds 5] [--no-parts]

Per fault seed, in a fresh harness (own database, Redis, sandbox, worker, beat): 20% 5xx, 10%
replies dropped after the change applied, 5% rate limits (429 and 503/1550), 2% hangs past the
read timeout; every draft queued twice more (duplicate deliveries); edits all along; a worker
child SIGKILLed twice, Redis killed (queued messages lost) and restarted, the whole worker
SIGKILLed and replaced. Pass: 0 lost changes, 0 duplicated listings/photos/documents, remote ==
local for every draft, 0 lease violations, all synced within --timeout (default 15 min).

Each draft also has two rooms, a virtual tour (every other one with a branded link too) and a
video; the edits change, add, remove and reorder rooms and toggle the tour's branded link, and
the final check compares the remote's rooms, tours and videos with the draft's (in order, each
once, branded paired with unbranded). `--no-parts` leaves them out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.mls.worker_harness import CHAOS_SETTINGS, Harness, chaos_report, run_chaos  # noqa: E402

# Longer back-off and sweep than the CI run's: hundreds of drafts under faults for many minutes.
SETTINGS = {
    **CHAOS_SETTINGS,
    "SYNC_BACKOFF_BASE_SECONDS": "1",
    "SYNC_BACKOFF_CAP_SECONDS": "30",
    "SYNC_SWEEP_SECONDS": "5",
    "SYNC_REQUEUE_AFTER_SECONDS": "20",
    "SYNC_PUSH_BUDGET_SECONDS": "200",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=200)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-parts", dest="parts", action="store_false", help="no rooms, tours or videos")
    options = parser.parse_args()

    passed = 0
    for seed in range(options.first_seed, options.first_seed + options.seeds):
        with (
            tempfile.TemporaryDirectory(prefix="bench-chaos-") as workdir,
            Harness(Path(workdir), settings_env=SETTINGS) as harness,
        ):
            harness.start_worker()
            harness.start_beat()
            figures = run_chaos(
                harness,
                drafts=options.drafts,
                photos=options.photos,
                documents=options.documents,
                fault_seed=seed,
                edit_seconds=30,
                timeout=options.timeout,
                parts=options.parts,
            )
        ok = (
            figures["lost_changes"] == 0
            and figures["duplicate_items"] == 0
            and figures["duplicate_listings"] == 0
            and not figures["unsynced_drafts"]
            and not figures["lease_violations"]
            and not figures["edits"]["errors"]
        )
        passed += ok
        print(("PASS " if ok else "FAIL ") + chaos_report(figures), flush=True)
    print(f"{passed}/{options.seeds} seeds pass")
    return 0 if passed == options.seeds else 1


def _exit_on_term(signum, frame) -> None:
    # SIGTERM (timeout, Ctrl-C in a pipeline) still stops the harness's processes cleanly.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_term)
    raise SystemExit(main())
