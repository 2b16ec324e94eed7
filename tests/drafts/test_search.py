"""The list's search and filters read their count with the page's keys, in one query
(`ListedDrafts(expected_window=...)`): every page shows the drafts the plain ORM filter gives, in
its order, with its count, however the page, the filters and the viewer vary."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from drafts.forms import DraftFilterForm
from drafts.models import Draft, DraftStatus, ListedDrafts
from listings_portal.compiled_get import CACHE_ATTRIBUTE
from tests.factories import AgentFactory, DraftFactory

LIST = reverse("drafts:draft_list")
PAGE_SIZE = 25

STREETS = ["Elm", "Broadway", "University", "Main", "Oak", "8th", "Prairie Rose"]
CITIES = ["Fargo", "West Fargo", "Moorhead"]


@pytest.fixture
def office_drafts(office, agent):
    """60 drafts of the office (two agents, the second co-listing some), with repeated prices and
    addresses so that sorts meet ties, two of them trashed."""
    colleague = AgentFactory(office=office)
    drafts = []
    for n in range(60):
        drafts.append(
            DraftFactory(
                list_agent=agent if n % 3 else colleague,
                co_list_agent=colleague if n % 4 == 0 and n % 3 else None,
                street_number=str(100 + n % 9),
                street_name=STREETS[n % len(STREETS)],
                city=CITIES[n % len(CITIES)],
                postal_code="58103" if n % 2 else "56560",
                list_price=Decimal(100_000 + (n % 5) * 50_000) if n % 11 else None,
                status=DraftStatus.SUBMITTED if n % 6 == 0 else DraftStatus.DRAFT,
                property_type="AB"[n % 2],
            )
        )
    for draft in drafts[:2]:
        Draft.objects.filter(pk=draft.pk).update(deleted_at=draft.created_at)
    return drafts


QUERIES = [
    {"q": "elm"},
    {"q": "ELM", "sort": "price"},
    {"q": "fargo", "sort": "-price"},
    {"q": "west fargo", "sort": "address"},
    {"q": "10", "sort": "-address", "page": "2"},
    {"q": "fargo", "page": "2"},
    {"q": "fargo", "page": "3"},  # past the end: the Paginator shows the last page
    {"q": "fargo", "page": "nope"},
    {"q": "nowhere"},
    {"q": "nowhere", "page": "4"},
    {"q": "o", "status": "submitted", "sort": "status"},
    {"q": "rose", "property_type": "A", "sort": "updated"},
    {"property_type": "B", "page": "2"},
    {"q": "elm", "trash": "on"},
    {"q": "%"},
    {"q": "_"},
    {"q": "\\"},
    {"q": "fargo elm 10 o", "sort": "-updated"},  # long and short words: one shape
    {"q": "o fargo", "property_type": "B", "status": "draft"},
    {"q": 'it\'s "elm"'},
    {"q": "a b c d e"},  # more words than shapes are kept for: the ORM builds it
]


def expected_pages(user, params) -> tuple[int, list[int]]:
    """The count and the page's keys as the plain ORM filter and Django's Paginator give them."""
    from django.core.paginator import Paginator

    form = DraftFilterForm(params, user=user)
    everything = form.filter(Draft.objects.visible_to(user))
    page = Paginator(everything, PAGE_SIZE).get_page(params.get("page"))
    return page.paginator.count, [draft.pk for draft in page.object_list]


@pytest.mark.parametrize("user_kind", ["agent", "office_admin", "company_admin"])
def test_every_search_page_is_the_plain_filters_page(client, user_kind, office_drafts, request):
    user = request.getfixturevalue(user_kind)
    client.force_login(user)
    params_list = [*QUERIES]
    if user_kind != "agent":
        params_list.append({"q": "fargo", "agent": office_drafts[0].list_agent_id, "sort": "price"})
    for params in params_list:
        count, keys = expected_pages(user, params)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(LIST, params, headers=headers)
            assert response.status_code == 200
            assert response.context["page"].paginator.count == count, params
            assert [row.draft.pk for row in response.context["rows"]] == keys, params
    assert_every_shape_compiled()


@pytest.mark.parametrize("user_kind", ["agent", "office_admin"])
def test_a_search_counts_and_reads_its_keys_in_one_query(client, user_kind, office_drafts, request):
    """An agent's too, whose drafts PostgreSQL reads as a union of the three ways."""
    user = request.getfixturevalue(user_kind)
    client.force_login(user)
    client.get(LIST, {"q": "fargo"})  # warm the session and caches
    with CaptureQueriesContext(connection) as searched:
        response = client.get(LIST, {"q": "fargo"})
    assert response.context["page"].paginator.count == expected_pages(user, {"q": "fargo"})[0]
    reads = [query["sql"] for query in searched.captured_queries if '"drafts_draft"' in query["sql"]]
    counts = [sql for sql in reads if "COUNT(" in sql]
    # One read of the matches (their count beside the page's keys), then the page's rows.
    assert len(counts) == 1 and "MATERIALIZED" in counts[0]
    assert len(reads) == 2


