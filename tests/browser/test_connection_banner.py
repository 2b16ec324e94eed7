"""The pages say when the portal cannot be reached, and stop saying it once it answers again."""

import pytest

from drafts.models import Draft, DraftStatus
from tests.factories import DraftFactory

from .conftest import csp_violations, login

pytestmark = pytest.mark.browser

BANNER = "#connection-banner"


def banner_shown(page) -> bool:
    return page.locator(BANNER).is_visible()


@pytest.mark.parametrize("failure", ["refused", "server-error"])
def test_the_banner_shows_while_the_server_is_unreachable_and_goes_when_it_answers(
    browser_page, agent, failure
):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    assert not banner_shown(page)

    def fail(route):
        if failure == "refused":
            route.abort("connectionrefused")
        else:
            route.fulfill(status=503, body="Service Unavailable")

    page.route(f"**/drafts/{draft.pk}/**", fail)
    page.locator("#id_city").fill("Moorhead")
    page.wait_for_selector(BANNER, state="visible")
    text = page.locator(BANNER).inner_text()
    assert "Can't reach the portal" in text and "kept on this device" in text

    page.unroute(f"**/drafts/{draft.pk}/**")
    # The autosave retries on its own (back-off from 1 s); its answer hides the banner.
    page.wait_for_selector(BANNER, state="hidden", timeout=15_000)
    page.wait_for_function(
        """() => document.querySelector('#save-city input[name=seen_value]').value === 'Moorhead'"""
    )
    assert csp_violations(page) == []


def test_a_failed_poll_shows_the_banner_and_the_next_answer_hides_it(browser_page, agent):
    """Nobody types: only the draft frame's poll (every 3 s while publishing) talks to the server."""
    draft = DraftFactory(list_agent=agent, status=DraftStatus.PROMOTING)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/history/")
    assert not banner_shown(page)
    frame = f"**/drafts/{draft.pk}/frame/**"

    page.route(frame, lambda route: route.abort("connectionrefused"))
    page.wait_for_selector(BANNER, state="visible", timeout=10_000)
    page.unroute(frame)
    page.route(frame, lambda route: route.fulfill(status=502, body="Bad Gateway"))
    page.wait_for_timeout(3_500)  # one more poll, answered with a 5xx: still not reachable
    assert banner_shown(page)
    page.unroute(frame)

    page.wait_for_selector(BANNER, state="hidden", timeout=10_000)
    assert csp_violations(page) == []


def test_what_was_typed_while_unreachable_is_kept_across_a_reload(browser_page, agent):
    draft = DraftFactory(list_agent=agent, city="Fargo")
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    saves = f"**/drafts/{draft.pk}/fields/**"

    page.route(saves, lambda route: route.abort("connectionrefused"))
    page.locator("#id_city").fill("Moorhead")
    page.wait_for_selector(BANNER, state="visible")
    page.reload()  # the page itself loads; its saves still fail
    assert page.locator("#id_city").input_value() == "Moorhead"
    assert Draft.objects.get(pk=draft.pk).city == "Fargo"

    page.unroute(saves)
    page.wait_for_function(
        """() => document.querySelector('#save-city input[name=seen_value]').value === 'Moorhead'""",
        timeout=15_000,
    )
    page.wait_for_selector(BANNER, state="hidden", timeout=15_000)
    assert Draft.objects.get(pk=draft.pk).city == "Moorhead"
    assert csp_violations(page) == []
