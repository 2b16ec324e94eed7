"""The editor's virtual tours and videos in a real browser: add through the inline form (a refused
link shows its message in place), reorder by keyboard, by drag and by the buttons, remove after
confirming; no console errors or CSP violations."""

import pytest

from drafts.models import ListingPart
from tests.factories import DraftFactory

from .conftest import assert_no_page_problems, login

pytestmark = pytest.mark.browser

TOUR_LINK = "https://my.matterport.com/show/?m=abc"


def tour_names(page) -> list[str]:
    return page.locator("#parts-tour .part-title").all_inner_texts()


def stored_order(draft) -> list[str]:
    return list(draft.parts.filter(kind="tour").order_by("position").values_list("name", flat=True))


def test_tours_are_added_reordered_and_removed_in_place(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    for name, link in (("First", "http://example.com/tour"), ("First", TOUR_LINK), ("Second", TOUR_LINK)):
        if page.locator("#parts-tour details.part-add").get_attribute("open") is None:
            page.locator("#parts-tour summary", has_text="Add a virtual tour").click()
        page.fill("#id_new-tour-name", name)
        page.fill("#id_new-tour-url", link)
        page.locator("#parts-tour button", has_text="Add virtual tour").click()
        if link.startswith("http:"):
            page.locator("#parts-tour .field-errors", has_text="use an https:// link").wait_for()
        else:
            page.locator("#parts-tour .notice", has_text=f"Added virtual tour {name}").wait_for()
    assert tour_names(page) == ["First", "Second"]

    # Keyboard: Alt+Up on the focused second line moves it first.
    page.locator("#parts-tour li.part-item").nth(1).focus()
    page.keyboard.press("Alt+ArrowUp")
    page.wait_for_function("() => document.querySelector('#parts-tour .part-title').textContent === 'Second'")
    assert stored_order(draft) == ["Second", "First"]

    # Drag the second line above the first by its handle.
    handle = page.locator("#parts-tour .part-handle").nth(1).bounding_box()
    top = page.locator("#parts-tour li.part-item").nth(0).bounding_box()
    page.mouse.move(handle["x"] + 5, handle["y"] + 5)
    page.mouse.down()
    steps = 15
    for step in range(1, steps + 1):
        page.mouse.move(handle["x"] + 5, handle["y"] + 5 - step * (handle["y"] - top["y"] + 10) / steps)
        page.wait_for_timeout(20)
    # Sortable moves the line at once; the order is saved when the region comes back.
    with page.expect_response(lambda response: "/parts/tour/reorder/" in response.url) as answer:
        page.mouse.up()
    assert answer.value.status == 200
    assert stored_order(draft) == ["First", "Second"]

    page.locator("#parts-tour li.part-item").nth(0).locator("button", has_text="Move down").click()
    page.wait_for_function("() => document.querySelector('#parts-tour .part-title').textContent === 'Second'")

    first_line = page.locator("#parts-tour li.part-item").nth(0)
    first_line.locator("summary", has_text="Remove").click()
    first_line.locator("button", has_text="Yes, remove it").click()
    page.locator("#parts-tour .notice", has_text="Removed virtual tour Second").wait_for()
    assert tour_names(page) == ["First"]
    assert list(ListingPart.objects.filter(draft=draft).values_list("name", "position")) == [("First", 0)]
    # The refused link's 422 is the one expected error the browser logs.
    assert_no_page_problems(page, ignore=("status of 422",))
