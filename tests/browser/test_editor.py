"""The editor in a real browser: autosave, dropped requests, reloads, session expiry, conflicts."""

import pytest

from drafts.models import Draft, DraftEvent
from tests.factories import DraftFactory, OfficeAdminFactory

from .conftest import assert_no_page_problems, login

pytestmark = pytest.mark.browser

# wait_for_function takes functions only: a bare expression would be eval'ed, which our CSP forbids.
# What Chromium and htmx log when a test drops a request on purpose.
DROPPED_REQUEST_NOISE = ("net::ERR_FAILED", "htmx:sendError", "htmx:afterRequest", "Failed to load resource")


def field_confirmed(page, name: str, value: str, *, timeout: float | None = None) -> None:
    """Wait until the server confirmed `value` for field `name` (its pair carries it)."""
    page.wait_for_function(
        """([name, value]) => {
            const seen = document.querySelector(`#save-${name} input[name=seen_value]`);
            const box = document.getElementById(`save-${name}`);
            return seen && seen.value === value && box.dataset.state === "saved";
        }""",
        arg=[name, value],
        timeout=timeout,
    )


def all_saved(page) -> None:
    page.wait_for_selector('#page-save-status[data-state="saved"]')


def fresh(draft) -> Draft:
    return Draft.objects.get(pk=draft.pk)


