"""The drafts list in a browser: its row and sync-badge links (joined around a URL reversed once)
lead where they should, at phone and desktop widths, with no overflow and no console or CSP
problems."""

import os

import pytest

from drafts.models import DraftStatus
from tests.factories import DraftFactory, OfficeAdminFactory

from .conftest import assert_no_page_problems, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SHOTS_DIR", "")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_list_rows_link_to_the_editor_review_and_sync_log(browser_page, width, height):
    admin = OfficeAdminFactory()
    drafts = [
        DraftFactory(office=admin.office, street_name=f"Elm {n}", status=DraftStatus.SUBMITTED)
        for n in range(3)
    ]
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, admin)
    page.goto("/drafts/")
    for draft in drafts:
        row = page.locator(f"#draft-row-{draft.pk}")
        assert row.locator("a.row-link").get_attribute("href") == f"/drafts/{draft.pk}/"
        assert row.locator("a.review-link").get_attribute("href") == f"/drafts/{draft.pk}/review/"
        assert row.locator(f"#sync-badge-{draft.pk} a").get_attribute("href") == f"/sync/drafts/{draft.pk}/"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/list-{width}.png", full_page=True)
    page.locator(f"#draft-row-{drafts[0].pk} a.row-link").click()
    page.wait_for_url(f"**/drafts/{drafts[0].pk}/")
    assert_no_page_problems(page)
