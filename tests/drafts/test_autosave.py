"""Autosave of one field: saved, unchanged, stale (409), merged, invalid (422)."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from drafts.models import Draft, DraftEvent, DraftStatus
from tests.factories import AgentFactory, OfficeAdminFactory

from .conftest import field_post, htmx


def save_url(draft, name):
    return reverse("drafts:draft_field_save", args=[draft.pk, name])


def fresh(draft) -> Draft:
    return Draft.objects.get(pk=draft.pk)


def test_a_typed_value_is_saved_with_version_history_and_event(agent_client, draft, agent):
    response = agent_client.post(
        save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo"), **htmx()
    )

    saved = fresh(draft)
    assert response.status_code == 200
    assert saved.city == "Moorhead"
    assert saved.version == draft.version + 1
    assert saved.change_seq == draft.change_seq + 1
    assert saved.updated_by == agent
    event = saved.events.get(kind=DraftEvent.Kind.FIELD_CHANGED)
    assert (event.field, event.old_value, event.new_value, event.actor) == (
        "city",
        "Fargo",
        "Moorhead",
        agent,
    )
    # The reply is the field's save-state region with the new pair, never the input.
    body = response.content.decode()
    assert 'id="save-city"' in body and 'data-state="saved"' in body
    assert f'name="version" value="{saved.version}"' in body
    assert 'name="seen_value" value="Moorhead"' in body
    assert '<input id="id_city"' not in body
    assert json.loads(response["HX-Trigger"]) == {"draft-saved": {"field": "city", "version": saved.version}}


def test_saving_the_same_value_changes_nothing(agent_client, draft):
    response = agent_client.post(
        save_url(draft, "city"), field_post(draft, " Fargo ", seen="Fargo"), **htmx()
    )

    assert response.status_code == 200
    assert fresh(draft).version == draft.version
    assert not DraftEvent.objects.filter(kind=DraftEvent.Kind.FIELD_CHANGED).exists()
    assert "HX-Trigger" not in response


def test_someone_elses_change_to_the_same_field_is_a_409_with_both_values(agent_client, draft, office):
    colleague = OfficeAdminFactory(office=office, first_name="Olga", last_name="Admin")
    draft.save_field("city", "West Fargo", by=colleague, seen_version=draft.version, seen_value="Fargo")

    response = agent_client.post(
        save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo", version=draft.version), **htmx()
    )

    assert response.status_code == 409
    assert fresh(draft).city == "West Fargo"
    body = response.content.decode()
    assert "Moorhead" in body and "West Fargo" in body
    assert "Olga Admin" in body
    assert "Keep mine" in body and "Take theirs" in body
    assert f'data-version="{draft.version + 1}"' in body
    assert 'data-theirs="West Fargo"' in body
    # The pair stays what the page knew: a stray retry cannot overwrite silently.
    assert f'name="version" value="{draft.version}"' in body
    assert "HX-Trigger" not in response


def test_keep_mine_resaves_against_the_current_version(agent_client, draft, office):
    colleague = OfficeAdminFactory(office=office)
    draft.save_field("city", "West Fargo", by=colleague, seen_version=draft.version, seen_value="Fargo")
    current = fresh(draft)

    response = agent_client.post(
        save_url(draft, "city"),
        field_post(draft, "Moorhead", seen="West Fargo", version=current.version),
        **htmx(),
    )

    assert response.status_code == 200
    assert fresh(draft).city == "Moorhead"


def test_a_change_to_another_field_meanwhile_merges_without_409(agent_client, draft, office):
    colleague = OfficeAdminFactory(office=office)
    draft.save_field("list_price", "300000", by=colleague, seen_version=draft.version, seen_value="250000")

    response = agent_client.post(
        save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo", version=draft.version), **htmx()
    )

    saved = fresh(draft)
    assert response.status_code == 200
    assert (saved.city, saved.list_price) == ("Moorhead", Decimal("300000"))
    assert saved.version == draft.version + 2


def test_a_save_whose_reply_was_lost_is_not_a_conflict_with_itself(agent_client, draft):
    # The first save arrived, its reply did not: the page still holds the old pair.
    agent_client.post(save_url(draft, "city"), field_post(draft, "Moorh", seen="Fargo"), **htmx())

    retry = agent_client.post(
        save_url(draft, "city"),
        field_post(draft, "Moorhead", seen="Fargo", version=draft.version, unconfirmed=["Moorh"]),
        **htmx(),
    )

    assert retry.status_code == 200
    assert fresh(draft).city == "Moorhead"


def test_an_unconfirmed_value_does_not_hide_a_real_conflict(agent_client, draft, office):
    colleague = OfficeAdminFactory(office=office)
    draft.save_field("city", "West Fargo", by=colleague, seen_version=draft.version, seen_value="Fargo")

    response = agent_client.post(
        save_url(draft, "city"),
        field_post(draft, "Moorhead", seen="Fargo", version=draft.version, unconfirmed=["Moorh"]),
        **htmx(),
    )

    assert response.status_code == 409
    assert fresh(draft).city == "West Fargo"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("list_price", "abc", "List price: enter a number."),
        ("list_price", "-5", "List price must be at least 0."),
        ("latitude", "91", "Latitude must be at most 90."),
        ("longitude", "east", "Longitude: enter a number."),
        ("year_built", "19.5", "Year built: enter a whole number"),
        ("beds_total", "-1", "Bedrooms must be at least 0."),
        ("property_type", "Z", "Property type: choose one from the list."),
        ("property_type", "", "Property type cannot be empty."),
        ("state_or_province", "North Dakota", "State: use the two-letter code, such as ND."),
    ],
)
def test_a_value_the_field_cannot_hold_is_422_and_nothing_is_saved(agent_client, draft, name, value, message):
    before = fresh(draft)

    response = agent_client.post(save_url(draft, name), field_post(draft, value, seen=""), **htmx())

    after = fresh(draft)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert "Ensure this value" not in response.content.decode()  # plain words, never Django's
    assert 'data-state="invalid"' in response.content.decode()
    assert getattr(after, name) == getattr(before, name)
    assert after.version == before.version
    assert not after.events.exists()


def test_a_price_is_read_as_people_type_it(agent_client, draft):
    response = agent_client.post(
        save_url(draft, "list_price"), field_post(draft, "$315,500", seen="250000"), **htmx()
    )

    assert response.status_code == 200
    assert fresh(draft).list_price == Decimal("315500")
    assert 'name="seen_value" value="315500"' in response.content.decode()


def test_state_and_postal_code_are_upper_cased(agent_client, draft):
    agent_client.post(save_url(draft, "state_or_province"), field_post(draft, "mn", seen="ND"), **htmx())
    agent_client.post(save_url(draft, "postal_code"), field_post(draft, "r3c 4t3", seen="58103"), **htmx())

    saved = fresh(draft)
    assert (saved.state_or_province, saved.postal_code) == ("MN", "R3C 4T3")


def test_remarks_keep_their_spacing_and_line_breaks(agent_client, draft):
    text = "First line.\r\n\r\nSecond paragraph  "

    agent_client.post(save_url(draft, "public_remarks"), field_post(draft, text, seen=""), **htmx())

    assert fresh(draft).public_remarks == "First line.\n\nSecond paragraph  "


def test_coordinates_also_announce_a_location_change(agent_client, draft):
    response = agent_client.post(save_url(draft, "latitude"), field_post(draft, "46.8772", seen=""), **htmx())

    assert response.status_code == 200
    assert fresh(draft).latitude == pytest.approx(46.8772)
    assert set(json.loads(response["HX-Trigger"])) == {"draft-saved", "draft-location-saved"}


def test_clearing_a_number_stores_null(agent_client, draft):
    response = agent_client.post(
        save_url(draft, "list_price"), field_post(draft, "", seen="250000"), **htmx()
    )

    assert response.status_code == 200
    assert fresh(draft).list_price is None


def test_co_listing_agent_is_chosen_from_the_same_office(agent_client, draft, office, other_office):
    colleague = AgentFactory(office=office)
    stranger = AgentFactory(office=other_office)

    ok = agent_client.post(save_url(draft, "co_list_agent"), field_post(draft, str(colleague.pk)), **htmx())
    refused = agent_client.post(
        save_url(draft, "co_list_agent"),
        field_post(fresh(draft), str(stranger.pk), seen=str(colleague.pk)),
        **htmx(),
    )

    assert ok.status_code == 200
    assert refused.status_code == 422
    saved = fresh(draft)
    assert saved.co_list_agent == colleague
    assert saved.events.get(field="co_list_agent").new_value == colleague.pk


def test_custom_fields_are_saved_as_groups_of_fields(agent_client, draft):
    body = {
        "version": draft.version,
        "seen_value": "{}",
        "cf_group": ["Lot", "Lot", "", ""],
        "cf_name": ["Lot Size Acres", "Zoning", "Heating", ""],
        "cf_value": ["0.42", "R-1", "Forced air", ""],
    }

    response = agent_client.post(save_url(draft, "custom_fields"), body, **htmx())

    assert response.status_code == 200
    assert fresh(draft).custom_fields == {
        "Lot": {"Lot Size Acres": "0.42", "Zoning": "R-1"},
        "General": {"Heating": "Forced air"},
    }


def test_custom_fields_keep_a_numbers_type_when_its_text_is_unchanged(agent_client, draft):
    Draft.objects.filter(pk=draft.pk).update(custom_fields={"Farm": {"Tillable Acres": 148}})
    seen = json.dumps({"Farm": {"Tillable Acres": 148}})
    body = {
        "version": draft.version,
        "seen_value": seen,
        "cf_group": ["Farm", "Farm"],
        "cf_name": ["Tillable Acres", "Soil"],
        "cf_value": ["148", "Loam"],
    }

    agent_client.post(save_url(draft, "custom_fields"), body, **htmx())

    assert fresh(draft).custom_fields == {"Farm": {"Tillable Acres": 148, "Soil": "Loam"}}


def test_custom_fields_with_a_duplicate_or_nameless_row_are_422(agent_client, draft):
    body = {
        "version": draft.version,
        "seen_value": "{}",
        "cf_group": ["Lot", "Lot", "Lot"],
        "cf_name": ["Zoning", "Zoning", ""],
        "cf_value": ["R-1", "R-2", "orphan"],
    }

    response = agent_client.post(save_url(draft, "custom_fields"), body, **htmx())

    assert response.status_code == 422
    assert "appears twice" in response.content.decode()
    assert "a name" in response.content.decode()
    assert fresh(draft).custom_fields == {}


def test_custom_fields_conflict_like_any_field(agent_client, draft, office):
    colleague = OfficeAdminFactory(office=office)
    draft.save_field("custom_fields", {"Lot": {"Zoning": "C-2"}}, by=colleague, seen_version=1, seen_value={})
    body = {
        "version": draft.version,
        "seen_value": "{}",
        "cf_group": ["Lot"],
        "cf_name": ["Zoning"],
        "cf_value": ["R-1"],
    }

    response = agent_client.post(save_url(draft, "custom_fields"), body, **htmx())

    assert response.status_code == 409
    assert "C-2" in response.content.decode() and "R-1" in response.content.decode()


def test_editing_a_reviewed_draft_sends_it_back_to_drafting(agent_client, draft):
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.CHANGES_REQUESTED)

    agent_client.post(save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo"), **htmx())

    saved = fresh(draft)
    assert saved.status == DraftStatus.DRAFT
    assert saved.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).count() == 1


def test_an_unknown_field_is_404(agent_client, draft):
    for name in ("status", "version", "office", "nonsense"):
        response = agent_client.post(save_url(draft, name), field_post(draft, "x"), **htmx())
        assert response.status_code == 404


def test_without_htmx_a_save_redirects_back_to_the_field(agent_client, draft):
    response = agent_client.post(save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo"))

    assert response.status_code == 302
    assert response["Location"] == reverse("drafts:draft_edit", args=[draft.pk]) + "#field-city"


def test_without_htmx_an_invalid_value_stays_in_its_input(agent_client, draft):
    response = agent_client.post(save_url(draft, "list_price"), field_post(draft, "lots", seen="250000"))

    assert response.status_code == 422
    body = response.content.decode()
    assert 'value="lots"' in body
    assert "List price: enter a number." in body
    assert fresh(draft).list_price == Decimal("250000")


def test_an_autosave_asks_the_database_only_what_it_needs(agent_client, draft, django_assert_num_queries):
    """The session, the user, the draft's row read locked (no joins; the access check and the
    row lock in one query), the MLS's layout, the update and the history row, with the savepoint
    around the save: no visibility check repeated, no second read of the row. A busy office
    sends one every few seconds per agent (bench/load)."""
    agent_client.get(reverse("drafts:draft_edit", args=[draft.pk]))  # the session as the page left it
    with django_assert_num_queries(8):
        response = agent_client.post(
            save_url(draft, "city"), field_post(draft, "Moorhead", seen="Fargo"), **htmx()
        )
    assert response.status_code == 200
    assert fresh(draft).city == "Moorhead"
