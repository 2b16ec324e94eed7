"""Sync throughput and latency against the sandbox, compared with a raw loop of the same calls.

    .venv/bin/python bench/sync/run.py [--drafts 40] [--photos 5] [--documents 1] [--workers 2]
                                       [--nodes 1] [--rounds 3] [--latency-ms 0] [--remote-core N]

One run (its own database, Redis, sandbox and workers, see tests/mls/worker_harness.py):

1. Raw loop: the HTTP calls a push of N drafts x M photos needs (create the incomplete listing,
   then a ticket and a multipart upload per photo and per document), made directly with the
   Spark client by as many processes as there are workers: no database, no lease, no log.
2. Engine: the same N drafts seeded in the database (photos processed), then every push queued
   at once; `--workers` Celery pool processes push them, in `--nodes` Celery workers (default 1,
   a prefork worker with that concurrency, as docker-compose.yml runs it). Throughput = calls per
   second from the queueing to the last draft confirmed; the ratio to the raw loop is the
   figure (target >= 0.8). Steps 1 and 2 alternate for `--rounds` rounds (each with drafts of
   its own) and the median ratio is reported.
3. Latency: saves one at a time (a field, a caption) on synced drafts, each timed from the save
   to the remote's confirmation (`confirmed_seq` reaching the save's `change_seq`): p50/p95.

PostgreSQL is used when DATABASE_URL is postgres (a throwaway database), else SQLite. The
sandbox has a database of its own (SQLite), as a remote would. Workers run with production
settings (DEBUG off, kept connections). At `--latency-ms 0` (the default) every call answers at
loopback speed, so the engine's own work per call (the record of each confirmed call, the
shared rate limit, the sync log) competes with the sandbox for the machine's cores: the hardest
case for the ratio. `--latency-ms 20` (or more) puts the remote at network distance.
`--remote-core N` gives the sandbox CPU N to itself and runs everything else of this run (raw
loops, workers) on the other cores, as a remote on a machine of its own: the ratio then
compares what each side costs the client, not who wins the cores from the remote. (Redis and
PostgreSQL's server processes are not pinned.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from spark.client import ListingRef, SparkClient  # noqa: E402
from tests.mls.worker_harness import Harness, children_of, jpeg_bytes, pdf_bytes  # noqa: E402

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


def raw_share(args: tuple[str, list[int], int, int, float]) -> tuple[int, float, float, float]:
    """One process of the raw loop: its share of the drafts, call after call, from `start_at`
    (wall clock) so that the processes' start-up and the making of the files are not timed.
    Returns (calls, when it was ready, when it finished, its CPU seconds in the loop)."""
    base_url, numbers, photos, documents, start_at = args
    client = SparkClient(base_url, access_token="sandbox-access-token", read_timeout=30)
    pictures = {n: [jpeg_bytes(n * 10 + i + 1000) for i in range(photos)] for n in numbers}
    papers = [pdf_bytes(f"Disclosure {i + 1}") for i in range(documents)]
    ready = time.time()
    time.sleep(max(0.0, start_at - ready))
    cpu = time.process_time()
    calls = 0
    for number in numbers:
        listing = ListingRef.for_incomplete(client.create_incomplete_listing(body(number)).resource_id)
        calls += 1
        for index, picture in enumerate(pictures[number]):
            ticket = client.create_photo_ticket(listing)
            client.upload_photo_with_ticket(
                ticket, picture, name=f"Photo {index + 1}", file_name=f"r{number}-{index}.jpg"
            )
            calls += 2
        for index, paper in enumerate(papers):
            ticket = client.create_document_ticket(listing)
            client.upload_document_with_ticket(
                ticket, paper, name=f"Disclosure {index + 1}", privacy="Private"
            )
            calls += 2
    finished, cpu = time.time(), time.process_time() - cpu
    client.close()
    return calls, ready, finished, cpu


def _name_and_cpu(pid: int | str) -> tuple[str, float] | None:
    """A process's name and user + system CPU seconds so far (Linux /proc); None once gone."""
    try:
        head, tail = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except OSError:
        return None
    fields = tail.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, in seconds."""
    return sum(found[1] for pid in pids if (found := _name_and_cpu(pid)) is not None)


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _name_and_cpu(entry.name)) is not None:
            found[int(entry.name)] = stat
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every core (Linux /proc/stat)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / tick, sum(ticks) / tick


def where_cpu_went(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], named: dict[int, str]
) -> dict[str, float]:
    """CPU seconds between two `process_cpu` snapshots, by `named` pid or else by process name."""
    spent: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        used = cpu - before.get(pid, (name, 0.0))[1]
        if used > 0:
            key = named.get(pid, name)
            spent[key] = spent.get(key, 0.0) + used
    return spent


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def raw_run(harness: Harness, options: argparse.Namespace, processes: int) -> tuple[int, float, float, float]:
    """The raw loop over `options.drafts` drafts split across `processes` processes: (calls, s,
    the loops' CPU seconds, the sandbox's CPU seconds meanwhile)."""
    shares = [list(range(options.drafts))[i::processes] for i in range(processes)]
    start_at = time.time() + 5
    jobs = [(harness.sandbox_url, share, options.photos, options.documents, start_at) for share in shares]
    sandbox = [harness.procs["sandbox"].pid]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pending = pool.map_async(raw_share, jobs)
        # From the start line, when the loops begin calling it.
        time.sleep(max(0.0, start_at - time.time()))
        sandbox_before = cpu_seconds(sandbox)
        results = pending.get()
        sandbox_cpu = cpu_seconds(sandbox) - sandbox_before
    late = max(ready for _, ready, _, _ in results) - start_at
    if late > 0:
        print(f"  (a raw process was ready {late:.2f} s late)")
    return (
        sum(calls for calls, *_ in results),
        max(finished for _, _, finished, _ in results) - start_at,
        sum(cpu for *_, cpu in results),
        sandbox_cpu,
    )


def engine_run(harness: Harness, ids: list[int], workers: list[int]) -> dict[str, Any]:
    """Queue a push of every draft in `ids` at once; the workers push them all."""
    before = sum(harness.control("GET", "calls")["counts"].values())
    sandbox = [harness.procs["sandbox"].pid]
    cpu_before = cpu_seconds(workers), cpu_seconds(sandbox)
    processes_before, machine_before = process_cpu(), machine_busy()
    rung = harness.run("ring_all", ids=ids, wait=900, timeout=960)
    processes_after, machine_after = process_cpu(), machine_busy()
    progress = rung["progress"]
    if progress["synced"] != progress["total"]:
        raise SystemExit(f"not synced: {progress}\n{harness.log_tail('worker0')}")
    cpu_after = cpu_seconds(workers), cpu_seconds(sandbox)
    times = harness.run("synced_times", ids=ids)
    calls = sum(harness.control("GET", "calls")["counts"].values()) - before
    completions = [t - rung["started"] for t in times.values()]
    # The whole machine while the engine ran (from this side's start, so slightly wider than the
    # throughput's interval): what each kind of process spent per remote call.
    named = {pid: "pool processes" for pid in workers} | {sandbox[0]: "sandbox"}
    named |= {proc.pid: "Celery main" for key, proc in harness.procs.items() if key.startswith("worker")}
    spent = where_cpu_went(processes_before, processes_after, named)
    busy = machine_after[0] - machine_before[0]
    capacity = machine_after[1] - machine_before[1]
    return {
        "calls": calls,
        "seconds": max(completions),
        "p50": percentile(completions, 0.5),
        "p95": percentile(completions, 0.95),
        "worker_cpu_ms": 1000 * (cpu_after[0] - cpu_before[0]) / calls,
        "sandbox_cpu_ms": 1000 * (cpu_after[1] - cpu_before[1]) / calls,
        "machine_busy": busy / capacity if capacity else 0.0,
        "machine_ms": 1000 * busy / calls,
        "spent_ms": {name: 1000 * used / calls for name, used in spent.items()},
    }


def pin_sandbox(harness: Harness, core: int) -> None:
    """The sandbox (every thread) on CPU `core`; this process already keeps off it."""
    sandbox = harness.procs["sandbox"].pid
    for pid in [sandbox, *children_of(sandbox)]:
        subprocess.run(["taskset", "-a", "-cp", str(core), str(pid)], check=True, capture_output=True)
    print(f"sandbox on CPU {core}; this run's other processes on {sorted(os.sched_getaffinity(0))}")


def start_workers(harness: Harness, processes: int, nodes: int) -> list[int]:
    """`processes` pool processes in `nodes` prefork Celery workers; their pids once started
    (their CPU is what the engine's figure reads)."""
    for number in range(nodes):
        harness.start_worker(f"worker{number}", concurrency=len(range(number, processes, nodes)))
    deadline = time.monotonic() + 60
    while True:
        pool = [pid for n in range(nodes) for pid in children_of(harness.procs[f"worker{n}"].pid)]
        if len(pool) >= processes or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(3)  # let them connect to the broker
    return pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=40)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="pool processes pushing at once")
    parser.add_argument("--nodes", type=int, default=1, help="Celery workers sharing those processes")
    parser.add_argument("--rounds", type=int, default=3, help="raw loops then engine, this many times")
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=0, help="sandbox answer delay (a farther remote)")
    parser.add_argument("--remote-core", type=int, help="a CPU for the sandbox alone")
    options = parser.parse_args()
    if options.remote_core is not None:
        # Every process this run starts inherits the other cores; the sandbox is moved below.
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {options.remote_core})

    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-") as workdir,
        Harness(Path(workdir), worker_concurrency=1, settings_env=BENCH_SETTINGS) as harness,
    ):
        print(
            f"database {harness.engine}; {options.drafts} drafts x {options.photos} photos + "
            f"{options.documents} document(s); {options.workers} workers in {options.nodes} Celery "
            f"node(s); {options.rounds} rounds; "
            f"remote answers after {options.latency_ms} ms"
        )
        if options.remote_core is not None:
            pin_sandbox(harness, options.remote_core)
        if options.latency_ms:
            harness.control("POST", "faults", {"rules": [], "latency_ms": options.latency_ms})
        # Every round's drafts, seeded up front (photos processed, nothing queued for them).
        seeded = harness.run(
            "seed",
            drafts=options.drafts * options.rounds,
            photos=options.photos,
            documents=options.documents,
            env={"SYNC_ENQUEUE_ENABLED": "0"},
            timeout=1800,
        )
        batches = [seeded["ids"][i :: options.rounds] for i in range(options.rounds)]
        # The seeding's photos are processed already: drop their processing messages, which would
        # otherwise reach the workers as no-op tasks inside the measured runs.
        harness.purge_queue()
        workers = start_workers(harness, options.workers, options.nodes)

        # Raw loops and engine in turn, so that a noisy spell of the machine hits a round, not
        # one side: each round's ratio compares figures taken seconds apart.
        ratios: dict[int, list[float]] = {1: [], options.workers: []}
        for round_number, ids in enumerate(batches, start=1):
            rates = {}
            for processes in sorted({1, options.workers}):
                raw_calls, raw_seconds, raw_cpu, sandbox_cpu = raw_run(harness, options, processes)
                rates[processes] = raw_calls / raw_seconds
                print(
                    f"round {round_number} raw loop x{processes}: {raw_calls} calls in {raw_seconds:.2f} s = "
                    f"{rates[processes]:.1f} calls/s; CPU per call: loops "
                    f"{1000 * raw_cpu / raw_calls:.1f} ms, sandbox {1000 * sandbox_cpu / raw_calls:.1f} ms"
                )
            engine = engine_run(harness, ids, workers)
            engine_rate = engine["calls"] / engine["seconds"]
            for processes in ratios:
                ratios[processes].append(engine_rate / rates[processes])
            print(
                f"round {round_number} engine:      {engine['calls']} calls in {engine['seconds']:.2f} s = "
                f"{engine_rate:.1f} calls/s; queued-to-synced p50 {engine['p50']:.2f} s, "
                f"p95 {engine['p95']:.2f} s; CPU per call: workers {engine['worker_cpu_ms']:.1f} ms, "
                f"sandbox {engine['sandbox_cpu_ms']:.1f} ms; ratio {engine_rate / rates[1]:.2f} "
                f"against one loop, {engine_rate / rates[options.workers]:.2f} against "
                f"{options.workers} parallel loops"
            )
            top = sorted(engine["spent_ms"].items(), key=lambda item: -item[1])[:6]
            print(
                f"  machine {100 * engine['machine_busy']:.0f}% busy, "
                f"{engine['machine_ms']:.1f} ms of CPU per call: "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in top)
            )
        print(
            f"ratio engine ({options.workers} workers) / raw, median of {options.rounds} rounds: "
            f"{statistics.median(ratios[1]):.2f} against one loop, "
            f"{statistics.median(ratios[options.workers]):.2f} against {options.workers} parallel loops "
            "(target >= 0.8)"
        )

        # Save-to-synced latency, one save at a time.
        probe = harness.run("latency_probe", ids=seeded["ids"], count=options.probes, timeout=600)
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
