"""The CPU and the queries of one request of the load bench's agents, in process, without the noise
of a full `make bench-load`:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_load \
        .venv/bin/python bench/load/profile_requests.py [--saves 300] [--profile autosave]

Seeds (once) an office like bench/load's on the database of DATABASE_URL (a disposable one:
PostgreSQL is what the load bench runs on), signs an agent in and sends, through Django's test
client with production settings (DEBUG off, CSRF enforced, htmx headers as the editor sends them),
the requests the agents make: the autosave of public_remarks, the rules the editor re-reads after
it, the editor page, the drafts list, and a 12 MP photo upload (its isolated check included).
For each: the queries per request and the process CPU per request (the doorbell's publishing
thread included: it runs in the web process too) and Python function calls per request, a
count that the machine's load does not move. `--profile` prints cProfile's top functions
(`--only NAME` for one request); for a CPU-only profile, run it under `py-spy record`.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "listings_portal.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-" + "k" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from decimal import Decimal  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import Company, Office, Role, User  # noqa: E402
from drafts.models import Draft, DraftStatus  # noqa: E402
from media_manager.isolation import fork_server  # noqa: E402
from mls import enqueue  # noqa: E402
from mls.models import MlsMetadata  # noqa: E402


def seed(background: int) -> tuple[User, Draft]:
    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # DEBUG off: pages need the manifest
    if not MlsMetadata.objects.exists():
        # The MLS's layout and lists, as bench/load reads them before it starts (here from the
        # sandbox served for the read; the portal itself runs with the sandbox off).
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "refresh_mls_metadata", "--serve-sandbox"],
            env={**os.environ, "SPARK_SANDBOX_ENABLED": "1"},
            cwd=ROOT,
            check=True,
        )
    company, _ = Company.objects.get_or_create(slug="bench", defaults={"name": "Bench Realty"})
    office, _ = Office.objects.get_or_create(company=company, name="Bench office")
    agent, _created = User.objects.get_or_create(
        username="agent000",
        defaults={"office": office, "role": Role.AGENT, "first_name": "Agent", "last_name": "Bench"},
    )
    draft = Draft.objects.filter(list_agent=agent).order_by("pk").first()
    if draft is None:
        draft = Draft.start(
            by=agent, property_type="A", property_sub_type="SF", list_price=Decimal(200000),
            street_number="101", street_name="Elm", street_suffix="St", city="Fargo",
            state_or_province="ND", postal_code="58103", county_or_parish="Cass", latitude=46.8,
            longitude=-96.8, year_built=1995, building_area_total=1850, beds_total=3, baths_total=2,
            baths_full=1, baths_three_quarter=1, baths_half=0, subdivision_name="Island Park",
            public_remarks="Well kept home close to parks and schools.",
            standard_fields_extra={"ListingContractDate": "2026-11-30", "LotSizeAcres": 0.17},
        )  # fmt: skip
        # The rest of the office (listed, never edited here), as in bench/load.
        rest = {"office": office, "list_agent": agent, "created_by": agent, "updated_by": agent,
                "property_type": "A", "status": DraftStatus.LIVE, "street_name": "Oak",
                "street_suffix": "Ave", "city": "Moorhead", "state_or_province": "MN",
                "postal_code": "56560"}  # fmt: skip
        Draft.objects.bulk_create(
            [Draft(**rest, list_price=Decimal(100000 + k), street_number=str(k)) for k in range(background)],
            batch_size=2000,
        )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
    return agent, draft


def backend_cpu_seconds() -> float:
    """CPU of this connection's PostgreSQL server process (0 on SQLite)."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process's CPU and its isolation fork server's (with the jobs it has reaped): the
    upload's check runs there."""
    total = time.process_time()
    if (server := fork_server.pid) is not None:
        try:
            fields = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return total
        total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def make_photo() -> str:
    """A 12 MP camera-like JPEG, as bench/load uploads."""
    from bench.load.run import make_photos

    return make_photos(Path(tempfile.mkdtemp(prefix="profile-requests-")), count=1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--uploads", type=int, default=40, help="12 MP photos (0: none)")
    parser.add_argument("--background-drafts", type=int, default=5000)
    parser.add_argument("--only", default="", help="autosave, editor or list: time only that one")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile's top functions (wall time, CPU-bound here)"
    )
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("-v", action="store_true", help="print the queries of the profiled request")
    options = parser.parse_args()

    agent, draft = seed(options.background_drafts)
    csrf = get_random_string(32, string.ascii_letters + string.digits)
    client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
    client.force_login(agent)
    client.cookies["csrftoken"] = csrf
    htmx = {"HTTP_X_CSRFTOKEN": csrf, "HTTP_REFERER": "http://127.0.0.1/", "HTTP_HX_REQUEST": "true"}
    state = {"version": Draft.objects.get(pk=draft.pk).version, "seen": "", "edits": 0}
    doorbell = enqueue._active[-1]

    def autosave() -> None:
        state["edits"] += 1
        value = f"Well kept home close to parks and schools. Edit {state['edits']} by the agent."
        answer = client.post(  # form-encoded, as the browser's htmx and locust send it
            f"/drafts/{draft.pk}/fields/public_remarks/",
            urlencode({"value": value, "version": state["version"], "seen_value": state["seen"]}),
            content_type="application/x-www-form-urlencoded",
            **htmx,
        )
        assert answer.status_code == 200, (answer.status_code, answer.content[:300])
        text = answer.content.decode()
        state["version"] = int(text.split('name="version" value="', 1)[1].split('"', 1)[0])
        state["seen"] = value

    def editor() -> None:
        answer = client.get(f"/drafts/{draft.pk}/")
        assert answer.status_code == 200, answer.status_code

    def drafts_list() -> None:
        answer = client.get("/drafts/")
        assert answer.status_code == 200, answer.status_code

    def rules() -> None:  # what the editor re-reads after each save that changed the draft
        answer = client.get(f"/drafts/{draft.pk}/rules/", **htmx)
        assert answer.status_code == 200, answer.status_code

    photo = make_photo()
    uploads = {"draft": draft, "sent": 0}

    def upload() -> None:  # a 12 MP photo as static/js/media.js sends it
        if uploads["sent"] and uploads["sent"] % 50 == 0:  # a fresh draft before the limit
            uploads["draft"] = Draft.start(by=agent, property_type="A", street_name="Elm")
        uploads["sent"] += 1
        with open(photo, "rb") as body:
            answer = client.post(
                f"/drafts/{uploads['draft'].pk}/media/photos/upload/",
                {"file": body, "client_key": str(uuid.uuid4())},
                HTTP_ACCEPT="application/json",
                HTTP_X_CSRFTOKEN=csrf,
                HTTP_REFERER="http://127.0.0.1/",
            )
        assert answer.status_code == 201, (answer.status_code, answer.content[:300])

    requests = {"autosave": (autosave, options.saves), "rules": (rules, options.saves),
                "editor": (editor, options.pages), "list": (drafts_list, options.pages),
                "upload": (upload, options.uploads)}  # fmt: skip
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; load {os.getloadavg()}")
    print(
        f"{'request':<10} {'n':>5} {'queries':>8} {'calls/req':>10} {'CPU ms/req':>11} {'PG ms/req':>10} "
        f"{'wall p50 ms':>12} "
        f"{'wall p95':>9}"
    )
    for name, (call, count) in requests.items():
        if (options.only and name != options.only) or not count:
            continue
        for _ in range(5):  # warm: templates compiled, connections open, the doorbell thread up
            call()
        doorbell.flush()
        # Not CaptureQueriesContext: request_started resets the connection's query log.
        queries: list[str] = []

        def counted(run, sql, *rest, seen=queries):
            seen.append(sql)
            return run(sql, *rest)

        with connection.execute_wrapper(counted):
            call()
        doorbell.flush()
        walls = []
        cpu0, pg0 = own_cpu_seconds(), backend_cpu_seconds()
        for _ in range(count):
            began = time.perf_counter()
            call()
            walls.append((time.perf_counter() - began) * 1000)
        doorbell.flush()
        cpu = (own_cpu_seconds() - cpu0) / count * 1000
        pg_cpu = (backend_cpu_seconds() - pg0) / count * 1000
        # Python function calls per request: a count of the work done that, unlike CPU time, the
        # other processes on a shared machine do not move.
        profile = cProfile.Profile()
        sampled = min(count, 50)
        for _ in range(sampled):
            profile.enable()
            call()
            profile.disable()
        doorbell.flush()
        stats = pstats.Stats(profile)
        walls.sort()
        print(
            f"{name:<10} {count:>5} {len(queries):>8} {stats.total_calls / sampled:>10.0f} {cpu:>11.2f} "
            f"{pg_cpu:>10.2f} "
            f"{statistics.median(walls):>12.2f} {walls[int(0.95 * (len(walls) - 1))]:>9.2f}"
        )
        if options.v:
            for sql in queries:
                print("   ", sql[:230])
        if options.profile:
            stats.sort_stats("cumulative").print_stats(options.top)
            stats.sort_stats("tottime").print_stats(options.top)
    print(f"load {os.getloadavg()}; doorbell published {doorbell.published}, failed {doorbell.failed}")


if __name__ == "__main__":
    main()