def listed(user, window: slice | None, **filters) -> ListedDrafts:
    drafts = DraftFilterForm(filters, user=user).filter(Draft.objects.visible_to(user))
    return ListedDrafts(drafts, [drafts], rows=Draft.objects.all(), expected_window=window)


def test_the_count_read_with_the_keys_is_the_count(office_admin, office_drafts):
    keys = list(listed(office_admin, None, q="fargo").everything.values_list("pk", flat=True))
    assert len(keys) == 38

    first = listed(office_admin, slice(0, 25), q="fargo")
    assert first.count() == 38
    with CaptureQueriesContext(connection) as read:
        assert [draft.pk for draft in first[0:25]] == keys[0:25]
    assert len(read.captured_queries) == 1  # the rows only: the keys came with the count

    last = listed(office_admin, slice(25, 50), q="fargo")
    assert last.count() == 38
    with CaptureQueriesContext(connection) as read:
        # The Paginator asks for the last page up to the count.
        assert [draft.pk for draft in last[25:38]] == keys[25:38]
    assert len(read.captured_queries) == 1


def test_a_window_past_the_end_or_another_window_is_counted_and_read_again(office_admin, office_drafts):
    keys = list(listed(office_admin, None, q="fargo").everything.values_list("pk", flat=True))

    past = listed(office_admin, slice(100, 125), q="fargo")
    assert past.count() == 38
    assert [draft.pk for draft in past[25:38]] == keys[25:38]

    elsewhere = listed(office_admin, slice(25, 50), q="fargo")
    assert elsewhere.count() == 38
    assert [draft.pk for draft in elsewhere[0:25]] == keys[0:25]

    nothing = listed(office_admin, slice(0, 25), q="nowhere")
    with CaptureQueriesContext(connection) as read:
        assert nothing.count() == 0
        assert nothing[0:0] == []
    assert len(read.captured_queries) == 1

    unexpected = listed(office_admin, None, q="fargo")
    assert unexpected.count() == 38
    assert [draft.pk for draft in unexpected[0:25]] == keys[0:25]


# --- The address search's words (on SQLite through its trigram index, migration 0013) ---


def plain_address_match(text: str):
    """`matching_address` as the LIKEs alone say it: what the trigram index must not change."""
    from django.db.models import Q

    query = Q()
    for word in text.split():
        query &= (
            Q(street_number__icontains=word)
            | Q(street_name__icontains=word)
            | Q(city__icontains=word)
            | Q(postal_code__icontains=word)
            | Q(subdivision_name__icontains=word)
        )
    return Draft.objects.filter(query)


SEARCHES = [
    "elm",
    "ELM",
    "Elm 101",
    "west fargo",
    "rose prairie",
    "58103",
    "5810",
    "10",
    "1",
    "fa",
    "st. jean",
    "ÉCOLE",
    "école",
    "Ecole",
    "\u00e9cole",
    '"quoted"',
    'qu"ote',
    "%",
    "50%",
    "_",
    "a_c",
    "OR",
    "NEAR",
    "elm*",
    "(elm)",
    "ørsted",
    "ØRSTED",
    "nowhere",
]


def drafts_at(agent, addresses) -> None:
    """One draft of `agent`'s at each (number, street, city, postal code, subdivision)."""
    for number, street, city, postal, subdivision in addresses:
        DraftFactory(
            list_agent=agent,
            street_number=number,
            street_name=street,
            city=city,
            postal_code=postal,
            subdivision_name=subdivision,
        )


def test_every_address_search_matches_what_the_likes_alone_match(agent):
    addresses = [
        ("101", "Elm", "Fargo", "58103", ""),
        ("12", "Prairie Rose", "West Fargo", "58078", "Rose Creek"),
        ("7", "École", "St. Jean", "56560", ""),
        ("8", "école", "Moorhead", "56560", "50% Off"),
        ("9", 'The "Quoted" Way', "Fargo", "58103", "a_c"),
        ("10", "Ørsted", "Fargo", "58103", "abc"),
        ("11", "Or Near", "Fargo", "58103", "(elm)"),
    ]
    drafts_at(agent, addresses)
    if connection.vendor == "sqlite":
        assert "draft_address_search MATCH" in str(Draft.objects.matching_address("elm").query)
    for text in SEARCHES:
        expected = sorted(plain_address_match(text).values_list("pk", flat=True))
        assert sorted(Draft.objects.matching_address(text).values_list("pk", flat=True)) == expected, text


