"""The list's counts kept by the database (DraftTally): always equal to counting the drafts."""

import importlib
import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from drafts.models import Draft, DraftStatus, DraftTally
from tests.factories import (
    AgentFactory,
    CompanyAdminFactory,
    DraftFactory,
    OfficeAdminFactory,
    OfficeFactory,
    UserFactory,
)

LIST = reverse("drafts:draft_list")


def counted() -> Counter:
    """The tally as it should be, counted from the drafts: (office, user or None, status, trashed) -> n."""
    expected: Counter = Counter()
    for office, status, trashed, *people in Draft.objects.values_list(
        "office_id", "status", "deleted_at", "list_agent_id", "co_list_agent_id", "created_by_id"
    ):
        expected[office, None, status, trashed is not None] += 1
        for person in set(people) - {None}:
            expected[office, person, status, trashed is not None] += 1
    return expected


def tallied() -> Counter:
    rows = DraftTally.objects.values_list("office_id", "user_id", "status", "trashed", "n")
    return Counter({tuple(key): n for *key, n in rows if n})


def assert_exact() -> None:
    assert tallied() == counted()
    assert not DraftTally.objects.filter(n__lt=0).exists()


@pytest.fixture
def cast(office, other_office):
    agent, colleague = AgentFactory(office=office), AgentFactory(office=office)
    return {
        "agent": agent,
        "colleague": colleague,
        "stranger": AgentFactory(office=other_office),
        "office_admin": OfficeAdminFactory(office=office),
        "company_admin": CompanyAdminFactory(office=other_office),
        "superuser": UserFactory(office=None, role=Role.AGENT, is_superuser=True, is_staff=True),
        "other_company_admin": CompanyAdminFactory(office=OfficeFactory()),
    }


def test_every_kind_of_change_keeps_the_tally_exact(cast, office, other_office):
    agent, colleague, stranger = cast["agent"], cast["colleague"], cast["stranger"]
    drafts = DraftFactory.create_batch(4, list_agent=agent)
    foreign = DraftFactory(list_agent=stranger, co_list_agent=agent)
    assert_exact()

    drafts[0].status = DraftStatus.SUBMITTED
    drafts[0].save()
    drafts[1].list_agent = colleague
    drafts[1].save(update_fields=["list_agent"])
    drafts[2].co_list_agent = colleague
    drafts[2].save()
    drafts[3].co_list_agent = agent  # the same person twice on one draft counts once
    drafts[3].save()
    assert_exact()

    drafts[2].move_to_trash(by=agent)
    assert_exact()
    drafts[2].restore_from_trash(by=agent)
    drafts[0].move_to_trash(by=agent)
    assert_exact()

    Draft.objects.filter(pk=drafts[3].pk).update(office=other_office, created_by=stranger)
    Draft.objects.filter(list_agent=agent).update(status=DraftStatus.APPROVED)
    Draft.objects.filter(pk=foreign.pk).update(co_list_agent=None, deleted_at=timezone.now())
    assert_exact()

    # Drafts with history cannot be deleted (DraftEvent protects them); the others can.
    Draft.objects.get(pk=drafts[1].pk).delete()
    assert_exact()
    Draft.objects.filter(events__isnull=True).delete()
    assert_exact()
    assert Draft.objects.count() == 2


def test_a_change_of_other_columns_touches_no_tally_row(draft):
    """Autosaves (and save() writing every column) leave the tally alone: the trigger's WHEN."""
    DraftTally.objects.update(n=999)
    draft.list_price = 1
    draft.save()
    Draft.objects.filter(pk=draft.pk).update(city="Moorhead", deleted_at=None, status=draft.status)
    assert set(DraftTally.objects.values_list("n", flat=True)) == {999}


def test_a_rolled_back_change_leaves_the_tally_as_it_was(draft, agent):
    before = tallied()
    with pytest.raises(RuntimeError), transaction.atomic():
        DraftFactory(list_agent=agent)
        draft.move_to_trash(by=agent)
        raise RuntimeError("rolled back")
    assert tallied() == before == counted()


def test_the_migration_fills_the_tally_from_the_drafts_as_they_are(cast):
    DraftFactory.create_batch(3, list_agent=cast["agent"], co_list_agent=cast["colleague"])
    DraftFactory(list_agent=cast["stranger"], status=DraftStatus.SUBMITTED, deleted_at=timezone.now())
    DraftTally.objects.update(n=5)
    migration = importlib.import_module("drafts.migrations.0012_draft_tally")
    with connection.cursor() as cursor:
        for statement in migration.fill_sql():
            cursor.execute(statement)
    assert_exact()


ROLES = [
    "agent",
    "colleague",
    "stranger",
    "office_admin",
    "company_admin",
    "superuser",
    "other_company_admin",
]


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_count_is_what_counting_their_drafts_gives(cast, role, office, other_office):
    agent, colleague = cast["agent"], cast["colleague"]
    DraftFactory.create_batch(3, list_agent=agent, co_list_agent=colleague)
    DraftFactory(list_agent=colleague, created_by=agent, status=DraftStatus.SUBMITTED)
    DraftFactory(list_agent=cast["stranger"], co_list_agent=agent).move_to_trash(by=agent)
    DraftFactory(list_agent=AgentFactory(office=OfficeFactory()))
    user = cast[role]
    for trashed in (False, True):
        for status in (None, DraftStatus.DRAFT, DraftStatus.SUBMITTED):
            drafts = Draft.objects.visible_to(user)
            drafts = drafts.in_trash() if trashed else drafts.active()
            drafts = drafts.filter(status=status) if status else drafts
            assert DraftTally.objects.visible_count(user, status=status, trashed=trashed) == drafts.count()


