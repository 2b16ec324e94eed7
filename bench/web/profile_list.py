"""Where the drafts list's milliseconds go, in process, without gunicorn and the network:

    .venv/bin/python bench/web/profile_list.py [--drafts 10000] [--var-dir DIR] [--profile list-agent]

Seeds the office of bench/web/run.py once (SQLite under --var-dir, kept between runs; the
PostgreSQL database of DATABASE_URL if set: a disposable one), then sends each list request of the
bench through Django's test client with production settings and prints, per request: the queries,
the time spent in them (the database driver's calls), the rest (views, forms, rendering), and the
Python function calls, a count the machine's load does not move; the sign-in page first, the
baseline of bench/web/run.py's ratios. `--profile NAME` prints cProfile's top functions of that
request; `--explain` prints PostgreSQL's plan of each list query.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.web.run import set_up_in_process  # noqa: E402

# The sign-in page (anonymous, no username) is the baseline bench/web/run.py divides by.
REQUESTS = {
    "sign-in": ("", {}, False),
    "list-admin": ("bench.admin", {}, False),
    "list-agent": ("agent0", {}, False),
    "search": ("bench.admin", {"q": "elm"}, False),
    "search-htmx": ("bench.admin", {"q": "elm", "sort": "price"}, True),
    "page-200": ("bench.admin", {"page": 200}, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--var-dir", default="/tmp/portal-profile-list")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--profile", default="", help="one of: " + ", ".join(REQUESTS))
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--explain", action="store_true", help="PostgreSQL: EXPLAIN ANALYZE the list queries")
    options = parser.parse_args()

    set_up_in_process(Path(options.var_dir), options.drafts)
    from django.db import connection
    from django.test import Client

    from accounts.models import User

    clients = {}
    for username in {username for username, _, _ in REQUESTS.values()}:
        client = Client(HTTP_HOST="127.0.0.1")
        if username:
            client.force_login(User.objects.get(username=username))
        clients[username] = client

    print(f"database: {connection.vendor}; {options.drafts} drafts; load {os.getloadavg()}")
    print(
        f"{'request':<12} {'queries':>8} {'SQL ms':>8} {'rest ms':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'calls':>8}"
    )
    for name, (username, params, htmx) in REQUESTS.items():
        client = clients[username]
        headers = {"HX-Request": "true"} if htmx else {}

        path = "/drafts/" if username else "/accounts/login/"

        def call(client=client, path=path, params=params, headers=headers) -> None:
            response = client.get(path, params, headers=headers)
            assert response.status_code == 200, response.status_code

        for _ in range(3):
            call()
        spent = {"sql": 0.0, "count": 0}
        statements: list[tuple[str, tuple]] = []

        def timed(execute, sql, params, many, context, spent=spent, statements=statements):
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent["sql"] += time.perf_counter() - began
                spent["count"] += 1
                statements.append((sql, params))

        walls = []
        with connection.execute_wrapper(timed):
            for _ in range(options.requests):
                began = time.perf_counter()
                call()
                walls.append(time.perf_counter() - began)
        profile = cProfile.Profile()
        profile.enable()
        call()
        profile.disable()
        stats = pstats.Stats(profile)
        wall = statistics.median(walls) * 1000
        sql = spent["sql"] / options.requests * 1000
        walls.sort()
        print(
            f"{name:<12} {spent['count'] / options.requests:>8.0f} {sql:>8.2f} "
            f"{sum(walls) / len(walls) * 1000 - sql:>8.2f} {wall:>8.2f} "
            f"{walls[int(0.95 * (len(walls) - 1))] * 1000:>8.2f} {stats.total_calls:>8}"
        )
        if options.explain and connection.vendor == "postgresql":
            per_request = statements[: len(statements) // options.requests]
            for statement, values in per_request:
                if "drafts_draft" not in statement or not statement.lstrip("( ").upper().startswith("SELECT"):
                    continue
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, values)
                    plan = "\n".join("      " + row[0] for row in cursor.fetchall())
                print("    ", statement[:300], "\n" + plan)
        if options.profile == name:
            stats.sort_stats("cumulative").print_stats(options.top)
            stats.sort_stats("tottime").print_stats(options.top)


if __name__ == "__main__":
    main()
