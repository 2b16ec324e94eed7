"""Web latency of the drafts pages with 10,000 drafts in one office. One command:

    .venv/bin/python bench/web/run.py [--drafts 10000] [--requests 200] [--workers 2]

Seeds a throwaway database (SQLite in a temp directory; the PostgreSQL database named by
DATABASE_URL if set: it must be a disposable one), starts gunicorn on it with production
settings, signs in, and times N requests of each page round-robin with one client:
the drafts list (first page, as the office admin who sees all drafts and as an agent),
an address search, the htmx fragment of that search, the editor, the rules re-read the editor
sends after each save, one autosave, and the sign-in page as the trivial baseline. Prints
p50/p95 and each page's ratio to the baseline.

As deployed, the portal has read its MLS's lists, layout and rules (`make run` reads the
sandbox's): so does the bench, unless `--no-mls-metadata` (the editor's fixed sections and
rules, as before the MLS was ever read).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gunicorn_server import deployed_env, free_port, start_server, stop_server  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-pass-2026"
STREETS = ["Elm", "Broadway", "University", "Main", "Oak", "8th", "25th", "45th", "Prairie Rose", "River"]
CITIES = [("Fargo", "ND", "58103"), ("West Fargo", "ND", "58078"), ("Moorhead", "MN", "56560")]


def environment(var_dir: Path) -> dict[str, str]:
    return deployed_env(var_dir)


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )


SEED = r"""
import random, sys
from datetime import timedelta
from decimal import Decimal
import django
django.setup()
from django.utils import timezone
from accounts.models import Company, Office, Role, User
from drafts.models import Draft, DraftEvent

count, password = int(sys.argv[1]), sys.argv[2]
streets, cities = {streets!r}, {cities!r}
rng = random.Random(2026)
company, _ = Company.objects.get_or_create(slug="bench", defaults={{"name": "Bench Realty"}})
office, _ = Office.objects.get_or_create(company=company, name="Bench office")
def person(username, role):
    user, created = User.objects.get_or_create(username=username, defaults={{
        "office": office, "role": role, "first_name": username.title(), "last_name": "Bench"}})
    if created:
        user.set_password(password); user.save()
    return user
admin = person("bench.admin", Role.OFFICE_ADMIN)
agents = [person(f"agent{{n}}", Role.AGENT) for n in range(10)]
if Draft.objects.filter(office=office).count() < count:
    now = timezone.now()
    statuses = ["draft"] * 6 + ["submitted", "changes_requested", "approved", "live"]
    batch = []
    for n in range(count):
        city, state, zip_code = cities[n % len(cities)]
        agent = agents[n % len(agents)]
        kind = "ABCDEF"[n % 6]
        batch.append(Draft(
            office=office, list_agent=agent, created_by=agent, updated_by=agent,
            status=statuses[n % len(statuses)], property_type=kind,
            list_price=Decimal(rng.randrange(50, 900) * 1000),
            street_number=str(100 + n % 4000), street_name=streets[n % len(streets)], street_suffix="St",
            city=city, state_or_province=state, postal_code=zip_code,
            latitude=46.80 + rng.random() * 0.12, longitude=-96.90 + rng.random() * 0.2,
            beds_total=rng.randrange(1, 6), baths_total=2, baths_full=1, baths_half=1,
            public_remarks="Well kept home close to parks and schools. " * rng.randrange(1, 6),
            updated_at=now - timedelta(minutes=n),
        ))
    Draft.objects.bulk_create(batch, batch_size=1000)
editor_draft = Draft.objects.filter(list_agent=agents[0]).order_by("pk").first()
if not editor_draft.events.exists():
    DraftEvent.objects.bulk_create([
        DraftEvent(draft=editor_draft, actor=agents[0], kind="field_changed", field="list_price",
                   old_value=str(100000 + n), new_value=str(100001 + n)) for n in range(200)
    ])
from django.db import connection
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        # Statistics and the visibility map, as autovacuum would have them by now (PostgreSQL 13+
        # vacuums after inserts too): without it, no index-only scan for the list's count.
        cursor.execute("VACUUM ANALYZE")
else:
    # As the hourly task (drafts/tasks.py) would have left them by now.
    from drafts.tasks import refresh_planner_statistics
    refresh_planner_statistics()
print(editor_draft.pk)
"""


def set_up_in_process(var_dir: Path, drafts: int) -> None:
    """Django set up in this process on a database seeded once in `var_dir` with `drafts` drafts
    and the sandbox's MLS metadata (the profile scripts time requests in process against it)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = environment(var_dir)
    if not (var_dir / f"seeded-{drafts}").exists():
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        manage(env, "collectstatic", "--noinput")
        seed(env, drafts)
        manage({**env, "SPARK_SANDBOX_ENABLED": "1"}, "refresh_mls_metadata", "--serve-sandbox")
        (var_dir / f"seeded-{drafts}").touch()
    os.environ.update(env)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"

    import django

    django.setup()


