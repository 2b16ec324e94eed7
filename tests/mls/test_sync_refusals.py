"""A refusal of the listing's fields, named by field: kept on the mirror until a push of those
fields is accepted, shown next to each field in the editor, as a short badge on the drafts list
and listed on the sync page. Against the sandbox over real HTTP (its 1053 names the attribute).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from mls import push
from mls.failures import place_refusals
from mls.models import DraftSync, SyncState
from tests.factories import DraftFactory
from tests.mls.sync_support import assert_in_sync, drain

pytestmark = pytest.mark.django_db(transaction=True)

LONG_STREET = "Northwest Industrial Park Access Road Frontage East"  # 51 > the MLS's 50


@pytest.fixture
def draft(agent):
    return DraftFactory(list_agent=agent, beds_total=3, baths_total=2, year_built=1990)


def refuse_street_name(draft, agent) -> None:
    drain(draft)
    draft.save_field("street_name", LONG_STREET, by=agent, seen_version=draft.version, seen_value="8th")
    assert drain(draft)[-1] == push.Outcome.FAILED


def test_the_refused_field_is_kept_through_edits_until_the_mls_accepts_it(sync_env, draft, agent):
    refuse_street_name(draft, agent)
    row = DraftSync.objects.get(pk=draft.pk)
    assert list(row.refused_fields) == ["StreetName"] and row.refused_at is not None
    assert "50" in row.refused_fields["StreetName"][0]  # the MLS's own words
    # Another edit does not hide it: the street name is still what the MLS refused.
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
    draft.refresh_from_db()
    row.refresh_from_db()
    assert row.refusals(draft).by_field == {"street_name": row.refused_fields["StreetName"]}
    assert drain(draft)[-1] == push.Outcome.FAILED  # sent again with the city, refused again
    # Fixed: the push of the field is accepted and the refusal goes.
    draft.save_field("street_name", "8th", by=agent, seen_version=draft.version, seen_value=LONG_STREET)
    drain(draft)
    assert_in_sync(sync_env, draft)
    row.refresh_from_db()
    assert row.refused_fields == {} and row.refused_at is None


def test_the_editor_shows_the_message_next_to_the_field(sync_env, client, draft, agent):
    refuse_street_name(draft, agent)
    client.force_login(agent)
    page = client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    field = page.split('id="field-street_name"', 1)[1].split("</form>", 1)[0]
    assert 'id="mls-refusal-street_name"' in field
    assert "The MLS refused this: StreetName is longer than 50 characters" in field
    assert 'id="mls-refusal-city"' not in page
    assert "HTTP 400" not in page and "1053" not in page


def test_the_drafts_list_shows_a_short_badge_naming_the_fields(sync_env, client, draft, agent):
    refuse_street_name(draft, agent)
    client.force_login(agent)
    page = client.get(reverse("drafts:draft_list")).content.decode()
    assert "MLS refused 1 field" in page
    assert 'title="Refused: Street name"' in page
    assert "HTTP 400" not in page and "code 1053" not in page


def test_the_sync_page_lists_the_refused_fields(sync_env, client, draft, agent):
    refuse_street_name(draft, agent)
    client.force_login(agent)
    page = client.get(reverse("mls:draft_sync", args=[draft.pk])).content.decode()
    refused = page.split('id="sync-refused-fields"', 1)[1].split("</ul>", 1)[0]
    assert f'href="/drafts/{draft.pk}/#field-street_name"' in refused or "#field-street_name" in refused
    assert "Street name" in refused and "longer than 50" in refused


def test_a_refusal_naming_no_field_is_one_plain_sentence_at_the_top(sync_env, client, draft, agent):
    drain(draft)
    sync_env.control.faults({"kind": "error", "status": 400, "code": 1053, "routes": ["incomplete.update"]})
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
    assert drain(draft)[-1] == push.Outcome.FAILED
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.refused_fields == {} and row.refused_at is not None
    assert row.display_state(draft.change_seq) == SyncState.FAILED
    client.force_login(agent)
    page = client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    assert 'id="mls-refusal-summary"' in page and "did not say which field" in page
    assert "mls-refusal-city" not in page
    listing = client.get(reverse("drafts:draft_list")).content.decode()
    assert "named no field" in listing and "HTTP 400" not in listing


def test_custom_fields_are_placed_on_the_custom_fields_table():
    placed = place_refusals(
        {"Lot Size Acres": ["must be a number"], "CustomFields": ["bad shape"], "ListAgentId": ["unknown"]},
        {"Lot": {"Lot Size Acres": "lots"}},
    )
    assert placed.by_field == {"custom_fields": ["Lot Size Acres: must be a number", "bad shape"]}
    assert placed.elsewhere == [("ListAgentId", "unknown")]
    assert place_refusals({}, {}).unnamed
