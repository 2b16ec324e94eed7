"""Where the time of a push goes: one process pushing seeded drafts one after another.

    .venv/bin/python bench/sync/profile_push.py [--drafts 10] [--photos 5] [--documents 1] [--top 25]

Same set-up as bench/sync/run.py (its own database, Redis and sandbox; see
tests/mls/worker_harness.py), no Celery: the drafts are pushed in this process's child with
`push.push_draft`, and the time is split into the remote's answers (HTTP), database statements
(counted by kind), the shared rate limit, and the rest; then the cProfile entries that cost most
(`--profile`; PROFILE_FILTER: a regex of the entries shown, PROFILE_SORT: a pstats sort key,
PROFILE_DUMP: a file for the raw stats, PROFILE_TRACE_SQL=1: print each statement).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.sync.run import BENCH_SETTINGS  # noqa: E402
from spark.client import SparkClient  # noqa: E402
from tests.mls.worker_harness import PYTHON, Harness  # noqa: E402


def inner(ids: list[int], top: int, profiled: bool) -> None:
    import django

    django.setup()
    from django.db import connection

    from mls import planner, push, remote, uploads
    from mls.models import RemoteCall

    statements: collections.Counter[str] = collections.Counter()
    statement_seconds: collections.Counter[str] = collections.Counter()
    trace = bool(os.environ.get("PROFILE_TRACE_SQL"))
    db_seconds = [0.0]

    def count(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            db_seconds[0] += elapsed
            head = sql.lstrip().split(None, 1)[0].upper()
            if head in ("UPDATE", "INSERT", "SELECT") and '"' in sql:
                head += " " + sql.split('"')[1]
            statements[head] += 1
            statement_seconds[head] += elapsed
            if trace:
                print("   SQL", sql[:150])

    limiter = remote.limiter()
    acquire = limiter.acquire
    limit_seconds = [0.0]

    def timed_acquire(*args, **kwargs):
        started = time.perf_counter()
        try:
            return acquire(*args, **kwargs)
        finally:
            limit_seconds[0] += time.perf_counter() - started

    limiter.acquire = timed_acquire
    # CPU (not wall) spent inside a few layers, outermost entry only.
    cpu_in: collections.Counter[str] = collections.Counter()

    def cpu_timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        depth = [0]

        def wrapper(*args, **kwargs):
            if depth[0]:
                return original(*args, **kwargs)
            depth[0] += 1
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1
                cpu_in[label] += time.process_time() - started

        setattr(owner, name, wrapper)

    from django.db.models.sql import compiler

    cpu_timed(SparkClient, "_send", "HTTP client (requests)")
    cpu_timed(compiler.SQLCompiler, "execute_sql", "ORM select/update/delete")
    cpu_timed(compiler.SQLInsertCompiler, "execute_sql", "ORM insert")
    cpu_timed(push, "local_state", "local_state")
    cpu_timed(uploads, "read_content", "read_content")
    # Before the first request: the client takes its before_request hook when it is made.
    cpu_timed(remote, "wait_for_rate_limit_and_renew_lease", "rate limit + lease")
    cpu_timed(planner, "plan", "planner")
    profile = cProfile.Profile() if profiled else None
    with connection.execute_wrapper(count):
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        outcomes = collections.Counter(push.push_draft(draft_id).value for draft_id in ids)
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    calls = RemoteCall.objects.filter(draft_id__in=ids)
    http_seconds = sum(calls.values_list("duration_ms", flat=True)) / 1000
    n_calls = calls.count()
    print(f"outcomes {dict(outcomes)}; {len(ids)} drafts, {n_calls} remote calls in {wall:.2f} s")
    print(
        f"per call: wall {1000 * wall / n_calls:.1f} ms = HTTP {1000 * http_seconds / n_calls:.1f} ms "
        f"+ database {1000 * db_seconds[0] / n_calls:.1f} ms ({sum(statements.values()) / n_calls:.1f} "
        f"statements) + rate limit {1000 * limit_seconds[0] / n_calls:.1f} ms + rest "
        f"{1000 * (wall - http_seconds - db_seconds[0] - limit_seconds[0]) / n_calls:.1f} ms; "
        f"CPU of this process {1000 * cpu / n_calls:.2f} ms per call"
    )
    print("CPU per remote call inside:")
    for name, seconds in cpu_in.most_common():
        print(f"  {1000 * seconds / n_calls:6.2f} ms  {name}")
    print("statements per remote call (and their wall time per remote call):")
    for name, number in statements.most_common():
        print(f"  {number / n_calls:6.2f}  {1000 * statement_seconds[name] / n_calls:5.2f} ms  {name}")
    if profile is not None:
        stats = pstats.Stats(profile)
        ours = os.environ.get("PROFILE_FILTER") or r"spark/|media_manager/|drafts/|requests/(api|sessions)"
        stats.sort_stats(os.environ.get("PROFILE_SORT") or "cumulative").print_stats(ours, top)
        if os.environ.get("PROFILE_DUMP"):
            stats.dump_stats(os.environ["PROFILE_DUMP"])
    # The raw loop of bench/sync/run.py for as many drafts, in this process: its CPU per call.
    from django.conf import settings

    from bench.sync.run import raw_share

    photos, documents = (int(n) for n in os.environ["PROFILE_SHAPE"].split(","))
    raw_calls, ready, finished, cpu = raw_share(
        (settings.SPARK_API_URL, list(range(len(ids))), photos, documents, 0.0)
    )
    print(
        f"raw loop: {raw_calls} calls, wall {1000 * (finished - ready) / raw_calls:.1f} ms and CPU of this "
        f"process {1000 * cpu / raw_calls:.2f} ms per call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=10)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="cProfile the pushes (slows them)")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.inner:
        inner(json.loads(options.inner), options.top, options.profile)
        return
    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-profile-") as workdir,
        Harness(Path(workdir), worker_concurrency=1, settings_env=BENCH_SETTINGS) as harness,
    ):
        print(f"database {harness.engine}")
        seeded = harness.run(
            "seed",
            drafts=options.drafts,
            photos=options.photos,
            documents=options.documents,
            env={"SYNC_ENQUEUE_ENABLED": "0"},
            timeout=900,
        )
        subprocess.run(
            [
                PYTHON,
                __file__,
                "--inner",
                json.dumps(seeded["ids"]),
                "--top",
                str(options.top),
                *(["--profile"] if options.profile else []),
            ],
            cwd=ROOT,
            env={
                **harness.env,
                "SYNC_ENQUEUE_ENABLED": "0",
                "PROFILE_SHAPE": f"{options.photos},{options.documents}",
            },
            check=True,
            timeout=900,
        )


if __name__ == "__main__":
    main()