def seed(env: dict[str, str], drafts: int) -> int:
    script = SEED.format(streets=STREETS, cities=CITIES)
    result = subprocess.run(
        [PYTHON, "-c", script, str(drafts), PASSWORD], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"seeding failed:\n{result.stderr}")
    return int(result.stdout.strip().splitlines()[-1])


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(base + "/accounts/login/")
    response = session.post(
        base + "/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": base + "/accounts/login/"},
        allow_redirects=False,
    )
    assert response.status_code == 302, f"sign-in failed for {username}: {response.status_code}"
    return session


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--no-mls-metadata",
        dest="mls_metadata",
        action="store_false",
        help="do not read the sandbox's MLS metadata (fixed sections and rules)",
    )
    options = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="portal-bench-web-"))
    env = environment(var_dir)
    database = "PostgreSQL (DATABASE_URL)" if env.get("DATABASE_URL") else f"SQLite in {var_dir}"
    print(f"database: {database}")
    started = time.monotonic()
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    manage(env, "collectstatic", "--noinput")
    editor_pk = seed(env, options.drafts)
    if options.mls_metadata:
        # The sandbox, served by this command for the read, answers as the MLS (as `make run`).
        manage({**env, "SPARK_SANDBOX_ENABLED": "1"}, "refresh_mls_metadata", "--serve-sandbox")
    print(f"seeded {options.drafts} drafts in one office in {time.monotonic() - started:.1f} s")
    print(f"MLS metadata: {'read from the sandbox' if options.mls_metadata else 'none (fixed sections)'}")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, workers=options.workers)
    try:
        admin = signed_in(base, "bench.admin")
        agent = signed_in(base, "agent0")
        anonymous = requests.Session()
        csrf = agent.cookies["csrftoken"]
        htmx_headers = {"HX-Request": "true", "X-CSRFToken": csrf, "Referer": base + "/"}

        def autosave(value: str) -> float:
            """One autosave of the editor draft's city, as the page sends it; its time in ms."""
            page = agent.get(base + f"/drafts/{editor_pk}/").text
            version = page.split('name="version" value="', 1)[1].split('"', 1)[0]
            seen = page.split('id="id_city" name="value" value="', 1)[1].split('"', 1)[0]
            began = time.perf_counter()
            response = agent.post(
                base + f"/drafts/{editor_pk}/fields/city/",
                data={"value": value, "version": version, "seen_value": seen},
                headers=htmx_headers,
            )
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, response.status_code
            return elapsed

        pages = {
            "sign-in page (trivial)": lambda: anonymous.get(base + "/accounts/login/"),
            "list, office admin (10k)": lambda: admin.get(base + "/drafts/"),
            "list, agent (1k own)": lambda: agent.get(base + "/drafts/"),
            "list, search 'elm'": lambda: admin.get(base + "/drafts/", params={"q": "elm"}),
            "list, search htmx fragment": lambda: admin.get(
                base + "/drafts/", params={"q": "elm", "sort": "price"}, headers={"HX-Request": "true"}
            ),
            "list, page 200": lambda: admin.get(base + "/drafts/", params={"page": 200}),
            "editor": lambda: agent.get(base + f"/drafts/{editor_pk}/"),
            # What the editor asks after each save (hx-get on `draft-saved`).
            "rules re-read (htmx)": lambda: agent.get(
                base + f"/drafts/{editor_pk}/rules/", headers={"HX-Request": "true"}
            ),
            "history (200 events)": lambda: agent.get(base + f"/drafts/{editor_pk}/history/"),
        }
        timings: dict[str, list[float]] = {name: [] for name in pages}
        for call in pages.values():  # warm up every worker and cache
            for _ in range(options.workers * 2):
                response = call()
                response.raise_for_status()
        for _ in range(options.requests):
            for name, call in pages.items():
                began = time.perf_counter()
                response = call()
                elapsed = time.perf_counter() - began
                assert response.status_code == 200, (name, response.status_code)
                timings[name].append(elapsed * 1000)
        saves = [autosave(f"Fargo {number}") for number in range(min(options.requests, 100))]
    finally:
        stop_server(server)
        if not options.keep:
            shutil.rmtree(var_dir, ignore_errors=True)

    baseline = statistics.median(timings["sign-in page (trivial)"])
    print(f"\n{options.requests} requests per page, one client, {options.workers} gunicorn workers, DEBUG=0")
    print(f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50/trivial':>12}")
    for name, values in timings.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{name:<30} {p50:8.1f} {p95:8.1f} {max(values):8.1f} {p50 / baseline:11.1f}x")
    p50 = statistics.median(saves)
    print(
        f"{'autosave POST':<30} {p50:8.1f} {percentile(saves, 0.95):8.1f} {max(saves):8.1f} "
        f"{p50 / baseline:11.1f}x"
    )


if __name__ == "__main__":
    main()
