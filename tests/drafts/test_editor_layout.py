"""The editor laid out by the MLS: its sections and order per property type, its lists as
choice controls with labels (the MLS's value kept), multi-select custom fields, fields kept
outside the columns, and the fixed layout before the MLS's lists were ever read."""

import json
import re

import pytest
from django.urls import reverse

from drafts import rules
from drafts.models import Draft
from mls import metadata
from tests.factories import DraftFactory
from tests.mls.sync_support import memory_broker, sync_env  # noqa: F401 (fixtures)

from .conftest import field_post, htmx

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mls_lists(sync_env):  # noqa: F811 (the fixture imported above)
    """The sandbox's metadata read and kept, as beat (or seed_demo) does."""
    report = metadata.refresh()
    assert not report.failed
    return report


def edit(client, draft) -> str:
    response = client.get(reverse("drafts:draft_edit", args=[draft.pk]))
    assert response.status_code == 200
    return response.content.decode()


def save(client, draft, name, value, seen=""):
    return client.post(
        reverse("drafts:draft_field_save", args=[draft.pk, name]),
        field_post(draft, value, seen=seen),
        **htmx(),
    )


def headings(body: str) -> list[str]:
    return re.findall(r'<h2 id="heading-[^"]+">([^<]+)</h2>', body)


def fresh(draft) -> Draft:
    return Draft.objects.get(pk=draft.pk)


def test_sections_and_fields_follow_the_mls_field_order_per_type(mls_lists, agent_client, agent):
    home = DraftFactory(list_agent=agent, property_type="A")
    land = DraftFactory(list_agent=agent, property_type="C", property_sub_type="RL")

    body = edit(agent_client, home)
    assert headings(body) == [
        "Listing Information",
        "Location",
        "Property Details",
        "Features",
        "Remarks",
        "Agents",
        "Rooms",
        "Virtual tours and videos",
    ]
    order = [body.index(f'id="field-{key}"') for key in ("property_type", "property_sub_type", "list_price")]
    assert order == sorted(order)
    assert 'id="field-beds_total"' in body and 'id="field-std-ListingContractDate"' in body
    assert 'id="field-cf-zoning"' not in body
    assert 'id="layout-notice"' not in body

    land_body = edit(agent_client, land)
    assert 'id="field-beds_total"' not in land_body  # Land shows no bedrooms
    assert 'id="field-cf-zoning"' in land_body and 'id="field-std-LotSizeAcres"' in land_body


def test_lists_are_choice_controls_with_the_mls_labels(mls_lists, agent_client, draft):
    body = edit(agent_client, draft)

    sub_type = body[body.index('<select id="id_property_sub_type"') :]
    sub_type = sub_type[: sub_type.index("</select>")]
    assert '<option value="SF" selected>Single Family</option>' in sub_type
    assert '<option value="CN">Condominium</option>' in sub_type
    assert "Duplex" not in sub_type  # Multi Family's, not Residential's
    # A long list is searchable: a text input over a list of the names, showing the name.
    assert 'list="list-state_or_province"' in body
    assert '<option value="North Dakota"></option>' in body
    assert re.search(r'<input id="id_state_or_province" name="value" value="North Dakota"', body)
    # Custom fields under the MLS's group headings, with their lists.
    assert '<h3 class="field-group-heading">General Property Description</h3>' in body
    assert '<option value="2 Story">2 Story</option>' in body


def test_a_value_is_kept_as_the_mls_code_and_shown_as_its_label(mls_lists, agent_client, draft):
    response = save(agent_client, draft, "state_or_province", "minnesota", seen="North Dakota")

    assert response.status_code == 200
    assert fresh(draft).state_or_province == "MN"
    assert 'name="seen_value" value="Minnesota"' in response.content.decode()
    assert 'value="Minnesota"' in edit(agent_client, draft)
    assert fresh(draft).spark_fields()["StateOrProvince"] == "MN"


def test_a_value_not_in_the_list_is_refused_in_plain_words(mls_lists, agent_client, draft):
    response = save(agent_client, draft, "state_or_province", "Narnia", seen="North Dakota")

    body = response.content.decode()
    assert response.status_code == 422
    assert "State: choose a state from the list." in body
    assert "Ensure this value" not in body
    assert fresh(draft).state_or_province == "ND"


def test_an_old_value_not_in_the_list_stays_visible_and_is_flagged(mls_lists, agent_client, agent):
    draft = DraftFactory(list_agent=agent, property_sub_type="MOBILE")

    body = edit(agent_client, draft)

    assert '<option value="MOBILE" selected>MOBILE (not in the MLS&#x27;s list)</option>' in body
    assert "Property Sub-Type: “MOBILE” is not in the MLS&#x27;s list" in body
    assert fresh(draft).property_sub_type == "MOBILE"  # nothing lost


