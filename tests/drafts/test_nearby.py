"""Draft.nearby: its query is compiled once per reach, and finds what the ORM's query finds."""

import pytest

from drafts.models import Draft
from drafts.models.draft import haversine_metres
from tests.factories import AgentFactory, DraftFactory, OfficeFactory, UserFactory

from .conftest import CAST_PEOPLE, Cast

PEOPLE = [
    *CAST_PEOPLE,
    "superuser",
    "nobody",  # nearby() without a user: every live draft of the company
]


@pytest.fixture
def neighbours(cast: Cast) -> list[Draft]:
    """Drafts around cast.draft, listed by each kind of person, one trashed, one of another
    company, one outside 500 m."""
    here = {"latitude": 46.8676, "longitude": -96.7890}
    drafts = [
        DraftFactory(list_agent=cast.agent, latitude=46.8677, longitude=-96.7890),
        DraftFactory(list_agent=cast.office_agent, co_list_agent=cast.agent, **here),
        DraftFactory(list_agent=cast.office_agent, latitude=46.8700, longitude=-96.7890),
        DraftFactory(list_agent=cast.other_office_agent, latitude=46.8650, longitude=-96.7895),
        DraftFactory(list_agent=cast.other_company_agent, **here),
        DraftFactory(list_agent=cast.agent, latitude=46.8676, longitude=-96.7800),  # ~690 m east
    ]
    trashed = DraftFactory(list_agent=cast.agent, **here)
    trashed.move_to_trash(by=cast.agent)
    return drafts


def _person(cast: Cast, name: str):
    if name == "superuser":
        return UserFactory(office=None, is_superuser=True)
    if name == "nobody":
        return None
    return cast.actor(name)


def _through_the_orm(draft: Draft, user) -> list[tuple[int, float]]:
    """What nearby() finds, worked out with the ORM on every draft."""
    scope = Draft.objects.visible_to(user) if user is not None else Draft.objects.all()
    found = []
    for other in scope.active().filter(office__company_id=draft.office.company_id).exclude(pk=draft.pk):
        metres = haversine_metres(draft.latitude, draft.longitude, other.latitude, other.longitude)
        if metres <= 500:
            found.append((other.pk, metres))
    return sorted(found, key=lambda pair: pair[1])


@pytest.mark.django_db
@pytest.mark.parametrize("name", PEOPLE)
def test_finds_what_the_orm_finds_for_everyone(cast, neighbours, name):
    user = _person(cast, name)
    expected = _through_the_orm(cast.draft, user)

    for _ in range(2):  # compiling, then compiled
        found = cast.draft.nearby(user=user)
        assert [(other.pk, metres) for other, metres in found] == expected


@pytest.mark.django_db
def test_each_user_and_draft_gets_their_own_parameters(cast, neighbours):
    """The compiled query of one agent (or draft) is not the answer for another of the same reach."""
    agents_drafts = {pk for pk, _ in _through_the_orm(cast.draft, cast.agent)}
    office_agents_drafts = {pk for pk, _ in _through_the_orm(cast.draft, cast.office_agent)}
    assert agents_drafts and office_agents_drafts and agents_drafts != office_agents_drafts

    assert {other.pk for other, _ in cast.draft.nearby(user=cast.agent)} == agents_drafts
    assert {other.pk for other, _ in cast.draft.nearby(user=cast.office_agent)} == office_agents_drafts
    elsewhere = DraftFactory(list_agent=cast.agent, office=OfficeFactory(), latitude=0.0, longitude=0.0)
    DraftFactory(list_agent=cast.agent, office=elsewhere.office, latitude=0.0001, longitude=0.0)
    assert [other.office_id for other, _ in elsewhere.nearby(user=cast.agent)] == [elsewhere.office_id]


@pytest.mark.django_db
def test_shows_the_agents_name_and_address_without_reading_more(cast, neighbours, django_assert_num_queries):
    cast.draft.nearby(user=cast.office_admin)  # compiled

    with django_assert_num_queries(1):
        found = cast.draft.nearby(user=cast.office_admin)
        shown = [(str(other), other.get_status_display(), str(other.list_agent)) for other, _ in found]

    expected = {other.pk: other for other in Draft.objects.select_related("list_agent")}
    assert shown == [
        (str(expected[other.pk]), expected[other.pk].get_status_display(), str(expected[other.pk].list_agent))
        for other, _ in found
    ]


@pytest.mark.django_db
def test_the_query_is_compiled_once_per_reach(cast, neighbours, compiled):
    cast.draft.nearby(user=cast.agent)
    first = compiled.count(Draft)
    assert first >= 1
    for user in (cast.agent, cast.co_agent, AgentFactory(office=cast.draft.office)):
        cast.draft.nearby(user=user)
    neighbours[0].nearby(user=cast.agent)
    assert compiled.count(Draft) == first
    cast.draft.nearby(user=cast.office_admin)  # another reach: compiled once more
    assert compiled.count(Draft) == first + 1