def test_typed_fields_are_saved_and_are_there_after_a_reload(browser_page, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    assert page.locator("#rules").get_by_text("Bedrooms are required").is_visible()

    # A new property type reloads the page (its layout): choose it first, as a person sees it.
    # Typing while that reload is under way is a known race (it can come back as a conflict);
    # this test is about saving and reloading.
    with page.expect_navigation():
        page.locator("#id_property_type").select_option("B")
    page.locator("#id_city").fill("")
    page.locator("#id_city").press_sequentially("Moorhead", delay=40)
    page.locator("#id_list_price").fill("$315,000")
    page.locator("#id_beds_total").fill("3")
    page.locator("#id_public_remarks").fill("Bright corner lot.\nNew roof in 2024.")
    page.locator("[name=cf_name]").first.fill("Zoning")
    page.locator("[name=cf_value]").first.fill("R-2")

    field_confirmed(page, "city", "Moorhead")
    field_confirmed(page, "list_price", "315000")
    field_confirmed(page, "beds_total", "3")
    field_confirmed(page, "property_type", "B")
    page.wait_for_function(
        "() => document.querySelector('#save-custom_fields input[name=seen_value]').value.includes('R-2')"
    )
    all_saved(page)
    # The rule summary followed the saves without a reload.
    page.locator("#rules").get_by_text("Bedrooms are required").wait_for(state="detached")

    page.reload()
    assert page.locator("#id_city").input_value() == "Moorhead"
    assert page.locator("#id_list_price").input_value() == "315000"
    assert page.locator("#id_beds_total").input_value() == "3"
    assert page.locator("#id_public_remarks").input_value() == "Bright corner lot.\nNew roof in 2024."
    assert page.locator("#id_property_type").input_value() == "B"
    assert page.locator("[name=cf_name]").first.input_value() == "Zoning"
    saved = fresh(draft)
    assert (saved.city, saved.beds_total, saved.property_type) == ("Moorhead", 3, "B")
    assert saved.custom_fields == {"General": {"Zoning": "R-2"}}
    # Typing letter by letter saved after pauses, not once per key.
    assert saved.events.filter(field="city").count() <= 3
    assert_no_page_problems(page)


def test_a_message_in_the_summary_jumps_to_its_field(browser_page, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    page.locator("#rules").get_by_text("Bedrooms are required").click()

    assert page.evaluate("document.activeElement.id") == "id_beds_total"
    assert_no_page_problems(page)


def test_a_dropped_save_is_retried_until_the_value_arrives(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    dropped = []

    def drop_first(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/fields/city/", drop_first)
    page.locator("#id_city").fill("West Fargo")

    page.wait_for_selector('#save-city[data-state="retrying"]')
    assert page.locator("#page-save-status").inner_text().startswith("Connection problem")
    stored = page.evaluate("Object.keys(localStorage).filter(key => key.endsWith(':city'))")
    assert len(stored) == 1
    field_confirmed(page, "city", "West Fargo")
    all_saved(page)

    assert dropped
    assert fresh(draft).city == "West Fargo"
    assert page.evaluate("Object.keys(localStorage).filter(key => key.startsWith('portal.autosave'))") == []
    assert_no_page_problems(page, ignore=DROPPED_REQUEST_NOISE)


def test_an_unsaved_value_survives_a_reload_and_is_saved_then(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    page.route("**/fields/**", lambda route: route.abort())  # the network is gone

    page.locator("#id_street_name").fill("Elm Tree")
    page.wait_for_selector('#save-street_name[data-state="retrying"]')
    page.unroute("**/fields/**")
    page.reload()

    field_confirmed(page, "street_name", "Elm Tree")
    assert page.locator("#id_street_name").input_value() == "Elm Tree"
    assert fresh(draft).street_name == "Elm Tree"
    assert_no_page_problems(page, ignore=DROPPED_REQUEST_NOISE)


def test_after_the_session_ends_the_text_is_kept_and_saved_once_after_signing_in(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    page.context.clear_cookies(name="sessionid")  # the session expired

    page.locator("#id_subdivision_name").fill("Island Park")
    page.wait_for_selector('#save-subdivision_name[data-state="signed-out"]')
    page.wait_for_selector("#signed-out:not([hidden])")
    assert fresh(draft).subdivision_name == ""

    with page.expect_navigation():
        page.locator("#signed-out a").click()
    page.fill("#id_username", agent.username)
    page.fill("#id_password", "correct horse battery")
    with page.expect_navigation():
        page.click("button[type=submit]")

    field_confirmed(page, "subdivision_name", "Island Park")
    assert page.locator("#id_subdivision_name").input_value() == "Island Park"
    assert fresh(draft).subdivision_name == "Island Park"
    assert DraftEvent.objects.filter(draft=draft, field="subdivision_name").count() == 1
    assert_no_page_problems(page)


def test_a_conflicting_edit_shows_both_values_and_keep_mine_wins(browser_page, agent, office):
    draft = DraftFactory(list_agent=agent)
    admin = OfficeAdminFactory(office=office, first_name="Olga", last_name="Admin")
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    draft.save_field("city", "Dilworth", by=admin, seen_version=draft.version, seen_value="Fargo")

    page.locator("#id_city").fill("Moorhead")

    conflict = page.locator("#save-city .conflict")
    conflict.wait_for()
    assert "Olga Admin" in conflict.inner_text()
    assert conflict.locator(".conflict-yours").inner_text() == "Moorhead"
    assert conflict.locator(".conflict-theirs").inner_text() == "Dilworth"
    assert fresh(draft).city == "Dilworth"
    conflict.get_by_role("button", name="Keep mine").click()

    field_confirmed(page, "city", "Moorhead")
    assert fresh(draft).city == "Moorhead"
    assert_no_page_problems(page, ignore=("status of 409",))


def test_take_theirs_puts_their_value_in_the_field(browser_page, agent, office):
    draft = DraftFactory(list_agent=agent)
    admin = OfficeAdminFactory(office=office)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    draft.save_field("city", "Dilworth", by=admin, seen_version=draft.version, seen_value="Fargo")

    page.locator("#id_city").fill("Moorhead")
    page.locator("#save-city .conflict").get_by_role("button", name="Take theirs").click()

    assert page.locator("#id_city").input_value() == "Dilworth"
    all_saved(page)
    assert fresh(draft).city == "Dilworth"
    assert_no_page_problems(page, ignore=("status of 409",))


def test_an_invalid_value_is_explained_next_to_the_field_and_kept(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    page.locator("#id_list_price").fill("a lot")

    page.wait_for_selector('#save-list_price[data-state="invalid"]')
    assert "List price: enter a number." in page.locator("#save-list_price").inner_text()
    assert page.locator("#id_list_price").input_value() == "a lot"
    assert page.locator("#id_list_price").get_attribute("aria-invalid") == "true"
    page.locator("#id_list_price").fill("260000")
    field_confirmed(page, "list_price", "260000")
    assert page.locator("#save-list_price .field-errors").count() == 0
    assert_no_page_problems(page, ignore=("status of 422",))


def test_the_list_filters_in_place_and_opens_the_editor(browser_page, agent):
    DraftFactory(list_agent=agent, street_number="611", street_name="8th", city="Fargo")
    DraftFactory(list_agent=agent, street_number="1104", street_name="4th", city="Moorhead")
    page = browser_page
    login(page, agent)

    page.locator("#id_q").fill("Moorhead")
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    assert "q=Moorhead" in page.url
    with page.expect_navigation():
        page.locator("#results .row-link").click()
    assert page.locator("h1").inner_text() == "1104 4th St"
    assert_no_page_problems(page)


def test_the_editor_works_on_a_phone_sized_screen(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, agent, next_url=f"/drafts/{draft.pk}/")

    page.locator("#id_city").fill("Moorhead")
    field_confirmed(page, "city", "Moorhead")

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert_no_page_problems(page)


def test_twenty_interrupted_saves_lose_no_edit(browser_page, agent):
    """Every other save is dropped or answered 503; the last typed values all arrive.

    docs/reliability.md#p2-interrupted-saves
    """
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    seen = {"count": 0, "interrupted": 0}

    def flaky(route):
        seen["count"] += 1
        if seen["count"] % 2 == 1 and seen["interrupted"] < 20:
            seen["interrupted"] += 1
            if seen["interrupted"] % 4 == 0:
                route.fulfill(status=503, body="busy")
            else:
                route.abort()
        else:
            route.continue_()

    page.route("**/fields/**", flaky)
    fields = ["city", "street_name", "subdivision_name", "mls_area_minor", "county_or_parish"]
    last = {}
    for round_number in range(4):
        for name in fields:
            last[name] = f"{name.split('_')[0].title()} {round_number}"
            page.locator(f"#id_{name}").fill(last[name])
        page.wait_for_timeout(300)

    # A field unlucky enough to be interrupted five times in a row waits 1+2+4+8+16 s (x0.75-1.25)
    # of back-off before its next try: allow for that, not the default 10 s.
    for name, value in last.items():
        field_confirmed(page, name, value, timeout=45_000)
    all_saved(page)

    saved = fresh(draft)
    assert {name: getattr(saved, name) for name in fields} == last
    assert seen["interrupted"] >= 10
    assert_no_page_problems(page, ignore=(*DROPPED_REQUEST_NOISE, "status of 503", "Error Code 503"))
