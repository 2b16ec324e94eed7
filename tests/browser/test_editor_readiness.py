"""The editor as a listing form in a real browser: no red on a blank form, "... is required"
once a field was left; readiness that counts the documents and photos, each gap a link to
where it is fixed, and Approve waiting for them; the phone layout."""

import os
import re

import pytest

from drafts.models import Draft, DraftStatus
from tests.drafts.test_transitions import COMPLETE
from tests.factories import AgentFactory, DocumentFactory, DraftFactory, OfficeAdminFactory, PhotoFactory
from tests.media_manager.samples import pdf_plain

from .conftest import assert_no_page_problems, login

pytestmark = pytest.mark.browser

LEAD_PAINT = "Lead-Based Paint Disclosure"
# Screenshots for people to look at, when asked for: EDITOR_SHOTS=/tmp/shots-editor.
SHOTS = os.environ.get("EDITOR_SHOTS", "")

VISIBLE_RULE_ERRORS = """() => [...document.querySelectorAll('#editor .field-rules .rule-error')]
    .filter((item) => item.offsetParent !== null).map((item) => item.textContent.trim())"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def shoot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_a_blank_draft_shows_no_errors_until_a_field_is_left(browser_page, agent):
    draft = Draft.start(by=agent, list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    assert page.evaluate(VISIBLE_RULE_ERRORS) == []
    # The labels read like a form: no MLS names, a required mark, the MLS name on hover.
    label = page.locator("label[for=id_street_number]")
    assert label.inner_text().startswith("Street number*") and "StreetNumber" not in label.inner_text()
    assert label.get_attribute("title") == "MLS field StreetNumber"
    assert page.locator("#id_street_number").get_attribute("aria-required") == "true"
    # The checklist still says what is missing, as links.
    assert page.locator("#readiness-gaps").get_by_text("Street number is required.").is_visible()

    page.locator("#id_street_number").focus()
    page.keyboard.press("Tab")  # left empty

    street = page.locator("#rules-street_number").get_by_text("Street number is required.")
    street.wait_for(state="visible")
    shown = page.evaluate(VISIBLE_RULE_ERRORS)
    assert len(shown) == 1 and shown[0].endswith("Street number is required."), shown

    # A wrong value shows at once, even in a field not yet left.
    page.locator("#id_postal_code").fill("ABCDE")
    page.locator("#rules-postal_code").get_by_text("Postal code must look like").wait_for(state="visible")
    assert_no_page_problems(page)


@pytest.mark.parametrize("width,height", [(390, 844), (768, 1024), (1366, 900)])
def test_the_editor_fits_phones_and_desks(browser_page, agent, width, height):
    draft = DraftFactory(list_agent=agent, beds_total=3, public_remarks="Bright corner lot.")
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    assert page.evaluate(OVERFLOW) <= 0
    font = page.locator("#id_city").evaluate("(input) => getComputedStyle(input).fontSize")
    if width < 760:
        assert font == "16px"  # iOS zooms into anything smaller
        box, card = page.locator("#id_city").bounding_box(), page.locator("#section-location").bounding_box()
        assert box["width"] > card["width"] - 60  # the whole card's width
    assert page.locator("#id_list_price").get_attribute("inputmode") == "decimal"
    assert page.locator("#id_beds_total").get_attribute("inputmode") == "numeric"
    assert page.locator("#id_postal_code").get_attribute("inputmode") == "numeric"
    # A label is one line beside its neighbours: the grid's inputs line up row by row.
    tops = page.evaluate(
        """() => [...document.querySelectorAll('#section-location .field-grid > .field'
                + ' :is(input, select)[data-autosave]:not([type=hidden])')]
            .map((input) => Math.round(input.getBoundingClientRect().top))"""
    )
    columns = page.evaluate(
        "() => getComputedStyle(document.querySelector('#section-location .field-grid'))"
        ".gridTemplateColumns.split(' ').length"
    )
    rows = [tops[index : index + columns] for index in range(0, len(tops), columns)]
    assert all(len(set(row)) == 1 for row in rows), rows
    page.locator(".section-jump").get_by_role("link", name="Ready to publish?").click()
    assert page.evaluate("location.hash") == "#rules"
    shoot(page, f"half-filled-{width}")
    assert_no_page_problems(page)


@pytest.mark.parametrize("width,height", [(390, 844), (1366, 900)])
def test_screenshots_of_a_new_draft(browser_page, agent, width, height):
    draft = Draft.start(by=agent, list_agent=agent)
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    assert page.evaluate(OVERFLOW) <= 0
    assert page.evaluate(VISIBLE_RULE_ERRORS) == []
    shoot(page, f"new-{width}")
    assert_no_page_problems(page)


def test_a_missing_disclosure_holds_approval_until_it_is_uploaded(browser_page, office, tmp_path):
    admin = OfficeAdminFactory(office=office)
    agent = AgentFactory(office=office)
    draft = DraftFactory(list_agent=agent, year_built=1962, status=DraftStatus.SUBMITTED, **COMPLETE)
    PhotoFactory(draft=draft)
    DocumentFactory(draft=draft, name="Seller's Disclosure")
    page = browser_page

    # The reviewer: readiness under 100%, Approve disabled, saying why.
    login(page, admin, next_url=f"/drafts/{draft.pk}/review/")
    meter = int(page.locator("#readiness-head meter").get_attribute("value"))
    assert meter < 100
    assert page.locator("#review-decision").get_by_role("button", name="Approve").is_disabled()
    assert LEAD_PAINT in page.locator("#approve-refusal").inner_text()

    # The agent: the gap is a link to the documents section of the media page.
    page.context.clear_cookies()
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    gap = page.locator("#readiness-gaps .gap-link", has_text=LEAD_PAINT)
    assert gap.get_attribute("href") == f"/drafts/{draft.pk}/media/#documents"
    with page.expect_navigation():
        gap.click()
    assert page.url.endswith(f"/drafts/{draft.pk}/media/#documents")
    pdf = tmp_path / f"{LEAD_PAINT}.pdf"
    pdf.write_bytes(pdf_plain())
    page.set_input_files("#document-files", str(pdf))
    page.wait_for_function("() => document.querySelectorAll('#document-rows > [data-id]').length === 2")

    page.goto(f"/drafts/{draft.pk}/")
    assert page.locator("#readiness-gaps").count() == 0
    assert re.match(r"100% ready", page.locator("#readiness-side .readiness-text").inner_text())
    assert Draft.objects.get(pk=draft.pk).readiness().is_ready

    # The reviewer again: Approve is there to press, and it works.
    page.context.clear_cookies()
    login(page, admin, next_url=f"/drafts/{draft.pk}/review/")
    with page.expect_navigation():
        page.locator("#review-decision").get_by_role("button", name="Approve").click()
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.APPROVED
    assert_no_page_problems(page)


@pytest.mark.parametrize("width,height", [(390, 844), (1366, 900)])
def test_the_mls_layout_reads_like_a_form(browser_page, live_server, settings, agent, width, height):
    from mls import metadata
    from tests.sandbox_support import SANDBOX_TOKEN

    settings.SPARK_API_URL = f"{live_server.url}/sandbox"
    settings.SPARK_ACCESS_TOKEN = SANDBOX_TOKEN
    settings.SPARK_RATE_LIMIT_PER_SECOND = 1000.0
    settings.SYNC_REDIS_URL = ""
    assert not metadata.refresh().failed  # the sandbox read as the MLS, as seed_demo does
    draft = Draft.start(by=agent, list_agent=agent)
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    assert page.locator("#layout-notice").count() == 0
    # The MLS's labels only; its system names on hover; its required fields marked.
    labels = page.evaluate(
        """() => [...document.querySelectorAll('#editor label[data-mls-name]')]
            .map((label) => [label.textContent, label.dataset.mlsName])"""
    )
    camel = [(text, name) for text, name in labels if re.search(r"[a-z][A-Z]", name)]
    assert camel and not any(name in text for text, name in camel), camel
    assert page.locator("label[for=id_list_price] .required-mark").count() == 1
    assert page.locator("#id_list_price").get_attribute("aria-required") == "true"
    assert page.evaluate(VISIBLE_RULE_ERRORS) == []
    assert page.evaluate(OVERFLOW) <= 0
    shoot(page, f"mls-new-{width}")
    assert_no_page_problems(page)
