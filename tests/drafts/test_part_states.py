"""Where each room, unit, tour and video stands with the MLS, in the editor: the state of each
line read from the sync engine's mirror (one query for all the parts of a page), the poll that
runs while something is on its way and stops once all is settled, and the notice on units a
draft holds while its property type has none. The sync engine's own part (refusals from the
sandbox, units taken out of the MLS) is in tests/mls/test_sync_parts.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from drafts.models import Draft, ListingPart
from drafts.part_views import name_fields
from mls.models import DraftSync, RemotePart
from mls.part_records import record_hash
from tests.factories import AgentFactory, DraftFactory

from .conftest import htmx

TOUR_LINK = "https://my.matterport.com/show/?m=abc123"


def edit_url(draft: Draft) -> str:
    return reverse("drafts:draft_edit", args=[draft.pk])


def states_url(draft: Draft, kind: str) -> str:
    return reverse("drafts:part_states", args=[draft.pk, kind])


def confirm(part: ListingPart, **values) -> RemotePart:
    """The engine's record of `part` as the MLS confirmed it (what a push leaves behind)."""
    variant, attributes = part.remote_records()[0]
    defaults = dict(remote_id=f"R{part.pk}", attributes=attributes, content_sha256=record_hash(attributes))
    return RemotePart.objects.create(
        draft=part.draft, kind=part.kind, local_id=part.pk, variant=variant, **{**defaults, **values}
    )


def synced(draft: Draft) -> None:
    draft.refresh_from_db()
    DraftSync.objects.update_or_create(
        draft=draft,
        defaults=dict(state="synced", confirmed_seq=draft.change_seq, last_synced_at=timezone.now()),
    )


def state_of(body: str, part: ListingPart) -> str:
    found = re.search(rf'<p class="part-state part-state-(\w+)" id="part-state-{part.pk}"', body)
    return found.group(1) if found else ""


def poll_trigger(body: str, kind: str) -> str | None:
    found = re.search(rf'<div id="parts-{kind}-poll"[^>]*>', body)
    assert found, "the region has its poller"
    trigger = re.search(r'hx-trigger="([^"]+)"', found.group(0))
    return trigger.group(1) if trigger else None


@pytest.fixture
def tours(draft, agent):
    one = ListingPart.objects.add(draft, "tour", by=agent, name="One", url=TOUR_LINK)
    two = ListingPart.objects.add(draft, "tour", by=agent, name="Two", url=TOUR_LINK + "2")
    return one, two


def test_each_line_says_where_it_stands_and_the_list_polls_while_one_is_on_its_way(
    agent_client, draft, tours
):
    one, two = tours
    confirm(one)
    confirm(two, remote_id="", sending=True, sending_since=timezone.now())
    synced(draft)
    DraftSync.objects.filter(pk=draft.pk).update(confirmed_seq=0, state="pending")

    body = agent_client.get(edit_url(draft)).content.decode()
    assert state_of(body, one) == "synced" and "In the MLS" in body
    assert state_of(body, two) == "sending" and "Sending…" in body
    assert poll_trigger(body, "tour") == "every 3s"


def test_a_changed_part_waits_and_the_poll_stops_once_all_are_in_the_mls(agent_client, draft, tours, agent):
    one, two = tours
    confirm(one)
    confirm(two)
    synced(draft)
    body = agent_client.get(edit_url(draft)).content.decode()
    assert state_of(body, one) == state_of(body, two) == "synced"
    assert poll_trigger(body, "tour") is None

    # An edit through the editor: the line waits for the push, and the region looks again.
    response = agent_client.post(
        reverse("drafts:part_edit", args=[draft.pk, two.pk]),
        {f"part{two.pk}-name": "Two, renamed", f"part{two.pk}-url": TOUR_LINK + "2"},
        **htmx(),
    )
    region = response.content.decode()
    assert state_of(region, two) == "waiting" and "Waiting" in region
    assert state_of(region, one) == "synced"
    assert poll_trigger(region, "tour") == "every 5s"

    # The push confirms it: the poll's answer swaps each state in place and stops polling.
    two.refresh_from_db()
    RemotePart.objects.filter(local_id=two.pk).update(content_sha256=record_hash(two.remote_records()[0][1]))
    synced(draft)
    answer = agent_client.get(states_url(draft, "tour"), **htmx()).content.decode()
    assert f'id="part-state-{two.pk}" hx-swap-oob="true"' in answer
    assert state_of(answer, two) == "synced"
    assert 'id="parts-tour-poll" hidden hx-swap-oob="true"' in answer  # no trigger: stopped
    assert "part-form" not in answer  # a form being filled in is left alone


