"""The draft frame's header follows every action without a reload (issue 18): the status after
request changes, an edit and a resubmit; the open-comment count as comments are added; the end
of publishing. No CSP violation on the way (each added comment used to raise one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drafts.models import Draft, DraftStatus
from tests.drafts.conftest import add_required_media
from tests.drafts.test_transitions import COMPLETE
from tests.factories import AgentFactory, DraftFactory, OfficeAdminFactory

from .conftest import assert_no_page_problems, login
from .test_editor import all_saved, field_confirmed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

BADGE = "#draft-status-badge"
SHOTS = Path("/tmp/shots-shell")


def badge(page) -> str:
    return page.locator(BADGE).inner_text()


def wait_for_badge(page, text: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent.trim() === text",
        arg=[BADGE, text],
        timeout=timeout,
    )


def switch_user(page, user, next_url: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    login(page, user, next_url=next_url)


def add_draft_comment(page, text: str) -> None:
    thread = page.locator("#comments-draft-draft")
    thread.locator("textarea[name=text]").fill(text)
    with page.expect_response(lambda response: response.url.endswith("/comments/")) as reply:
        thread.get_by_role("button", name="Add comment").click()
    assert reply.value.status == 200
    page.locator("#comments-draft-draft .comment-text").get_by_text(text).wait_for()


def test_the_header_follows_review_comments_resubmit_and_publishing(browser_page, office):
    agent = AgentFactory(office=office)
    admin = OfficeAdminFactory(office=office)
    draft = add_required_media(DraftFactory(list_agent=agent, **COMPLETE))
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.SUBMITTED)
    page = browser_page
    review_url = f"/drafts/{draft.pk}/review/"

    # The reviewer comments three times: the count follows each one.
    login(page, admin, next_url=review_url)
    assert page.locator("#open-comment-count").inner_text() == "(0 open in all)"
    for number, text in enumerate(["The roof photo is dark.", "Add the garage size.", "Spell out NDSU."], 1):
        add_draft_comment(page, text)
        page.wait_for_function(
            "text => document.querySelector('#open-comment-count')?.textContent === text",
            arg=f"({number} open in all)",
        )
    page.locator("#id_reason").fill("Please answer the comments.")
    with page.expect_navigation():
        page.get_by_role("button", name="Request changes").click()
    assert badge(page) == "Changes requested"
    assert_no_page_problems(page)

    # The agent edits: the draft is a draft again, and the header says so at once.
    switch_user(page, agent, f"/drafts/{draft.pk}/")
    assert badge(page) == "Changes requested"
    page.locator("#id_city").fill("West Fargo")
    field_confirmed(page, "city", "West Fargo")
    all_saved(page)
    wait_for_badge(page, "Draft")
    assert "The reviewer asked for changes" not in page.locator("#draft-banner").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Submit (again )?for review")).click()
    assert badge(page) == "Submitted for review"
    assert_no_page_problems(page)

    # Publishing (the worker's part played by the database): the header polls while it runs and
    # ends on Live, with the live listing's tab and link, without a reload.
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.PROMOTING)
    switch_user(page, admin, review_url)
    assert badge(page) == "Publishing"
    live_id = "20260101000000000001000000"
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.LIVE, live_listing_id=live_id)
    wait_for_badge(page, "Live")
    page.locator("#draft-tabs").get_by_role("link", name="Live listing").wait_for()
    assert "View the live listing" in page.locator("#draft-banner").inner_text()
    assert "Publishing" not in page.locator("#draft-frame").inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "review-live-header-desktop.png"))
    assert_no_page_problems(page)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_the_frame_fits_the_screen_with_the_current_tab_in_view(browser_page, office, width, height):
    admin = OfficeAdminFactory(office=office)
    draft = DraftFactory(list_agent=AgentFactory(office=office), **COMPLETE)
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, admin)
    SHOTS.mkdir(exist_ok=True)
    pages = {
        "details": f"/drafts/{draft.pk}/",
        "media": f"/drafts/{draft.pk}/media/",
        "history": f"/drafts/{draft.pk}/history/",
        "sync": f"/sync/drafts/{draft.pk}/",
        "review": f"/drafts/{draft.pk}/review/",
    }
    for tab, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        current = page.locator("#draft-tabs [aria-current=page]")
        assert current.count() == 1, tab
        fits = page.evaluate(
            """() => {
                const bar = document.getElementById('draft-tabs').getBoundingClientRect();
                const tab = document.querySelector('#draft-tabs [aria-current=page]').getBoundingClientRect();
                return {
                    page: document.documentElement.scrollWidth <= window.innerWidth,
                    tab: tab.left >= bar.left - 1 && tab.right <= bar.right + 1,
                };
            }"""
        )
        assert fits == {"page": True, "tab": True}, (tab, width, fits)
        page.screenshot(path=str(SHOTS / f"frame-{tab}-{width}.png"))
    assert_no_page_problems(page)
