"""The list, the editor, history, nearby, trash and duplicate, through the test client."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from drafts.models import Draft, DraftEvent, DraftStatus
from tests.factories import AgentFactory, DraftFactory, OfficeAdminFactory

from .conftest import htmx

LIST = reverse("drafts:draft_list")


def listed(response) -> list[int]:
    return [draft.pk for draft, *_ in response.context["rows"]]


def edit_url(draft) -> str:
    return reverse("drafts:draft_edit", args=[draft.pk])


# --- The list ---


def test_agents_see_my_drafts_with_a_readiness_column(agent_client, draft):
    response = agent_client.get(LIST)

    body = response.content.decode()
    assert response.status_code == 200
    assert "My drafts" in body
    assert listed(response) == [draft.pk]
    assert "<meter" in body and "% ready" not in body  # the list shows the bare percent
    assert 'name="agent"' not in body  # no agent filter for agents


def test_admins_see_office_drafts_and_can_filter_by_agent(client, office):
    admin = OfficeAdminFactory(office=office)
    anna, ben = AgentFactory(office=office), AgentFactory(office=office)
    annas, bens = DraftFactory(list_agent=anna), DraftFactory(list_agent=ben)
    client.force_login(admin)

    everything = client.get(LIST)
    only_ben = client.get(LIST, {"agent": ben.pk})

    assert "Office drafts" in everything.content.decode()
    assert set(listed(everything)) == {annas.pk, bens.pk}
    assert listed(only_ben) == [bens.pk]


def test_search_by_address_words(agent_client, agent):
    main = DraftFactory(list_agent=agent, street_number="611", street_name="8th", city="Fargo")
    other = DraftFactory(list_agent=agent, street_number="1104", street_name="4th", city="Moorhead")

    assert listed(agent_client.get(LIST, {"q": "611 8th"})) == [main.pk]
    assert listed(agent_client.get(LIST, {"q": "moorhead"})) == [other.pk]
    assert listed(agent_client.get(LIST, {"q": "nowhere"})) == []


def test_filter_by_status_and_type(agent_client, agent):
    land = DraftFactory(list_agent=agent, property_type="C")
    submitted = DraftFactory(list_agent=agent, status=DraftStatus.SUBMITTED)

    assert listed(agent_client.get(LIST, {"property_type": "C"})) == [land.pk]
    assert listed(agent_client.get(LIST, {"status": "submitted"})) == [submitted.pk]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["cheap", "mid", "dear"]),
        ("-price", ["dear", "mid", "cheap"]),
        ("address", ["dear", "cheap", "mid"]),
        ("-updated", ["mid", "cheap", "dear"]),
    ],
)
def test_sorts(agent_client, agent, sort, expected):
    now = timezone.now()
    drafts = {
        "cheap": DraftFactory(
            list_agent=agent,
            list_price=100_000,
            city="Fargo",
            street_name="B",
            updated_at=now - timedelta(hours=2),
        ),
        "mid": DraftFactory(
            list_agent=agent,
            list_price=200_000,
            city="Moorhead",
            street_name="A",
            updated_at=now - timedelta(hours=1),
        ),
        "dear": DraftFactory(
            list_agent=agent,
            list_price=300_000,
            city="Fargo",
            street_name="A",
            updated_at=now - timedelta(hours=3),
        ),
    }

    response = agent_client.get(LIST, {"sort": sort})

    assert listed(response) == [drafts[name].pk for name in expected]


def test_pagination_keeps_the_filters(agent_client, agent):
    DraftFactory.create_batch(30, list_agent=agent, city="Fargo")

    first = agent_client.get(LIST, {"q": "Fargo", "sort": "price"})
    second = agent_client.get(LIST, {"q": "Fargo", "sort": "price", "page": 2})

    assert len(listed(first)) == 25 and len(listed(second)) == 5
    assert "q=Fargo&amp;sort=price&amp;page=2" in first.content.decode()


def test_htmx_filters_render_only_the_results_region(agent_client, draft):
    fragment = agent_client.get(LIST, {"q": "8th"}, **htmx())
    restore = agent_client.get(LIST, {"q": "8th"}, **htmx(HTTP_HX_HISTORY_RESTORE_REQUEST="true"))

    body = fragment.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body and 'id="filters"' not in body
    assert str(draft.unparsed_first_line_address) in body
    assert "<html" in restore.content.decode()


def test_an_invalid_filter_is_ignored(agent_client, draft):
    response = agent_client.get(LIST, {"status": "bogus", "sort": "nonsense", "page": "x"})

    assert response.status_code == 200
    assert listed(response) == [draft.pk]


@pytest.mark.parametrize("user_kind", ["agent", "office_admin", "company_admin"])
def test_list_query_count_does_not_grow_with_drafts(
    client, office, user_kind, django_assert_max_num_queries, django_assert_num_queries, request
):
    user = request.getfixturevalue(user_kind)
    agent = request.getfixturevalue("agent")
    client.force_login(user)
    colleague = AgentFactory(office=office)
    DraftFactory.create_batch(5, list_agent=agent, co_list_agent=colleague)
    client.get(LIST)  # warm the session and caches

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        client.get(LIST)
    DraftFactory.create_batch(45, list_agent=agent, co_list_agent=colleague)
    with django_assert_num_queries(len(five.captured_queries)):
        response = client.get(LIST)
    assert len(listed(response)) == 25
    # session, user, count, the page's ids (a union of index-ordered parts for an agent on
    # PostgreSQL) and then their rows (ListedDrafts), the MLS's layout (once for the page), the
    # header's office name, and the agent menus for admins
    assert len(five.captured_queries) == (7 if user_kind == "agent" else 8)


# --- Create ---


def test_new_draft_goes_straight_to_its_editor(agent_client, agent):
    response = agent_client.post(reverse("drafts:draft_create"), {"property_type": "C"})

    draft = Draft.objects.get()
    assert response.status_code == 302
    assert response["Location"] == edit_url(draft)
    assert (draft.list_agent, draft.office, draft.property_type) == (agent, agent.office, "C")
    assert draft.events.get().kind == DraftEvent.Kind.CREATED


def test_an_admin_starts_a_draft_for_an_agent_of_the_office(client, office, other_office):
    admin, agent = OfficeAdminFactory(office=office), AgentFactory(office=office)
    stranger = AgentFactory(office=other_office)
    client.force_login(admin)

    client.post(reverse("drafts:draft_create"), {"property_type": "A", "list_agent": agent.pk})
    client.post(reverse("drafts:draft_create"), {"property_type": "A", "list_agent": stranger.pk})

    draft = Draft.objects.get()
    assert (draft.list_agent, draft.created_by) == (agent, admin)


# --- The editor ---


def test_editor_shows_every_section_and_autosave_wiring(agent_client, draft):
    response = agent_client.get(edit_url(draft))

    body = response.content.decode()
    assert response.status_code == 200
    for section in ("Location", "Property", "Price", "Agents", "Rooms and baths", "Remarks", "Custom fields"):
        assert f">{section}</h2>" in body
    assert f'hx-post="{reverse("drafts:draft_field_save", args=[draft.pk, "city"])}"' in body
    assert 'hx-trigger="input changed delay:600ms, change, autosave-retry"' in body
    assert 'hx-target="#save-city"' in body
    assert 'id="rules"' in body
    # The summary is re-read by a wrapper that stays, the latest read queued behind one in flight.
    wiring = 'hx-trigger="draft-saved from:body delay:150ms" hx-sync="this:queue last" hx-swap="innerHTML"'
    assert wiring in body
    assert "<script>" not in body and " style=" not in body and "hx-on" not in body
    assert 'id="sync-badge"' in body


def test_editor_offers_only_agents_of_the_office_as_co_listing_agent(
    agent_client, draft, office, other_office
):
    colleague = AgentFactory(office=office)
    stranger = AgentFactory(office=other_office)

    choices = dict(agent_client.get(edit_url(draft)).context["sections"][3]["fields"][0].choices)

    assert str(colleague.pk) in choices
    assert str(stranger.pk) not in choices and str(draft.list_agent_id) not in choices


def test_editor_shows_rule_messages_next_to_fields_and_in_the_summary(agent_client, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None, baths_total=3, baths_full=1)

    body = agent_client.get(edit_url(draft)).content.decode()

    assert 'data-focus-field="id_beds_total"' in body
    assert "Total baths must equal full + three-quarter + half baths." in body
    assert '<ul class="field-rules" id="rules-baths_full"><li class="rule rule-error">' in body


def test_rules_fragment_refreshes_the_summary_and_every_fields_messages(agent_client, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None)

    body = agent_client.get(reverse("drafts:draft_rules", args=[draft.pk]), **htmx()).content.decode()

    assert body.lstrip().startswith('<section class="card rules" id="rules"')
    # An empty required field's message is marked to show once the field was left (app.js).
    assert 'id="rules-beds_total" hx-swap-oob="true"><li class="rule rule-error rule-missing">' in body
    assert 'id="readiness-head" hx-swap-oob="true"' in body
    assert 'id="readiness-side" hx-swap-oob' not in body


@pytest.mark.parametrize("filled", [False, True])
def test_editor_query_count_is_the_same_however_full_the_draft(
    agent_client, agent, office, filled, django_assert_num_queries
):
    draft = DraftFactory(list_agent=agent, latitude=46.87, longitude=-96.79)
    if filled:
        AgentFactory.create_batch(3, office=office)
        DraftFactory.create_batch(3, list_agent=agent, latitude=46.8701, longitude=-96.7901)
        Draft.objects.filter(pk=draft.pk).update(
            public_remarks="x" * 500, beds_total=3, baths_total=2, custom_fields={"Lot": {"Acres": "1"}}
        )
        for number in range(120):
            DraftEvent.record(
                draft, agent, DraftEvent.Kind.FIELD_CHANGED, field="city", old="a", new=str(number)
            )
    agent_client.get(edit_url(draft))

    # session, user, draft (+office, agents), the MLS's layout, co-listing choices, nearby, the
    # header's office name, its rooms, units, tours and videos, and for readiness its documents'
    # names and its photos (whether the MLS's room fields were read is kept with the layout)
    with django_assert_num_queries(10):
        agent_client.get(edit_url(draft))


def test_a_trashed_draft_opens_read_only_with_a_restore_button(agent_client, draft, agent):
    draft.move_to_trash(by=agent)

    body = agent_client.get(edit_url(draft)).content.decode()

    assert "This draft is in the trash" in body
    assert reverse("drafts:draft_restore", args=[draft.pk]) in body
    assert "data-autosave" not in body


# --- Nearby ---


def test_nearby_lists_visible_drafts_within_500_m_nearest_first(client, office, other_office):
    admin = OfficeAdminFactory(office=office)
    agent = AgentFactory(office=office)
    here = DraftFactory(list_agent=agent, latitude=46.8676, longitude=-96.7890)
    at_45_m = DraftFactory(list_agent=agent, latitude=46.86720, longitude=-96.7890)
    at_300_m = DraftFactory(list_agent=AgentFactory(office=office), latitude=46.8703, longitude=-96.7890)
    DraftFactory(list_agent=agent, latitude=46.8676, longitude=-96.7800)  # ~690 m east
    DraftFactory(list_agent=AgentFactory(office=other_office), latitude=46.8677, longitude=-96.7890)
    trashed = DraftFactory(list_agent=agent, latitude=46.8676, longitude=-96.78905)
    trashed.move_to_trash(by=agent)
    client.force_login(admin)

    response = client.get(reverse("drafts:draft_nearby", args=[here.pk]), **htmx())

    found = response.context["nearby"]
    assert [draft.pk for draft, _ in found] == [at_45_m.pk, at_300_m.pk]
    assert found[0][1] == pytest.approx(44.5, abs=2)
    assert f"{found[0][1]:.0f} m ·" in response.content.decode()


def test_an_agent_sees_only_their_own_drafts_nearby(agent_client, agent, office):
    here = DraftFactory(list_agent=agent, latitude=46.8676, longitude=-96.7890)
    mine = DraftFactory(list_agent=agent, latitude=46.8677, longitude=-96.7890)
    DraftFactory(list_agent=AgentFactory(office=office), latitude=46.8678, longitude=-96.7890)

    response = agent_client.get(reverse("drafts:draft_nearby", args=[here.pk]), **htmx())

    assert [draft.pk for draft, _ in response.context["nearby"]] == [mine.pk]


def test_the_nearby_list_reads_what_it_shows_in_one_query(agent, django_assert_num_queries):
    """Up to 500 candidates are read: only the shown columns, and nothing read again per row."""
    here = DraftFactory(list_agent=agent, latitude=46.8676, longitude=-96.7890)
    for step in range(3):
        DraftFactory(
            list_agent=agent, street_name=f"Elm {step}", latitude=46.8677 + step / 10000, longitude=-96.7890
        )

    with django_assert_num_queries(1):
        found = here.nearby(user=agent)
        shown = [(str(other), other.get_status_display(), str(other.list_agent)) for other, _ in found]

    assert len(shown) == 3 and all(agent_name == str(agent) for _, _, agent_name in shown)
    expected = sorted(str(other) for other in Draft.objects.filter(street_name__startswith="Elm "))
    assert sorted(address for address, _, _ in shown) == expected


# --- History ---


def test_history_lists_every_change_with_who_when_and_old_to_new(agent_client, draft, agent):
    draft.save_field("list_price", "275000", by=agent, seen_version=draft.version, seen_value="250000")
    draft.refresh_from_db()
    draft.save_field("property_type", "B", by=agent, seen_version=draft.version, seen_value="A")

    response = agent_client.get(reverse("drafts:draft_history", args=[draft.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "List price" in body and "$250,000" in body and "$275,000" in body
    assert "Residential" in body and "Multi Family" in body
    assert str(agent) in body


def test_history_is_paginated_and_the_fragment_is_only_the_list(agent_client, draft, agent):
    for number in range(60):
        DraftEvent.record(
            draft, agent, DraftEvent.Kind.FIELD_CHANGED, field="city", old="a", new=f"city-{number}"
        )
    url = reverse("drafts:draft_history", args=[draft.pk])

    first = agent_client.get(url)
    second = agent_client.get(url, {"page": 2}, **htmx())

    assert len(first.context["entries"]) == 50
    assert "city-59" in first.content.decode()
    assert len(second.context["entries"]) == 10
    assert second.content.decode().lstrip().startswith('<section id="history"')
    assert "city-0" in second.content.decode()


def test_history_cannot_be_changed_by_the_app(draft, agent, agent_client):
    event = DraftEvent.record(draft, agent, DraftEvent.Kind.FIELD_CHANGED, field="city", old="a", new="b")

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        DraftEvent.objects.filter(pk=event.pk).update(note="x")
    with pytest.raises(PermissionError):
        DraftEvent.objects.filter(pk=event.pk).delete()
    assert agent_client.post(reverse("drafts:draft_history", args=[draft.pk])).status_code == 405


# --- Trash and duplicate ---


def test_trash_hides_the_draft_and_the_trash_filter_shows_it(agent_client, draft, agent):
    response = agent_client.post(reverse("drafts:draft_trash", args=[draft.pk]))

    assert response.status_code == 302 and response["Location"] == LIST
    assert listed(agent_client.get(LIST)) == []
    trash = agent_client.get(LIST, {"trash": "on"})
    assert listed(trash) == [draft.pk]
    assert reverse("drafts:draft_restore", args=[draft.pk]) in trash.content.decode()
    assert Draft.objects.get(pk=draft.pk).events.filter(kind=DraftEvent.Kind.TRASHED).count() == 1


def test_restore_brings_it_back(agent_client, draft, agent):
    draft.move_to_trash(by=agent)

    response = agent_client.post(reverse("drafts:draft_restore", args=[draft.pk]))

    assert response.status_code == 302 and response["Location"] == edit_url(draft)
    assert listed(agent_client.get(LIST)) == [draft.pk]
    assert Draft.objects.get(pk=draft.pk).events.filter(kind=DraftEvent.Kind.RESTORED).count() == 1


def test_a_trashed_draft_cannot_be_edited_until_restored(agent_client, draft, agent):
    draft.move_to_trash(by=agent)
    url = reverse("drafts:draft_field_save", args=[draft.pk, "city"])

    response = agent_client.post(
        url, {"value": "X", "version": draft.version, "seen_value": "Fargo"}, **htmx()
    )

    assert response.status_code == 404


def test_duplicate_copies_the_listing_fields_not_the_history(agent_client, agent, office):
    colleague = AgentFactory(office=office)
    original = DraftFactory(
        list_agent=agent,
        co_list_agent=colleague,
        list_price=Decimal("199000"),
        custom_fields={"Lot": {"Zoning": "R-1"}},
        public_remarks="Sunny.",
    )
    DraftEvent.record(original, agent, DraftEvent.Kind.FIELD_CHANGED, field="city", old="a", new="b")

    response = agent_client.post(reverse("drafts:draft_duplicate", args=[original.pk]))

    copy = Draft.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302 and response["Location"] == edit_url(copy)
    assert (copy.list_price, copy.custom_fields, copy.public_remarks) == (
        Decimal("199000"),
        {"Lot": {"Zoning": "R-1"}},
        "Sunny.",
    )
    assert (copy.list_agent, copy.co_list_agent, copy.status, copy.version) == (agent, colleague, "draft", 1)
    assert list(copy.events.values_list("kind", flat=True).order_by("pk")) == ["created", "cloned"]
    assert copy.events.get(kind="cloned").new_value == original.pk
