"""The pages say when the portal cannot be reached, and stop saying it once it answers again."""

import pytest

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
