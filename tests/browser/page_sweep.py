"""Every page a person reaches, built once and visited at three widths (issue 18).

`build_pages()` makes an office's worth of data with the factories and the model verbs, and
the sandbox as the MLS (the sync engine and the publishing job run in this process against
it, as tests/mls does): a new and a filled draft with photos, documents, rooms and history,
a draft under review with a reviewer's comment, a live listing, one draft the MLS refused and
one whose sync gave up. `sweep()` then opens each page in one browser at each width and
measures it: horizontal overflow, console errors and CSP violations, serious and critical
axe-core violations; with `screenshots=` it also writes each as `<page>-<width>.png`.

Used by tests/browser/test_every_page.py and by `make screenshots` (bin/screenshots).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.test import override_settings
from django.utils import timezone

from drafts.models import Draft, DraftStatus, ListingPart
from media_manager.models import Photo
from media_manager.tasks import process_photo
from mls import metadata, publishing, push
from mls.models import Promotion, PromotionState
from tests.drafts.conftest import add_required_media
from tests.factories import AgentFactory, DocumentFactory, DraftFactory, OfficeAdminFactory, PhotoFactory
from tests.mls.sync_support import drain
from tests.mls.worker_harness import jpeg_bytes, pdf_bytes
from tests.sandbox_support import SANDBOX_CONTROL_TOKEN, SANDBOX_TOKEN, SandboxControl

from .axe import AXE_SOURCE, AxeViolation, axe_violations
from .conftest import CHROMIUM, CHROMIUM_ARGS, CSP_LISTENER, PASSWORD, PageProblems, csp_violations

WIDTHS = {390: 844, 768: 1024, 1366: 900}
REMARKS = (
    "Charming two-story home on a tree-lined street, minutes from downtown and the river trails. "
    "Updated kitchen with quartz counters, refinished hardwood floors and a fenced back yard."
)
# A 404 or 403 page is answered with that status on purpose; Chromium logs every such answer
# as "Failed to load resource", which is not a problem of the page.
EXPECTED_STATUS_NOISE = "the server responded with a status of"


@dataclass(frozen=True)
class PageCase:
    name: str
    user: str  # "" (signed out), "agent" or "admin"
    path: str  # with the ids of build_pages() drafts: "/drafts/{filled}/"
    status: int = 200


PAGES = [
    PageCase("sign-in", "", "/accounts/login/"),
    PageCase("drafts-agent", "agent", "/drafts/"),
    PageCase("drafts-admin", "admin", "/drafts/"),
    PageCase("editor-new", "agent", "/drafts/{new}/"),
    PageCase("editor-filled", "agent", "/drafts/{filled}/"),
    PageCase("media", "agent", "/drafts/{filled}/media/"),
    PageCase("history", "agent", "/drafts/{filled}/history/"),
    PageCase("sync-log", "agent", "/sync/drafts/{given_up}/"),
    PageCase("inbox", "agent", "/accounts/inbox/"),
    PageCase("review-queue", "admin", "/drafts/review/"),
    PageCase("review", "admin", "/drafts/{under_review}/review/"),
    PageCase("live-listing", "agent", "/sync/drafts/{live}/live/"),
    PageCase("needs-attention", "admin", "/sync/attention/"),
    PageCase("mls-lists", "admin", "/sync/mls-lists/"),
    PageCase("not-found", "agent", "/drafts/999999/", status=404),
    PageCase("forbidden", "agent", "/drafts/review/", status=403),
]


@dataclass
class Measurement:
    page: str
    width: int
    status: int | None = None
    overflow: int = 0  # px by which the document is wider than the window
    problems: list[str] = field(default_factory=list)
    axe: list[AxeViolation] = field(default_factory=list)
    error: str = ""  # the visit itself failed (timeout, crash)

    def summary(self) -> str:
        parts = [f"{self.page} at {self.width}px: HTTP {self.status}"]
        if self.error:
            parts.append(f"visit failed: {self.error}")
        if self.overflow > 0:
            parts.append(f"{self.overflow}px horizontal overflow")
        parts += [f"console/CSP: {problem}" for problem in self.problems]
        parts += [f"axe {violation}" for violation in self.axe]
        return "\n  ".join(parts)


# --- The data ---------------------------------------------------------------------------------


@contextmanager
def sandbox_as_the_mls(base_url: str, var_dir: Path) -> Iterator[SandboxControl]:
    """The settings of tests/mls (sync_support.sync_env) for a whole module: the engine talks to
    the sandbox in `base_url`, backs off briefly, queues nothing (it is driven here), and media
    goes to `var_dir`."""
    from listings_portal.celery import app

    media = var_dir / "media"
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        STORAGES={
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": media},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        MEDIA_ROOT=media,
        VAR_DIR=var_dir,
        SPARK_SANDBOX_CONTROL_ENABLED=True,
        SPARK_SANDBOX_CONTROL_TOKEN=SANDBOX_CONTROL_TOKEN,
        SPARK_SANDBOX_FAULTS="",
        SPARK_API_URL=f"{base_url}/sandbox",
        SPARK_ACCESS_TOKEN=SANDBOX_TOKEN,
        SPARK_READ_TIMEOUT=5.0,
        SPARK_CONNECT_TIMEOUT=2.0,
        SPARK_RATE_LIMIT_PER_SECOND=1000.0,
        SYNC_REDIS_URL="",
        SYNC_BACKOFF_BASE_SECONDS=0.05,
        SYNC_BACKOFF_CAP_SECONDS=0.3,
        SYNC_AMBIGUOUS_SETTLE_SECONDS=3.0,
        SYNC_LEASE_SECONDS=30.0,
        SYNC_ORDER_SETTLE_SECONDS=0.3,
        SYNC_ENQUEUE_ENABLED=False,
    ):
        # Photo processing messages (rung after each upload) go nowhere: photos are processed here.
        old_broker = app.conf.broker_url
        app.conf.broker_url, app._pool = "memory://", None
        control = SandboxControl(f"{base_url}/sandbox")
        control.reset()
        try:
            yield control
        finally:
            control.clear_faults()
            control.http.close()
            app.conf.broker_url, app._pool = old_broker, None


def _photos(draft: Draft, names: list[str], *, seed: int) -> None:
    """Photos uploaded and processed by the real pipeline (thumbnails and all)."""
    for index, name in enumerate(names):
        photo = PhotoFactory(
            draft=draft, original_name=f"{name}.jpg", data=jpeg_bytes(seed + index, (1200, 900))
        )
        assert process_photo(photo.pk) == "ready", name
        photo.refresh_from_db()
        photo.update_text(name=name, caption=f"{name}, seen from the door", by=draft.list_agent)


def _documents(draft: Draft, names: list[tuple[str, str]]) -> None:
    for name, privacy in names:
        DocumentFactory(draft=draft, name=name, privacy=privacy, data=pdf_bytes(name))


def _edit(draft: Draft, by, **values: Any) -> Draft:
    """Each value saved as the editor saves it (a history entry each)."""
    for name, value in values.items():
        draft.refresh_from_db()
        draft.save_field(name, value, by=by, seen_version=draft.version, seen_value=getattr(draft, name))
    draft.refresh_from_db()
    return draft


def _filled(agent, **values: Any) -> Draft:
    defaults: dict[str, Any] = {
        "street_number": "611",
        "street_name": "8th",
        "street_suffix": "St",
        "street_dir_suffix": "S",
        "city": "Fargo",
        "state_or_province": "ND",
        "postal_code": "58103",
        "county_or_parish": "Cass",
        "property_type": "A",
        "property_sub_type": "SF",
        "list_price": Decimal("289900"),
        "year_built": 1984,
        "building_area_total": 1850,
        "beds_total": 3,
        "baths_total": 2,
        "baths_full": 1,
        "baths_three_quarter": 1,
        "public_remarks": REMARKS,
        "subdivision_name": "Island Park",
    }
    return DraftFactory(list_agent=agent, **{**defaults, **values})


def _assert_synced(outcomes: list[push.Outcome]) -> None:
    """Only the drafts built to show a refusal or a give-up may show one: a harness fault (a
    file left out of storage, say) would otherwise pass as a page showing "Needs attention"."""
    assert outcomes and outcomes[-1] in (push.Outcome.SYNCED, push.Outcome.NOTHING), outcomes


def _publish(draft: Draft, *, by, timeout: float = 60.0) -> None:
    """Approved, then the publishing job run here until the listing is live (as a worker would)."""
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    publishing.start(draft, by=by)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publishing.run(draft.pk)
        job = Promotion.objects.get(pk=draft.pk)
        if job.state == PromotionState.DONE:
            draft.refresh_from_db()
            assert draft.status == DraftStatus.LIVE
            return
        assert job.state != PromotionState.FAILED, job.log
        if job.next_attempt_at is not None:
            time.sleep(min(max((job.next_attempt_at - timezone.now()).total_seconds(), 0.0), 2.0) + 0.01)
    raise AssertionError(f"draft {draft.pk} was not published within {timeout}s")


@dataclass
class PageData:
    agent: Any
    admin: Any
    ids: dict[str, int]  # the drafts PAGES name in their paths


def build_pages(control: SandboxControl) -> PageData:
    """The office, its people and drafts in every state a page shows; the pages to visit."""
    assert not metadata.refresh().failed  # the editor laid out by the MLS, as `make run` does
    admin = OfficeAdminFactory(username="fran.admin", first_name="Fran", last_name="Halvorson")
    agent = AgentFactory(username="anna.agent", first_name="Anna", last_name="Lindqvist", office=admin.office)
    co_agent = AgentFactory(username="ben.agent", first_name="Ben", last_name="Okafor", office=admin.office)

    new = Draft.start(by=agent, property_type="A")

    filled = _filled(agent)
    _edit(filled, agent, co_list_agent=co_agent.pk)
    _edit(filled, agent, list_price=Decimal("284900"), public_remarks=REMARKS + " Move-in ready.")
    _photos(filled, ["Front", "Kitchen", "Living room", "Back yard"], seed=10)
    _documents(filled, [("Floor plan", "Public"), ("Seller's Disclosure", "Private")])
    for name, level, length, width in (
        ("Kitchen", "Main", "14", "12"),
        ("Primary Bedroom", "Upper", "16", "13"),
    ):
        ListingPart.objects.add(
            filled,
            "room",
            by=agent,
            fields={"RoomName": name, "LevelOrFloor": level, "Length": length, "Width": width},
        )
    _assert_synced(drain(filled))

    under_review = _filled(agent, street_number="1401", street_name="25th", property_sub_type="TH")
    _photos(under_review, ["Street view", "Garage"], seed=30)
    _documents(under_review, [("Association rules", "Public")])
    add_required_media(under_review, stored=True)  # the documents its type asks for: nothing is missing
    _assert_synced(drain(under_review))
    under_review.refresh_from_db()
    under_review.submit(by=agent)
    under_review.request_changes(by=admin, reason="The price is above the comparables: please check it.")
    under_review.add_review_comment(
        by=admin, text="The seller agreed to 209,000 on Monday.", target_kind="field", target_key="list_price"
    )
    _edit(under_review, agent, list_price=Decimal("209000"))
    under_review.refresh_from_db()
    under_review.submit(by=agent)

    live = _filled(agent, street_number="3312", street_name="14th", city="Moorhead", state_or_province="MN")
    _photos(live, ["Front", "Family room", "Kitchen"], seed=50)
    _documents(live, [("Floor plan", "Public")])
    drain(live)
    _publish(live, by=admin)

    # The MLS refuses a sub-type it does not list: the field is named on the draft.
    refused = _filled(
        agent, street_number="1110", street_name="4th", street_suffix="Ave", property_sub_type="MOBILE"
    )
    drain(refused)
    # The MLS answers 503 to every change until the engine gives up: a person has to retry.
    given_up = _filled(agent, street_number="4501", street_name="45th", property_sub_type="SF")
    drain(given_up)
    control.faults({"kind": "server_error", "status": 503, "routes": ["incomplete.update"]})
    _edit(given_up, agent, list_price=Decimal("1250000"))
    drain(given_up, timeout=60)
    control.clear_faults()
    drain(new)

    assert Photo.objects.filter(draft=filled).count() == 4
    ids = {
        "new": new.pk,
        "filled": filled.pk,
        "under_review": under_review.pk,
        "live": live.pk,
        "given_up": given_up.pk,
    }
    return PageData(agent=agent, admin=admin, ids=ids)


# --- The visits -------------------------------------------------------------------------------


def _sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/accounts/login/" not in page.url, f"{username} could not sign in"


def measure(page, case: PageCase, width: int, ids: dict[str, int]) -> Measurement:
    found = Measurement(case.name, width)
    page.problems.console_errors.clear()
    page.problems.page_errors.clear()
    try:
        # The pages render on the server and load no region by themselves: "load" (the default
        # wait, after the deferred scripts ran and the images arrived) is the page as seen.
        response = page.goto(case.path.format(**ids))
        found.status = response.status if response else None
        found.overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        found.axe = axe_violations(page)
    except Exception as error:  # recorded against this case; the sweep goes on
        found.error = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    problems = [*page.problems.console_errors, *page.problems.page_errors, *csp_violations(page)]
    if case.status != 200:
        problems = [problem for problem in problems if EXPECTED_STATUS_NOISE not in problem]
    found.problems = problems
    return found


def sweep(
    browser, base_url: str, data: PageData, *, screenshots: Path | None = None
) -> dict[tuple[str, int], Measurement]:
    """Each page at each width, one browser context per person (signed in once)."""
    results: dict[tuple[str, int], Measurement] = {}
    users = {"": None, "agent": data.agent, "admin": data.admin}
    for key, user in users.items():
        cases = [case for case in PAGES if case.user == key]
        context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
        context.add_init_script(CSP_LISTENER)
        context.add_init_script(path=str(AXE_SOURCE))
        context.set_default_timeout(10_000)
        context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
        page = context.new_page()
        page.problems = PageProblems()
        page.on(
            "console",
            lambda message, page=page: (
                message.type == "error" and page.problems.console_errors.append(message.text)
            ),
        )
        page.on("pageerror", lambda error, page=page: page.problems.page_errors.append(str(error)))
        if user is not None:
            _sign_in(page, user.username)
        for case in cases:
            for width, height in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                found = measure(page, case, width, data.ids)
                results[(case.name, width)] = found
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / f"{case.name}-{width}.png"), full_page=True)
        context.close()
    return results


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium, as tests/browser/conftest.py starts it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