@pytest.mark.parametrize("role", ["agent", "office_admin", "company_admin", "superuser"])
def test_the_list_shows_the_same_count_and_pages_for_each_role(client, cast, role):
    DraftFactory.create_batch(26, list_agent=cast["agent"], co_list_agent=cast["colleague"])
    DraftFactory(list_agent=cast["colleague"], status=DraftStatus.SUBMITTED)
    client.force_login(cast[role])
    for query in ({}, {"page": 2}, {"status": "submitted"}, {"trash": "on"}):
        page = client.get(LIST, query).context["page"]
        expected = Draft.objects.visible_to(cast[role])
        expected = expected.in_trash() if query.get("trash") else expected.active()
        if query.get("status"):
            expected = expected.filter(status=query["status"])
        assert page.paginator.count == expected.count()
        assert [draft.pk for draft in page.object_list] == list(
            expected.order_by("-updated_at", "-pk").values_list("pk", flat=True)[
                (page.number - 1) * 25 : page.number * 25
            ]
        )


def test_a_filtered_list_is_counted_not_tallied(client, cast):
    DraftFactory.create_batch(3, list_agent=cast["agent"])
    DraftFactory(list_agent=cast["agent"], city="Moorhead")
    DraftFactory(list_agent=cast["colleague"], property_type="C")
    client.force_login(cast["office_admin"])
    DraftTally.objects.update(n=999)  # a tally read by mistake would show
    assert client.get(LIST, {"q": "moorhead"}).context["page"].paginator.count == 1
    assert client.get(LIST, {"property_type": "C"}).context["page"].paginator.count == 1
    assert client.get(LIST, {"agent": cast["agent"].pk}).context["page"].paginator.count == 4
    assert client.get(LIST).context["page"].paginator.count == 999


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_in_one_office_lose_no_increment():
    agents = AgentFactory.create_batch(2, office=OfficeFactory())
    DraftFactory(list_agent=agents[0])  # the office's row exists: both transactions update it
    start = threading.Barrier(2)

    def create(agent):
        try:
            start.wait()
            for _ in range(10):
                with transaction.atomic():
                    DraftFactory(list_agent=agent)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_exact()
    assert DraftTally.objects.visible_count(OfficeAdminFactory(office=agents[0].office)) == 21


@pytest.mark.parametrize("role", ["office_admin", "company_admin", "superuser", "other_company_admin"])
def test_the_headers_review_count_is_the_tallys_and_what_counting_gives(cast, role):
    from drafts.review import awaiting_review_for
    from drafts.templatetags.nav_tags import nav_counts

    DraftFactory.create_batch(2, list_agent=cast["agent"], status=DraftStatus.SUBMITTED)
    DraftFactory(list_agent=cast["stranger"], status=DraftStatus.SUBMITTED)
    DraftFactory(list_agent=cast["agent"], status=DraftStatus.SUBMITTED).move_to_trash(by=cast["agent"])
    DraftFactory(list_agent=cast["agent"])
    user = cast[role]
    assert nav_counts(user).awaiting_review == awaiting_review_for(user).count()


def test_drafts_deleted_after_their_tally_leave_no_negative_counts(agent):
    """A test database's flush empties the tables in any order: the tally may go first."""
    DraftFactory.create_batch(2, list_agent=agent)
    DraftTally.objects.all().delete()
    Draft.objects.all().delete()
    assert not DraftTally.objects.exists()
    DraftFactory(list_agent=agent)
    assert_exact()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
@pytest.mark.django_db(transaction=True)  # a TRUNCATE waits for no deferred foreign-key checks
def test_a_truncate_of_the_drafts_empties_the_tally(agent):
    """TRUNCATE fires no row trigger: a statement trigger keeps the tally from counting gone drafts."""
    DraftFactory.create_batch(2, list_agent=agent)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE drafts_draft CASCADE")
    assert not DraftTally.objects.exists()
    DraftFactory(list_agent=agent)
    assert_exact()


def test_a_users_count_follows_their_office_role_and_activity(office, other_office):
    """The count's SELECT is kept per what it reads of the user: a move, a new role or a
    deactivation counts what the user now sees, not what the kept SELECT saw."""
    DraftFactory.create_batch(2, list_agent=AgentFactory(office=office))
    DraftFactory(list_agent=AgentFactory(office=other_office))
    admin = OfficeAdminFactory(office=office)
    assert DraftTally.objects.visible_count(admin) == 2
    admin.office = other_office
    admin.save()
    assert DraftTally.objects.visible_count(admin) == 1
    admin.role = Role.COMPANY_ADMIN
    admin.save()
    assert DraftTally.objects.visible_count(admin) == Draft.objects.visible_to(admin).active().count()
    admin.role = Role.AGENT
    admin.save()
    assert DraftTally.objects.visible_count(admin) == 0
    admin.is_active = False
    assert DraftTally.objects.visible_count(admin) == 0
    narrowed = DraftTally.objects.filter(office=office)
    assert narrowed.visible_count(UserFactory(is_superuser=True)) == 2
