"""The editor laid out by the MLS in a real browser: checkboxes of a multi-select list, a long
list searched by name, and a new property type bringing its own layout."""

import json

import pytest

from drafts.models import Draft
from mls import metadata
from tests.factories import DraftFactory
from tests.sandbox_support import SANDBOX_TOKEN

from .conftest import assert_no_page_problems, login
from .test_editor import all_saved, field_confirmed

pytestmark = pytest.mark.browser


@pytest.fixture
def mls_lists(live_server, settings):
    """The sandbox (in this live server) read as the MLS, as seed_demo does."""
    settings.SPARK_API_URL = f"{live_server.url}/sandbox"
    settings.SPARK_ACCESS_TOKEN = SANDBOX_TOKEN
    settings.SPARK_RATE_LIMIT_PER_SECOND = 1000.0
    settings.SYNC_REDIS_URL = ""
    assert not metadata.refresh().failed


def fresh(draft) -> Draft:
    return Draft.objects.get(pk=draft.pk)


def test_lists_are_chosen_by_name_and_kept_as_the_mls_values(browser_page, mls_lists, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    assert page.locator("#id_state_or_province").input_value() == "North Dakota"

    page.get_by_label("Boiler").check()
    page.get_by_label("Forced Air").check()
    page.locator("#id_state_or_province").fill("minnesota")
    page.locator("#id_state_or_province").press("Tab")
    page.locator("#id_property_sub_type").select_option(label="Townhouse")

    field_confirmed(page, "cf-heating", json.dumps(["Forced Air", "Boiler"], separators=(",", ":")))
    field_confirmed(page, "state_or_province", "Minnesota")
    field_confirmed(page, "property_sub_type", "TH")
    all_saved(page)
    saved = fresh(draft)
    assert saved.custom_fields == {"Features": {"Heating": ["Forced Air", "Boiler"]}}
    assert (saved.state_or_province, saved.property_sub_type) == ("MN", "TH")

    page.reload()
    assert page.get_by_label("Boiler").is_checked() and not page.get_by_label("Geothermal").is_checked()
    assert_no_page_problems(page)


def test_a_new_property_type_brings_its_layout(browser_page, mls_lists, agent):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/")
    assert page.locator("#field-beds_total").count() == 1

    with page.expect_navigation():
        page.locator("#id_property_type").select_option("C")

    page.wait_for_selector("#field-cf-zoning")
    assert page.locator("#field-beds_total").count() == 0
    assert fresh(draft).property_type == "C"
    assert_no_page_problems(page)
