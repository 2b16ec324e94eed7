"""Where the editor's, the autosave's and the rules re-read's milliseconds go, in process:

    .venv/bin/python bench/web/profile_editor.py [--drafts 10000] [--var-dir DIR] [--profile editor]

Seeds the office of bench/web/run.py once (as bench/web/profile_list.py does, SQLite under
--var-dir kept between runs, or the disposable PostgreSQL database of DATABASE_URL), then sends
the editor page, an autosave of the city (as the page sends it) and the rules re-read the page
sends after a save through Django's test client with production settings, and prints per
request: the queries, the time in them, the rest, and the Python function calls (a count the
machine's load does not move). `--profile NAME` prints cProfile's top functions of that request;
`--sql` prints each request's statements.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.web.run import set_up_in_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--var-dir", default="/tmp/portal-profile-editor")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--profile", default="", help="one of: editor, autosave, rules, sign-in")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="store_true", help="print each request's statements")
    options = parser.parse_args()

    set_up_in_process(Path(options.var_dir), options.drafts)
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from drafts.models import Draft

    agent = User.objects.get(username="agent0")
    pk = Draft.objects.filter(list_agent=agent).order_by("pk").values_list("pk", flat=True).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(agent)
    anonymous = Client(HTTP_HOST="127.0.0.1")
    htmx = {"HX-Request": "true"}
    numbers = itertools.count()

    def editor() -> None:
        response = client.get(f"/drafts/{pk}/")
        assert response.status_code == 200, response.status_code

    def autosave() -> None:
        draft = Draft.objects.get(pk=pk)
        data = {"value": f"Fargo {next(numbers)}", "version": draft.version, "seen_value": draft.city}
        response = client.post(f"/drafts/{pk}/fields/city/", data, headers=htmx)
        assert response.status_code == 200, response.status_code

    def rules() -> None:
        response = client.get(f"/drafts/{pk}/rules/", headers=htmx)
        assert response.status_code == 200, response.status_code

    def sign_in() -> None:
        response = anonymous.get("/accounts/login/")
        assert response.status_code == 200, response.status_code

    requests = {"sign-in": sign_in, "editor": editor, "autosave": autosave, "rules": rules}
    print(f"database: {connection.vendor}; {options.drafts} drafts; load {os.getloadavg()}")
    print(
        f"{'request':<10} {'queries':>8} {'SQL ms':>8} {'rest ms':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'calls':>8} {'CPU p50':>8} {'/sign-in':>8}"
    )
    sign_in_cpu = 0.0
    for name, call in requests.items():
        for _ in range(3):
            call()
        spent = {"sql": 0.0, "count": 0}
        statements: list[str] = []

        def timed(execute, sql, params, many, context, spent=spent, statements=statements):
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent["sql"] += time.perf_counter() - began
                spent["count"] += 1
                statements.append(sql)

        walls, cpus = [], []
        with connection.execute_wrapper(timed):
            for _ in range(options.requests):
                began, began_cpu = time.perf_counter(), time.process_time()
                call()
                walls.append(time.perf_counter() - began)
                cpus.append(time.process_time() - began_cpu)
        # The autosave's own read of the version (outside the request) is not the request's.
        extra = 1 if name == "autosave" else 0
        per_request = spent["count"] / options.requests - extra
        profile = cProfile.Profile()
        profile.enable()
        call()
        profile.disable()
        stats = pstats.Stats(profile)
        wall = statistics.median(walls) * 1000
        sql = spent["sql"] / options.requests * 1000
        walls.sort()
        # CPU time of this process (the client's share included, as for the sign-in page): the
        # machine's other load moves it less than the wall clock.
        cpu = statistics.median(cpus) * 1000
        sign_in_cpu = sign_in_cpu or cpu
        print(
            f"{name:<10} {per_request:>8.0f} {sql:>8.2f} "
            f"{sum(walls) / len(walls) * 1000 - sql:>8.2f} {wall:>8.2f} "
            f"{walls[int(0.95 * (len(walls) - 1))] * 1000:>8.2f} {stats.total_calls:>8} "
            f"{cpu:>8.2f} {cpu / sign_in_cpu:>7.1f}x"
        )
        if options.sql:
            for statement in statements[: len(statements) // options.requests]:
                print("     ", statement[:220])
        if options.profile == name:
            stats.sort_stats("cumulative").print_stats(options.top)
            stats.sort_stats("tottime").print_stats(options.top)


if __name__ == "__main__":
    main()
