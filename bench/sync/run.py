"""Sync throughput and latency against the sandbox, compared with a raw loop of the same calls.

    .venv/bin/python bench/sync/run.py [--drafts 40] [--photos 5] [--documents 1] [--workers 2]

One run (its own database, Redis, sandbox and workers, see tests/spark/worker_harness.py):

1. Raw loop: the HTTP calls a push of N drafts x M photos needs (create the incomplete listing,
   then a ticket and a multipart upload per photo and per document), made directly with the
   Spark client by as many processes as there are workers: no database, no lease, no log.
2. Engine: the same N drafts seeded in the database (photos processed), then every push queued
   at once; `--workers` Celery workers (one process each) push them. Throughput = drafts (and
   calls) per second from the queueing to the last draft confirmed; the ratio to the raw loop
   is the figure (target >= 0.8).
3. Latency: saves one at a time (a field, a caption) on synced drafts, each timed from the save
   to the remote's confirmation (`confirmed_seq` reaching the save's `change_seq`): p50/p95.

PostgreSQL is used when DATABASE_URL is postgres (a throwaway database), else SQLite.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from spark.client import ListingRef, SparkClient  # noqa: E402
from tests.spark.worker_harness import Harness, children_of, jpeg_bytes, pdf_bytes  # noqa: E402

BENCH_SETTINGS = {
    "SPARK_RATE_LIMIT_PER_SECOND": "1000",
    "SPARK_READ_TIMEOUT": "30",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
    "SYNC_SWEEP_SECONDS": "10",
    # Production settings: keep database connections (the harness uses 0 for its tests), and
    # no DEBUG (which wraps every statement to keep its SQL); plain HTTP on the loopback.
    "DATABASE_CONN_MAX_AGE": "60",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECURE_SSL_REDIRECT": "0",
}


def body(number: int) -> dict:
    return {
        "PropertyType": "A",
        "PropertySubType": "SF",
        "ListPrice": 250000 + number,
        "StreetNumber": str(100 + number),
        "StreetName": "Elm",
        "StreetSuffix": "St",
        "City": "Fargo",
        "StateOrProvince": "ND",
        "PostalCode": "58103",
        "BedsTotal": 3,
        "BathsTotal": 2,
        "YearBuilt": 1990,
        "ListAgentId": "20080917142739989238000001",
    }


def raw_share(args: tuple[str, list[int], int, int]) -> int:
    """One process of the raw loop: its share of the drafts, call after call."""
    base_url, numbers, photos, documents = args
    client = SparkClient(base_url, access_token="sandbox-access-token", read_timeout=30)
    calls = 0
    for number in numbers:
        listing = ListingRef.for_incomplete(client.create_incomplete_listing(body(number)).resource_id)
        calls += 1
        for index in range(photos):
            ticket = client.create_photo_ticket(listing)
            client.upload_photo_with_ticket(
                ticket,
                jpeg_bytes(number * 10 + index + 1000),
                name=f"Photo {index + 1}",
                file_name=f"r{number}-{index}.jpg",
            )
            calls += 2
        for index in range(documents):
            ticket = client.create_document_ticket(listing)
            client.upload_document_with_ticket(
                ticket,
                pdf_bytes(f"Disclosure {index + 1}"),
                name=f"Disclosure {index + 1}",
                privacy="Private",
            )
            calls += 2
    client.close()
    return calls


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc), in seconds."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=40)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=0, help="sandbox answer delay (a farther remote)")
    options = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-") as workdir,
        Harness(Path(workdir), worker_concurrency=1, settings_env=BENCH_SETTINGS) as harness,
    ):
        print(
            f"database {harness.engine}; {options.drafts} drafts x {options.photos} photos + "
            f"{options.documents} document(s); {options.workers} workers"
        )

        if options.latency_ms:
            harness.control("POST", "faults", {"rules": [], "latency_ms": options.latency_ms})

        # 1. The raw loop: one process, then as many processes as workers.
        rates = {}
        for processes in sorted({1, options.workers}):
            shares = [list(range(options.drafts))[i::processes] for i in range(processes)]
            jobs = [(harness.sandbox_url, share, options.photos, options.documents) for share in shares]
            started = time.monotonic()
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                raw_calls = sum(pool.map(raw_share, jobs))
            raw_seconds = time.monotonic() - started
            rates[processes] = options.drafts / raw_seconds
            print(
                f"raw loop x{processes}: {raw_calls} calls in {raw_seconds:.2f} s = "
                f"{raw_calls / raw_seconds:.1f} calls/s, {rates[processes]:.2f} drafts/s"
            )

        harness.control("POST", "reset")
        if options.latency_ms:
            harness.control("POST", "faults", {"rules": [], "latency_ms": options.latency_ms})
        seeded = harness.run(
            "seed",
            drafts=options.drafts,
            photos=options.photos,
            documents=options.documents,
            env={"SYNC_ENQUEUE_ENABLED": "0"},
            timeout=900,
        )
        ids = seeded["ids"]
        # The seeding's photos are processed already: drop their processing messages, which would
        # otherwise reach the workers as 200 no-op tasks inside the measured run.
        harness.purge_queue()
        for number in range(options.workers):
            harness.start_worker(f"worker{number}", concurrency=1)
        # Let the workers start their pool process and connect (their CPU is read from it).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [
                pid for n in range(options.workers) for pid in children_of(harness.procs[f"worker{n}"].pid)
            ]
            if len(workers) >= options.workers:
                break
            time.sleep(0.5)
        time.sleep(3)
        before = sum(harness.control("GET", "calls")["counts"].values())
        sandbox = [harness.procs["sandbox"].pid]
        cpu_before = cpu_seconds(workers), cpu_seconds(sandbox)
        rung = harness.run("ring_all", ids=ids)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            progress = harness.run("progress", ids=ids)
            if progress["synced"] == progress["total"]:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"not synced: {progress}\n{harness.log_tail('worker0')}")
        cpu_after = cpu_seconds(workers), cpu_seconds(sandbox)
        times = harness.run("synced_times", ids=ids)
        finished = max(times.values())
        engine_seconds = finished - rung["started"]
        engine_calls = sum(harness.control("GET", "calls")["counts"].values()) - before
        engine_rate = options.drafts / engine_seconds
        completions = [t - rung["started"] for t in times.values()]
        print(
            f"engine:    {engine_calls} calls in {engine_seconds:.2f} s = "
            f"{engine_calls / engine_seconds:.1f} calls/s, "
            f"{engine_rate:.2f} drafts/s; queued-to-synced p50 {percentile(completions, 0.5):.2f} s, "
            f"p95 {percentile(completions, 0.95):.2f} s"
        )
        print(
            f"CPU per remote call: workers {1000 * (cpu_after[0] - cpu_before[0]) / engine_calls:.1f} ms, "
            f"sandbox {1000 * (cpu_after[1] - cpu_before[1]) / engine_calls:.1f} ms"
        )
        print(
            f"ratio engine ({options.workers} workers) / raw: {engine_rate / rates[1]:.2f} against one loop, "
            f"{engine_rate / rates[options.workers]:.2f} against {options.workers} parallel loops "
            "(target >= 0.8)"
        )

        # 3. Save-to-synced latency, one save at a time.
        probe = harness.run("latency_probe", ids=ids, count=options.probes, timeout=600)
        latencies = probe["latencies"]
        print(
            f"save-to-synced latency over {len(latencies)} saves: "
            f"p50 {1000 * statistics.median(latencies):.0f} ms, "
            f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, max {1000 * max(latencies):.0f} ms"
        )


def _exit_on_term(signum, frame) -> None:
    # SIGTERM (timeout, Ctrl-C in a pipeline) still stops the harness's processes cleanly.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_term)
    main()