def test_a_refusal_shows_the_mls_words_next_to_the_part_naming_the_field(agent_client, draft, agent):
    room = ListingPart.objects.add(draft, "room", by=agent, fields={"RoomName": "Kitchen"})
    draft.refresh_from_db()
    confirm(
        room,
        remote_id="",
        label="Room 1 (Kitchen)",
        failed_seq=draft.change_seq,
        error_message="Room 1 (Kitchen): LevelOrFloor: 'Attic' is not one of its list values",
    )
    DraftSync.objects.update_or_create(
        draft=draft, defaults=dict(state="failed", blocked_seq=draft.change_seq, confirmed_seq=0)
    )

    body = agent_client.get(edit_url(draft)).content.decode()
    assert state_of(body, room) == "refused"
    assert (
        "The MLS refused this:</strong> LevelOrFloor: &#x27;Attic&#x27; is not one of its list values" in body
    )
    assert "Room 1 (Kitchen):" not in body  # the line itself says which room
    assert poll_trigger(body, "room") is None  # refused is settled: a person acts next

    # Shown again in the form that fixes it.
    form = agent_client.get(reverse("drafts:part_edit", args=[draft.pk, room.pk]), **htmx()).content.decode()
    assert "The MLS refused this:" in form


def test_the_mls_attribute_names_read_as_the_form_labels_them():
    labels = {"LevelOrFloor": "Room Level", "RoomName": "Room Name"}
    assert (
        name_fields("LevelOrFloor: 'Attic' is not one of its list values; RoomName: 'Garage' is not", labels)
        == "Room Level: 'Attic' is not one of its list values; Room Name: 'Garage' is not"
    )
    assert name_fields("MyLevelOrFloors stays", labels) == "MyLevelOrFloors stays"


def test_the_states_of_every_part_are_read_in_one_query(agent_client, agent):
    few = DraftFactory(list_agent=agent)
    ListingPart.objects.add(few, "tour", by=agent, name="One", url=TOUR_LINK)
    many = DraftFactory(list_agent=agent)
    for number in range(3):
        part = ListingPart.objects.add(many, "tour", by=agent, name=f"T{number}", url=TOUR_LINK)
        confirm(part)
        ListingPart.objects.add(many, "video", by=agent, name=f"V{number}", url="https://youtu.be/abc")
        ListingPart.objects.add(many, "room", by=agent, fields={"RoomName": f"R{number}"})
    counts = []
    for draft in (few, many):
        agent_client.get(edit_url(draft))
        with CaptureQueriesContext(connection) as queries:
            agent_client.get(edit_url(draft))
        counts.append(len(queries.captured_queries))
        assert sum("mls_remotepart" in query["sql"] for query in queries.captured_queries) == 1
    assert counts[0] == counts[1]


def test_a_draft_without_parts_asks_nothing_of_the_mirror(agent_client, draft):
    with CaptureQueriesContext(connection) as queries:
        agent_client.get(edit_url(draft))
    assert not any("mls_remotepart" in query["sql"] for query in queries.captured_queries)


def test_units_on_a_draft_no_longer_multi_family_are_not_sent_and_the_section_says_so(agent_client, agent):
    building = DraftFactory(list_agent=agent, property_type="B", property_sub_type="DU")
    for name in ("Studio", "1 Bedroom"):
        ListingPart.objects.add(building, "unit", by=agent, fields={"unit_nbr": name})
    Draft.objects.filter(pk=building.pk).update(property_type="A", property_sub_type="SF")

    body = agent_client.get(edit_url(building)).content.decode()
    section = body[body.index('id="section-parts-units"') :]
    section = section[: section.index("</section>")]
    assert (
        "Units are only for Multi Family listings: these 2 units will not be sent to the MLS while "
        "this is Residential." in section
    )
    # Not sent, so no state and no poll on them.
    assert "part-state-waiting" not in section and 'hx-trigger="every' not in section


def test_the_poll_needs_login_and_the_draft_and_answers_htmx_only(client, draft, agent, tours, other_office):
    url = states_url(draft, "tour")
    assert client.get(url, **htmx()).status_code == 302  # to the sign-in page
    client.force_login(AgentFactory(office=other_office))
    assert client.get(url, **htmx()).status_code == 404
    client.force_login(agent)
    assert client.get(reverse("drafts:part_states", args=[draft.pk, "nope"]), **htmx()).status_code == 404
    plain = client.get(url)
    assert plain.status_code == 302 and plain["Location"].endswith("#parts-tour")
    assert client.post(url, **htmx()).status_code == 405


def test_a_part_not_yet_in_the_mls_is_sending_while_the_push_is_under_way(agent_client, draft, tours):
    one, _two = tours
    DraftSync.objects.update_or_create(
        draft=draft,
        defaults=dict(lease_owner="host:1:abc", lease_expires_at=timezone.now() + dt.timedelta(minutes=1)),
    )
    body = agent_client.get(edit_url(draft)).content.decode()
    assert state_of(body, one) == "sending"
    assert poll_trigger(body, "tour") == "every 3s"


def test_a_draft_in_the_trash_shows_no_part_states(agent_client, draft, tours, agent):
    draft.move_to_trash(by=agent)
    body = agent_client.get(edit_url(draft)).content.decode()
    assert 'class="part-state part-state-' not in body
    assert 'hx-trigger="every' not in body[body.index('id="parts-tour"') :]
