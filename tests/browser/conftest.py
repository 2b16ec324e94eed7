"""Browser fixtures: headless Debian Chromium through Python Playwright against `live_server`.

Reuse them from any browser test:

    @pytest.mark.browser
    def test_something(browser_page, live_server, agent):
        login(browser_page, agent)
        ...
        assert_no_page_problems(browser_page)

`browser_page` records console errors, uncaught page errors and CSP violations
(`page_problems(page)`); `login` signs in through the real form.
"""

import glob
import os
import shutil
import tempfile
from dataclasses import dataclass, field

import pytest

# Playwright's sync API runs an event loop in this thread; Django would refuse its ORM
# calls from the test thread without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The factories' password (tests/factories.py).
PASSWORD = "correct horse battery"

# Runs in every page before its own scripts: collects CSP violations.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def pytest_collection_modifyitems(config, items):
    """Browser tests on SQLite need a database file, not the shared in-memory one.

    With in-memory SQLite, Django hands the test thread's one connection to every
    live-server thread; the page's parallel requests (autosaves, rule refreshes) then
    trip over each other ("database table is locked"). A file gives each thread its own
    connection, as in production (WAL and a busy timeout come from settings).
    """
    if not any(item.get_closest_marker("browser") for item in items):
        return
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        database.setdefault("TEST", {})["NAME"] = os.path.join(
            tempfile.gettempdir(), f"portal-browser-tests-{os.getpid()}.sqlite3"
        )
        config._browser_test_database = database["TEST"]["NAME"]


def pytest_unconfigure(config):
    # Django removes the test database file, not the WAL files next to it.
    name = getattr(config, "_browser_test_database", None)
    for leftover in glob.glob(f"{name}*-wal") + glob.glob(f"{name}*-shm") if name else ():
        os.remove(leftover)


@dataclass
class PageProblems:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, built while MEDIA_URL is a string.

    Django's live server thread serves MEDIA_URL from disk and cannot parse our
    MEDIA_URL = None (media only goes through access-checked views). The prefix given
    here matches no view, so nothing is served from disk either way.
    """
    from django.test import override_settings
    from pytest_django import live_server_helper

    address = (
        request.config.getvalue("liveserver")
        or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    with override_settings(MEDIA_URL="/__no-public-media__/"):
        server = live_server_helper.LiveServer(address)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(browser, live_server):
    """A fresh browser context and page whose relative URLs go to `live_server`."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP_LISTENER)
    context.set_default_timeout(10_000)
    # base.html names no icon, so Chromium asks for /favicon.ico and logs its 404 as an error.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    page = context.new_page()
    problems = PageProblems()
    page.on(
        "console", lambda message: message.type == "error" and problems.console_errors.append(message.text)
    )
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    page.problems = problems
    yield page
    context.close()


def login(page, user, password: str = PASSWORD, next_url: str = "") -> None:
    """Sign in through the login form and wait to land on the next page."""
    page.goto("/accounts/login/" + (f"?next={next_url}" if next_url else ""))
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/accounts/login/" not in page.url, "sign-in failed"


def csp_violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def page_problems(page, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """Console errors, page errors and CSP violations, minus messages containing `ignore`."""
    found = [*page.problems.console_errors, *page.problems.page_errors, *csp_violations(page)]
    return [problem for problem in found if not any(part in problem for part in ignore)]


def assert_no_page_problems(page, *, ignore: tuple[str, ...] = ()) -> None:
    problems = page_problems(page, ignore=ignore)
    assert problems == [], problems