@pytest.mark.parametrize("user_kind", ["agent", "office_admin", "company_admin"])
def test_every_word_searched_through_the_compiled_sql_finds_what_the_orm_finds(client, user_kind, request):
    """The list's count-with-keys SQL is compiled once per shape with stand-in words; each word's
    LIKE pattern and trigram phrase are made as Django makes them, wildcards and quotes escaped."""
    user = request.getfixturevalue(user_kind)
    agent = user if user_kind == "agent" else request.getfixturevalue("agent")
    addresses = [
        ("101", "Elm", "Fargo", "58103", ""),
        ("7", "École", "St. Jean", "56560", ""),
        ("8", "école", "Moorhead", "56560", "50% Off"),
        ("9", 'The "Quoted" Way', "Fargo", "58103", "a_c"),
        ("10", "Ørsted", "Fargo", "58103", "a\\c"),
        ("11", "Or Near", "Fargo", "58103", "(elm)"),
        ("12", "O'Hara", "Fargo", "58103", "it's"),
    ]
    drafts_at(agent, addresses)
    client.force_login(user)
    texts = [*SEARCHES, "\\", "a\\c", "a\\", "it's", "o'hara", "%%", "_c", "é", "ø", "10 fargo", "fa 58103"]
    for text in texts:
        for params in ({"q": text}, {"q": text, "sort": "address", "property_type": "A"}):
            count, keys = expected_pages(user, params)
            response = client.get(LIST, params)
            assert response.context["page"].paginator.count == count, params
            assert [row.draft.pk for row in response.context["rows"]] == keys, params
    assert_every_shape_compiled()


def assert_every_shape_compiled() -> None:
    """Every list shape's SQL was told apart by its stand-ins: none was left to the ORM."""
    compiled = connections[DEFAULT_DB_ALIAS].__dict__[CACHE_ATTRIBUTE]
    shapes = [value for key, value in compiled.items() if key[0] == "listed-count"]
    assert shapes and None not in shapes


def test_a_shaped_list_is_not_built_when_its_compiled_sql_answers(office_admin, office_drafts):
    """The form's querysets are built for the stand-ins once per connection and shape; the
    request's own only where the compiled SQL cannot answer (here: never)."""
    shown = Draft.objects.all()
    built = []

    def shaped(q: str) -> ListedDrafts:
        form = DraftFilterForm({"q": q, "sort": "price"}, user=office_admin)
        shape = form.list_shape(shown, office_admin)
        assert shape is not None

        def lists():
            built.append(q)
            return shape.lists()

        return ListedDrafts(
            None, rows=shown, expected_window=slice(0, 25), shape=dataclasses.replace(shape, lists=lists)
        )

    for q in ("fargo", "elm", "west fargo"):
        count, keys = expected_pages(office_admin, {"q": q, "sort": "price"})
        listed = shaped(q)
        assert listed.ordered
        assert listed.count() == count
        assert [draft.pk for draft in listed[0 : min(count, 25)]] == keys
    assert built == []
    # A window past the end is read again by the ORM: the list is then built.
    past = ListedDrafts(None, rows=shown, expected_window=slice(100, 125), shape=shaped("fargo").shape)
    assert past.count() == 38
    assert len(past.everything.values_list("pk", flat=True)) == 38


def test_more_words_than_shapes_are_kept_for_have_no_shape(office_admin):
    form = DraftFilterForm({"q": "a b c d e"}, user=office_admin)
    assert form.list_shape(Draft.objects.all(), office_admin) is None
    assert DraftFilterForm({"q": "a b c d"}, user=office_admin).list_shape(Draft.objects.all(), office_admin)


def test_the_index_follows_each_change_of_an_address(agent):
    draft = DraftFactory(list_agent=agent, street_name="Elm", city="Fargo")

    def found(text: str) -> list[int]:
        return list(Draft.objects.matching_address(text).values_list("pk", flat=True))

    assert found("elm") == [draft.pk]
    draft.street_name = "Broadway"
    draft.save()
    assert found("elm") == [] and found("broadway") == [draft.pk]
    Draft.objects.filter(pk=draft.pk).update(subdivision_name="Elmwood")
    assert found("elmwood") == [draft.pk] and found("broadway") == [draft.pk]
    Draft.objects.filter(pk=draft.pk).update(list_price=1)  # no address column: no index change
    assert found("elmwood") == [draft.pk]
    copies = Draft.objects.bulk_create([DraftFactory.build(list_agent=agent, city="Moorhead")])
    assert found("moorhead") == [copies[0].pk]
    Draft.objects.filter(pk=draft.pk).delete()
    assert found("elmwood") == [] and found("broadway") == []
