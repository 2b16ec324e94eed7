"""The review queue: scoping, readiness, filters, sorting, the navigation's count, query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from drafts.models import Draft, DraftStatus
from tests.factories import (
    AgentFactory,
    CompanyAdminFactory,
    DocumentFactory,
    DraftFactory,
    OfficeAdminFactory,
    OfficeFactory,
    PhotoFactory,
)

from .conftest import htmx
from .test_transitions import COMPLETE

QUEUE = reverse("drafts:review_queue")
S = DraftStatus


def submitted(agent, *, hours_ago: float = 1, **values) -> Draft:
    return DraftFactory(
        list_agent=agent,
        status=S.SUBMITTED,
        submitted_at=timezone.now() - timedelta(hours=hours_ago),
        **values,
    )


def queued(response) -> list[int]:
    return [row.draft.pk for row in response.context["rows"]]


@pytest.fixture
def offices(office, other_office):
    """Two offices of one company and a third office of another company, with an agent each."""
    foreign_office = OfficeFactory()
    return {
        "mine": AgentFactory(office=office),
        "neighbour": AgentFactory(office=other_office),
        "foreign": AgentFactory(office=foreign_office),
    }


def test_office_admins_see_their_office_s_submitted_drafts_only(client, office_admin, offices):
    mine = submitted(offices["mine"])
    submitted(offices["neighbour"])
    submitted(offices["foreign"])
    DraftFactory(list_agent=offices["mine"])  # a draft, not submitted
    DraftFactory(list_agent=offices["mine"], status=S.APPROVED)
    trashed = submitted(offices["mine"])
    trashed.move_to_trash(by=offices["mine"])
    client.force_login(office_admin)

    response = client.get(QUEUE)

    assert response.status_code == 200
    assert queued(response) == [mine.pk]


def test_company_admins_see_the_company_s_submitted_drafts(client, office, offices):
    mine, neighbour = submitted(offices["mine"], hours_ago=3), submitted(offices["neighbour"], hours_ago=2)
    submitted(offices["foreign"])
    client.force_login(CompanyAdminFactory(office=office))

    response = client.get(QUEUE)

    assert queued(response) == [mine.pk, neighbour.pk]
    assert str(neighbour.office) in response.content.decode()  # the office is named for company admins


def test_agents_get_no_queue(agent_client):
    assert agent_client.get(QUEUE).status_code == 403


def test_the_queue_requires_login(client):
    response = client.get(QUEUE)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_rows_show_agent_age_readiness_photos_and_documents(client, office_admin, agent):
    draft = submitted(agent, hours_ago=50, **COMPLETE)
    for index in range(3):
        PhotoFactory(draft=draft, by=agent, original_name=f"p{index}.jpg")
    client.force_login(office_admin)

    response = client.get(QUEUE)

    (row,) = response.context["rows"]
    body = response.content.decode()
    assert row.photo_count == 3
    assert 90 <= row.percent < 100  # no error left, a warning or two
    assert row.errors == []
    assert [doc.name for doc in row.documents] == ["Seller's Disclosure", "Lead-Based Paint Disclosure"]
    assert row.missing_documents == ["Seller's Disclosure"]  # lead paint only matters before 1978
    assert str(agent) in body
    assert "2\xa0days" in body  # waiting since two days
    assert "Missing: Seller&#x27;s Disclosure" in body
    assert f'id="queue-row-{draft.pk}"' in body


def test_filters_by_agent_type_and_readiness(client, office_admin, office):
    anna, ben = AgentFactory(office=office), AgentFactory(office=office)
    ready = submitted(anna, **COMPLETE)
    PhotoFactory(draft=ready, by=anna)
    DocumentFactory(draft=ready, by=anna, name="Seller's Disclosure")
    errors = submitted(anna)  # no remarks, beds, baths
    land = submitted(ben, property_type="C", property_sub_type="", **COMPLETE)
    co_listed = submitted(ben, co_list_agent=anna, **COMPLETE)
    client.force_login(office_admin)

    def only(**query) -> set[int]:
        return set(queued(client.get(QUEUE, query)))

    assert only(agent=anna.pk) == {ready.pk, errors.pk, co_listed.pk}
    assert only(property_type="C") == {land.pk}
    assert only(readiness="ready") == {ready.pk}
    assert only(readiness="errors") == {errors.pk, land.pk}  # land needs Lot Size Acres
    assert only(readiness="photos") == {errors.pk, land.pk, co_listed.pk}
    assert ready.pk not in only(readiness="documents")
    assert only(agent=ben.pk, readiness="errors") == {land.pk}


def test_sorts(client, office_admin, agent):
    old = submitted(agent, hours_ago=30)
    recent = submitted(agent, hours_ago=1)
    middle = submitted(agent, hours_ago=5, **COMPLETE)
    client.force_login(office_admin)

    assert queued(client.get(QUEUE)) == [old.pk, middle.pk, recent.pk]  # waiting longest first
    assert queued(client.get(QUEUE, {"sort": "newest"})) == [recent.pk, middle.pk, old.pk]
    assert queued(client.get(QUEUE, {"sort": "-readiness"}))[0] == middle.pk
    assert queued(client.get(QUEUE, {"sort": "readiness"}))[-1] == middle.pk


def test_htmx_gets_the_queue_region(client, office_admin, agent):
    submitted(agent)
    client.force_login(office_admin)

    body = client.get(QUEUE, {"sort": "newest"}, **htmx()).content.decode()

    assert body.lstrip().startswith('<section id="queue"')
    assert "<nav" not in body


def test_the_sync_badge_region_is_left_for_the_sync_engine(client, office_admin, agent):
    submitted(agent)
    client.force_login(office_admin)

    body = client.get(QUEUE).content.decode()

    assert 'class="sync-cell"' in body


# --- The navigation ------------------------------------------------------------------------------


def test_the_navigation_counts_drafts_awaiting_review(client, office_admin, offices):
    for _ in range(3):
        submitted(offices["mine"])
    submitted(offices["neighbour"])
    DraftFactory(list_agent=offices["mine"])
    client.force_login(office_admin)

    body = client.get(reverse("drafts:draft_list")).content.decode()

    assert 'id="nav-review-count">3<' in body


def test_company_admins_count_the_whole_company(client, office, offices):
    submitted(offices["mine"])
    submitted(offices["neighbour"])
    submitted(offices["foreign"])
    client.force_login(CompanyAdminFactory(office=office))

    body = client.get(reverse("drafts:draft_list")).content.decode()

    assert 'id="nav-review-count">2<' in body


def test_agents_have_no_queue_link(agent_client, agent):
    submitted(agent)

    body = agent_client.get(reverse("drafts:draft_list")).content.decode()

    assert QUEUE not in body
    assert "nav-review-count" not in body


def test_an_empty_queue_hides_the_count(client, office_admin):
    client.force_login(office_admin)

    body = client.get(reverse("drafts:draft_list")).content.decode()

    assert 'id="nav-review-count" hidden>0<' in body


def test_the_list_links_submitted_drafts_to_their_review(client, office_admin, agent):
    draft = submitted(agent)
    client.force_login(office_admin)

    body = client.get(reverse("drafts:draft_list")).content.decode()

    assert reverse("drafts:draft_review", args=[draft.pk]) in body


# --- Query counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("admin_kind", ["office_admin", "company_admin"])
def test_the_queue_s_query_count_does_not_grow_with_drafts(
    client, office, admin_kind, django_assert_num_queries
):
    admin = (OfficeAdminFactory if admin_kind == "office_admin" else CompanyAdminFactory)(office=office)
    agents = [AgentFactory(office=office) for _ in range(3)]

    def fill(count: int) -> None:
        for index in range(count):
            draft = submitted(agents[index % 3], co_list_agent=agents[(index + 1) % 3])
            PhotoFactory(draft=draft, by=draft.list_agent)
            DocumentFactory(draft=draft, by=draft.list_agent, name="Seller's Disclosure")

    fill(2)
    client.force_login(admin)
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as few:
        client.get(QUEUE)
    fill(20)
    # session, user (+office), agent menu, drafts (+photo count), their documents, the MLS's
    # layout (once), the nav's counts
    with django_assert_num_queries(7):
        response = client.get(QUEUE, {"sort": "-readiness"})
    assert len(few.captured_queries) == 7
    assert len(response.context["rows"]) == 22


def test_the_navigation_counts_in_one_query(client, office_admin, agent, django_assert_num_queries):
    """The nav's counts replace the office lookup the header made before (see test_pages)."""
    submitted(agent)
    client.force_login(office_admin)
    client.get(reverse("accounts:inbox"))

    # session, user (+office), the inbox's count, its unread count, the nav's counts (one query)
    with django_assert_num_queries(5):
        client.get(reverse("accounts:inbox"))


def test_each_row_shows_its_sync_state(client, office, agent):
    from mls.models import DraftSync, SyncState

    synced = submitted(agent)
    failing = submitted(agent)
    DraftSync.objects.create(draft=synced, state=SyncState.SYNCED, confirmed_seq=synced.change_seq)
    DraftSync.objects.create(
        draft=failing,
        state=SyncState.ATTENTION,
        error_message="The MLS kept failing",
        confirmed_seq=0,
    )
    client.force_login(OfficeAdminFactory(office=office))
    page = client.get(reverse("drafts:review_queue")).content.decode()
    assert f'id="sync-badge-{synced.pk}" class="sync-badge sync-synced"' in page
    assert f'id="sync-badge-{failing.pk}" class="sync-badge sync-attention"' in page