def test_a_multi_select_custom_field_saves_a_list_under_the_mls_group(mls_lists, agent_client, draft):
    body = edit(agent_client, draft)
    assert 'data-autosave="cf-heating" data-multi' in body
    assert 'value="Forced Air" data-multi-choice' in body

    response = save(agent_client, draft, "cf-heating", json.dumps(["Geothermal", "Forced Air"]))

    assert response.status_code == 200
    saved = fresh(draft)
    # In the MLS's order, under its group and name; pushed as CustomFields.
    assert saved.custom_fields == {"Features": {"Heating": ["Forced Air", "Geothermal"]}}
    assert saved.spark_fields()["CustomFields"] == {"Features": {"Heating": ["Forced Air", "Geothermal"]}}
    assert 'value="Geothermal" data-multi-choice checked' in edit(agent_client, draft)
    assert saved.version == draft.version + 1


def test_a_custom_value_kept_under_another_group_moves_to_the_mls_group(mls_lists, agent_client, agent):
    draft = DraftFactory(list_agent=agent, custom_fields={"Lot": {"basement": "Full", "Road": "Paved"}})

    assert 'value="Full" selected' in edit(agent_client, draft)
    response = save(agent_client, draft, "cf-basement", "Partial", seen="Full")

    assert response.status_code == 200
    assert fresh(draft).custom_fields == {
        "Lot": {"Road": "Paved"},
        "General Property Description": {"Basement": "Partial"},
    }
    # What the layout has no field for is kept, shown apart and pushed as it is.
    assert "Other custom fields" in edit(agent_client, draft)


def test_a_standard_field_without_a_column_is_kept_and_pushed(mls_lists, agent_client, draft):
    response = save(agent_client, draft, "std-ListingContractDate", "2026-05-01")

    assert response.status_code == 200
    assert fresh(draft).standard_fields_extra == {"ListingContractDate": "2026-05-01"}
    assert fresh(draft).spark_fields()["ListingContractDate"] == "2026-05-01"
    assert 'type="date"' in edit(agent_client, draft)

    refused = save(agent_client, draft, "std-LotSizeAcres", "half an acre")
    assert refused.status_code == 422
    assert "Lot Acres: enter a number" in refused.content.decode()


def test_a_stale_edit_of_a_custom_field_is_a_conflict(mls_lists, agent_client, agent, draft):
    draft.save_mls_value(
        metadata_field(draft, "cf-style"), "Ranch", by=agent, seen_version=draft.version, seen_value=None
    )

    response = save(agent_client, draft, "cf-style", "2 Story", seen="")  # the page's old version

    assert response.status_code == 409
    assert fresh(draft).custom_fields == {"General Property Description": {"Style": "Ranch"}}


def metadata_field(draft, key):
    layout = rules.RuleBook().layout(draft.property_type)
    assert layout is not None
    return layout.by_key[key]


def test_a_new_property_type_reloads_the_page_with_its_layout(mls_lists, agent_client, draft):
    response = save(agent_client, draft, "property_type", "C", seen="A")

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert 'id="field-cf-zoning"' in edit(agent_client, fresh(draft))


def test_before_the_lists_were_read_the_fixed_layout_says_so(agent_client, draft):
    body = edit(agent_client, draft)

    assert 'id="layout-notice"' in body
    assert headings(body)[0] == "Location"
    assert save(agent_client, draft, "std-ListingContractDate", "2026-05-01").status_code == 404


def test_without_javascript_the_checkboxes_are_saved(mls_lists, agent_client, draft):
    response = agent_client.post(
        reverse("drafts:draft_field_save", args=[draft.pk, "cf-appliances"]),
        {
            "version": draft.version,
            "seen_value": "[]",
            "value": "[]",
            "multi": "1",
            "choice": ["Washer", "Dryer"],
        },
    )

    assert response.status_code == 302
    assert fresh(draft).custom_fields == {"Features": {"Appliances": ["Washer", "Dryer"]}}


def test_the_history_names_the_mls_fields_kept_without_a_column(mls_lists, agent_client, draft):
    save(agent_client, draft, "std-ListingContractDate", "2026-05-01")

    body = agent_client.get(reverse("drafts:draft_history", args=[draft.pk])).content.decode()

    # By the MLS's label, the one field that changed (not the whole group of fields, by name).
    entry = body[body.index('class="history-field"') :]
    assert "<strong>Listing Date</strong>" in entry and "<ins>2026-05-01</ins>" in entry
    assert "<del>(empty)</del>" in entry
    assert "ListingContractDate" not in body
