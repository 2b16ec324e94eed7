"""Which drafts a person sees, and how the list searches, sorts and finds drafts nearby."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IContains

from listings_portal.compiled_get import (
    WINDOW_STAND_IN,
    CompiledRows,
    compile_get,
    compile_rows,
    compiled_once,
    stand_in_key,
    window_values,
)

from .status import DraftStatus

# The list's sort keys: the query string value -> the ordering it means.
SORTS: dict[str, tuple[str, ...]] = {
    "-updated": ("-updated_at", "-pk"),
    "updated": ("updated_at", "pk"),
    "-price": ("-list_price", "-pk"),
    "price": ("list_price", "pk"),
    "address": ("city", "street_name", "street_number", "pk"),
    "-address": ("-city", "-street_name", "-street_number", "-pk"),
    "status": ("status", "-updated_at", "-pk"),
}

KM_PER_DEGREE_OF_LATITUDE = 111.0
# A degree of longitude shrinks to nothing at the poles; the floor keeps the box finite there.
MIN_LONGITUDE_SCALE = 0.01


# The only columns a list's row reads of its sync state, its agents and its office besides their
# keys: the sync badge's (mls.templatetags.sync.badge_html: the state, its sequence numbers, lease,
# retry, error and refusal), a person by `User.__str__`, an office by its name. The sync row's
# other columns are mostly JSON (the confirmed fields, the orders), decoded for every row otherwise.
ROW_RELATION_COLUMNS = {
    "sync": (
        "state",
        "confirmed_seq",
        "blocked_seq",
        "lease_owner",
        "lease_expires_at",
        "verify_after",
        "next_attempt_at",
        "error_message",
        "refused_at",
        "refused_fields",
        "last_synced_at",
        "create_sent_at",
    ),
    "list_agent": ("first_name", "last_name", "username"),
    "co_list_agent": ("first_name", "last_name", "username"),
    "office": ("name",),
}


@functools.cache
def _row_relations_unread(model, relations: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of `relations` that a row does not read (ROW_RELATION_COLUMNS), as defer() names."""
    unread = []
    for relation, shown in ROW_RELATION_COLUMNS.items():
        if relation not in relations:
            continue
        related = model._meta.get_field(relation).related_model
        unread += [
            f"{relation}__{field.name}"
            for field in related._meta.concrete_fields
            if not field.primary_key and field.name not in shown
        ]
    return tuple(unread)


# Stand-ins for a page's keys while its SELECT is compiled (never a draft's key).
_KEY_STAND_IN_BASE = -3_000_000_000


def _compiled_once(drafts: DraftQuerySet, pks: Sequence[int]) -> list | None:
    """The drafts of `drafts` (no filters) whose keys are `pks`, through a SELECT compiled once
    per connection, joins, columns and number of keys (`compiled_get`); None where it cannot be
    compiled, for the ORM to read them."""
    if not pks:
        return []
    query = drafts.query
    # Everything that shapes the SQL besides the keys (`drafts` has no filters, order or slice).
    shape = ("in_order_of", drafts.model, repr(query.select_related), *query.deferred_loading, len(pks))
    stand_ins = {_KEY_STAND_IN_BASE - index: f"key{index}" for index in range(len(pks))}
    compiled = compiled_once(
        drafts.db,
        shape,
        lambda: compile_get(
            drafts.order_by().filter(pk__in=list(stand_ins)), drafts.db, stand_ins, many=True
        ),
    )
    if compiled is None:
        return None
    return compiled.fetch_all({f"key{index}": functools.partial(int, pk) for index, pk in enumerate(pks)})


# SQLite's trigram index of the address columns (migration 0013): the drafts whose columns may
# hold a phrase. A word shorter than a trigram matches nothing there, so it is not asked.
ADDRESS_TRIGRAM_MATCH = "SELECT rowid FROM draft_address_search WHERE draft_address_search MATCH %s"
ADDRESS_TRIGRAM_LENGTH = 3


def address_trigram_phrase(word: str) -> str:
    """`word` as an FTS5 phrase: quoted, so none of its characters is query syntax."""
    return '"' + word.replace('"', '""') + '"'


def like_contains(connection, word: str) -> str:
    """The parameter Django gives `field__icontains=word` on `connection`: the word with its
    LIKE wildcards (and the escape character) escaped, between `%`s."""
    pattern = connection.ops.prep_for_like_query(word)
    if not connection.features.pattern_lookup_needs_param_pattern:
        return pattern
    return IContains.param_pattern % pattern


# The ways an agent comes to see a draft: each has an index in the list's order.
AGENT_WAYS = ("list_agent", "co_list_agent", "created_by")


def reach_of(user) -> str:
    """How far `user` sees: "nothing", "everything", "company", "office" or "own" (an agent's
    AGENT_WAYS). One answer for `visible_to`, `visible_ways` and the tally's count
    (`DraftTally.objects.visible_count`), so they cannot disagree."""
    if not user.is_authenticated or not user.is_active:
        return "nothing"
    if user.is_superuser:
        return "everything"
    if user.office_id is None:
        return "nothing"
    if user.is_company_admin:
        return "company"
    if user.is_office_admin:
        return "office"
    return "own"


def box_around(
    latitude: float, longitude: float, km: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (low, high) latitudes and longitudes of the box `km` around a point, each way."""
    lat_delta = km / KM_PER_DEGREE_OF_LATITUDE
    lon_delta = km / (KM_PER_DEGREE_OF_LATITUDE * max(math.cos(math.radians(latitude)), MIN_LONGITUDE_SCALE))
    return (latitude - lat_delta, latitude + lat_delta), (longitude - lon_delta, longitude + lon_delta)


def user_with_keys(user, *, pk: int, office_pk: int, company_pk: int):
    """A copy of `user` (same role, so the same `reach_of`) whose own, office's and company's
    keys are the given stand-ins: what a query of `visible_to` is compiled once with."""
    stand_in = copy.copy(user)
    stand_in.pk = pk
    stand_in.office_id = office_pk
    office_field = type(stand_in).office.field
    office_field.set_cached_value(stand_in, office_field.related_model(pk=office_pk, company_id=company_pk))
    return stand_in


class DraftQuerySet(models.QuerySet["Draft"]):
    def visible_to(self, user) -> DraftQuerySet:
        """Drafts `user` may see: the one scoping rule every view goes through.

        Agents see drafts they list, co-list or created; office admins their office's;
        company admins their company's; anyone else nothing.
        """
        reach = reach_of(user)
        if reach == "nothing":
            return self.none()
        if reach == "everything":
            return self
        if reach == "company":
            return self.filter(office__company_id=user.office.company_id)
        if reach == "office":
            return self.filter(office_id=user.office_id)
        own = Q()
        for way in AGENT_WAYS:
            own |= Q(**{way: user})
        return self.filter(own)

    def visible_ways(self, user) -> list[DraftQuerySet]:
        """`visible_to(user)` as the sets it is the union of: an agent's three (listed, co-listed,
        created, each with an index in the list's order), anyone else's one."""
        if reach_of(user) == "own":
            return [self.filter(**{way: user}) for way in AGENT_WAYS]
        return [self.visible_to(user)]

    def with_row_relations(self, *, agents: bool = True, office: bool = True) -> DraftQuerySet:
        """With what a list's row shows of its relations, joined: the sync state, and the agents'
        and the office's names where the row shows them (an agent's own list names no agent; only
        a list that spans offices names the office). Their other columns are left out: rows never
        read them, and each selected column costs the query's compilation and every row's loading
        (two users were half of the list query's columns)."""
        relations = ["sync"]
        relations += ["list_agent", "co_list_agent"] if agents else []
        relations += ["office"] if office else []
        return self.select_related(*relations).defer(*_row_relations_unread(self.model, tuple(relations)))

    def in_order_of(self, pks: Sequence[int]) -> list:
        """The drafts of this set whose keys are `pks`, in that order (a key not found is left
        out). For a set without filters, such as `with_row_relations()`, the SELECT is compiled
        once per database, joins, columns and number of keys: the ORM compiling a list's
        many-column, four-table SELECT was a third of the page's Python calls."""
        query = self.query
        filtered = query.where or query.annotations or query.extra or query.distinct or query.combinator
        found = None if filtered or query.is_sliced else _compiled_once(self, pks)
        if found is None:
            found = list(self.order_by().filter(pk__in=pks))
        by_pk = {draft.pk: draft for draft in found}
        return [by_pk[pk] for pk in pks if pk in by_pk]

    def active(self) -> DraftQuerySet:
        return self.filter(deleted_at__isnull=True)

    def in_trash(self) -> DraftQuerySet:
        return self.filter(deleted_at__isnull=False)

    def matching_address(self, text: str) -> DraftQuerySet:
        """Drafts whose address columns hold each word of `text`, in any case. On SQLite the
        drafts that may hold a word come from its trigram index (migration 0013) and the LIKEs
        judge only those: the index folds case at least as widely as SQLite's LIKE, so it never
        leaves out a draft the LIKEs would match."""
        trigrams = connections[self.db].vendor == "sqlite"
        query = Q()
        for word in text.split():
            query &= (
                Q(street_number__icontains=word)
                | Q(street_name__icontains=word)
                | Q(city__icontains=word)
                | Q(postal_code__icontains=word)
                | Q(subdivision_name__icontains=word)
            )
            if trigrams and len(word) >= ADDRESS_TRIGRAM_LENGTH:
                # A constant query; the word is its parameter.
                query &= Q(pk__in=RawSQL(ADDRESS_TRIGRAM_MATCH, [address_trigram_phrase(word)]))  # noqa: S611
        return self.filter(query)

    def ordered_by(self, sort: str) -> DraftQuerySet:
        """Ordered by one of SORTS' keys; an unknown key means most recently updated first."""
        return self.order_by(*SORTS.get(sort, SORTS["-updated"]))

    def awaiting_review(self) -> DraftQuerySet:
        return self.filter(status=DraftStatus.SUBMITTED)

    def within_box(self, latitude: float, longitude: float, km: float) -> DraftQuerySet:
        return self.within_bounds(*box_around(latitude, longitude, km))

    def within_bounds(self, latitudes: tuple[float, float], longitudes: tuple[float, float]) -> DraftQuerySet:
        return self.filter(latitude__range=latitudes, longitude__range=longitudes)


@dataclass(frozen=True)
class ListShape:
    """A list's querysets as they would be built with stand-ins for the request's values, so the
    SQL that counts it and reads a page's keys is compiled once per connection and `key`.

    `key`: everything that shapes that SQL besides the stand-ins' values. `build()`: the list's
    (everything, ways) filtered with the stand-ins, and the stand-ins (each as its SQL's
    parameter -> its name). `values`: each name -> the request's value, read only if the SQL
    has it. `lists()`: the list's (everything, ways) for the request's values, built only where the
    compiled SQL does not answer (the ORM building a search's filters was ~1k Python calls)."""

    key: tuple
    build: Callable[[], tuple[DraftQuerySet, list[DraftQuerySet], Mapping[Any, str]]]
    lists: Callable[[], tuple[DraftQuerySet, list[DraftQuerySet]]]
    values: Mapping[str, Callable[[], Any]]


@dataclass(frozen=True)
class _CompiledCount:
    """The count-with-keys SQL of a ListShape, compiled on one connection; `roles`: per parameter
    of the matches' SQL, its stand-in's name (the window's LIMIT and OFFSET follow them)."""

    sql: str
    roles: tuple[str, ...]
    ordered: bool  # the list's `ordered`, the same for every list of the shape


class ListedDrafts:
    """The drafts a list shows, for a Paginator: `everything` (one ordered queryset), also given
    as `ways`, the ordered querysets whose union it is (see `DraftQuerySet.visible_ways`).

    An agent's drafts are those they list, co-list or created: as one WHERE with an OR, PostgreSQL
    reads every one of them (a bitmap of three indexes) and sorts them all for a page of 25; at
    100,000 drafts an agent's list took several times the office's. Where the database can order
    and limit the parts of a UNION, the page is instead the union of each way's first rows, each
    read in order from its index, and the count a union of three index-only scans.
    """

    def __init__(
        self,
        everything: DraftQuerySet | None,
        ways: Sequence[DraftQuerySet] = (),
        *,
        rows: DraftQuerySet | None = None,
        known_count: int | None = None,
        expected_window: slice | None = None,
        shape: ListShape | None = None,
    ) -> None:
        """`known_count`: the list's count when it is known without counting (`DraftTally`).
        `expected_window`: the slice of the page the request asks for, so that a count the tally
        cannot give is read with that page's keys, in one scan of the matches, not two.
        `shape`: the list built with stand-ins, for that count's SQL compiled once per shape (the
        ORM compiling a search's five LIKEs per word was ~1.2k Python calls of every search);
        with it, `everything` may be None (with `rows` given): the shape's `lists()` then builds
        `everything` and `ways` if they are needed."""
        if everything is None and (shape is None or rows is None):
            raise TypeError("ListedDrafts needs `everything`, or a shape and the rows to build it from")
        self._lists = None if everything is None else (everything, list(ways))
        # What a page's rows are read from by their keys, with the joins and columns they show
        # (no filters: the keys come from `everything` or `ways`); `everything` when not given.
        self.rows = rows
        # The database the list is read from (`rows` is of the same model, with no filters).
        self._alias = everything.db if everything is not None else rows.db  # type: ignore[union-attr]
        self.known_count = known_count
        self.expected_window = expected_window
        self.shape = shape
        # The keys read with the count: (the window's start, its keys, whether the list ends there).
        self._counted_keys: tuple[int, list[int], bool] | None = None

    @property
    def everything(self) -> DraftQuerySet:
        return self._built()[0]

    @property
    def ways(self) -> list[DraftQuerySet]:
        return self._built()[1]

    def _built(self) -> tuple[DraftQuerySet, list[DraftQuerySet]]:
        if self._lists is None:
            everything, ways = self.shape.lists()  # type: ignore[union-attr]  # __init__ checks it
            self._lists = (everything, list(ways))
        return self._lists

    @property
    def ordered(self) -> bool:
        """As a queryset's (the Paginator warns of an unordered list), known from the compiled
        shape without building the list."""
        compiled = self._compiled_count() if self._lists is None else None
        return compiled.ordered if compiled is not None else self.everything.ordered

    def _by_union(self) -> bool:
        """Only with an explicit order (the union's parts need one) where the database can order
        and limit a UNION's parts (PostgreSQL; SQLite cannot, and sorts an agent's few itself)."""
        features = connections[self._alias].features
        return (
            len(self.ways) > 1
            and bool(self.everything.query.order_by)
            and features.supports_slicing_ordering_in_compound
        )

    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        counted = self._count_with_expected_keys()
        if counted is not None:
            return counted
        if not self._by_union():
            return self.everything.count()
        first, *rest = (way.order_by().values("id") for way in self.ways)
        return first.union(*rest).count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list:
        if not isinstance(window, slice) or window.step is not None:
            raise TypeError("ListedDrafts takes a slice of a page")
        start, stop = window.start or 0, window.stop
        if stop is not None and stop <= start:  # an empty list's first page is [0:0]: nothing to build
            return []
        keys = self._keys_read_with_count(window)
        if keys is None:
            keys = self._compiled_keys(window)
        if keys is not None:
            return (self.everything if self.rows is None else self.rows).in_order_of(keys)
        if self.rows is None and not self._by_union():
            return list(self.everything[window])
        if self._by_union() and stop is None:
            return []
        # The page's keys, then their rows by a SELECT compiled once (`in_order_of`).
        found = _keys_query(self.everything, self.ways, window)
        shown = self.everything if self.rows is None else self.rows
        return shown.in_order_of([] if found is None else [row[0] for row in found])

    def _compiled_keys(self, window: slice) -> list[int] | None:
        """`window`'s keys through the shape's query of a page of keys, compiled once per
        connection and shape (the window's LIMIT and OFFSET are stand-ins too): the ORM built an
        agent's three ways, their union and its SQL on every page (~2.8k Python calls). None
        without a shape or rows, or where it cannot be compiled (the ORM reads them then)."""
        shape, alias = self.shape, self._alias
        if shape is None or self.rows is None or window.stop is None:
            return None

        def compile_keys() -> CompiledRows | None:
            everything, ways, stand_ins = shape.build()
            keys = _keys_query(everything, list(ways), WINDOW_STAND_IN)
            return None if keys is None else compile_rows(keys, alias, stand_ins, windowed=True)

        compiled = compiled_once(alias, ("listed-keys", *shape.key), compile_keys)
        if compiled is None:
            return None
        return [row[0] for row in compiled.fetch({**shape.values, **window_values(window)})]

    def _count_with_expected_keys(self) -> int | None:
        """The count, read with the expected window's keys by one query: the matches (their keys
        and sort columns) are found once, kept as a materialized CTE, counted and sorted there,
        where a COUNT(*) and then the page's keys found them twice (an address search reads
        every draft of the office that may match to count it). None where it cannot tell: no
        expected window, an order that is not of plain columns, or a window past the end.

        Not `COUNT(*) OVER ()` beside each key: PostgreSQL 15 costs a window over the whole set
        as if a LIMIT above it could stop early, and so reads a search sorted by date through
        the office's date index, every row of the office (90 ms at 100,000 drafts, against
        11 ms for the trigram bitmap)."""
        window = self.expected_window
        if window is None:
            return None
        start, stop = window.start or 0, window.stop
        if stop is None or stop <= start:
            return None
        compiled = self._compiled_count()
        if compiled is not None:
            values = self.shape.values  # type: ignore[union-attr]  # compiled from the shape
            sql, params = compiled.sql, [values[role]() for role in compiled.roles]
        else:
            counting = _count_sql(self.everything, self.ways)
            if counting is None:
                return None
            sql, params = counting
        if not sql:  # a set of nothing (`.none()`)
            self._counted_keys = (start, [], True)
            return 0
        with connections[self._alias].cursor() as cursor:
            cursor.execute(sql, [*params, int(stop - start), int(start)])
            rows = cursor.fetchall()
        if not rows and start > 0:
            return None  # past the end: the count is unknown
        self._counted_keys = (start, [pk for pk, _ in rows], len(rows) < stop - start)
        return rows[0][1] if rows else 0

    def _compiled_count(self) -> _CompiledCount | None:
        """The shape's count-with-keys SQL, compiled once per connection and shape; None without
        a shape, or where its SQL cannot be told apart by stand-ins (the ORM's SQL is then used)."""
        shape = self.shape
        if shape is None:
            return None

        def compile_count() -> _CompiledCount | None:
            everything, ways, stand_ins = shape.build()
            counting = _count_sql(everything, ways)
            if counting is None:
                return None
            sql, params = counting
            # A parameter that is no stand-in's (unhashable ones included) leaves it to the ORM.
            typed = {stand_in_key(value): role for value, role in stand_ins.items()}
            roles = [typed.get(stand_in_key(param)) for param in params]
            if None in roles:
                return None
            return _CompiledCount(
                sql=sql, roles=tuple(role for role in roles if role is not None), ordered=everything.ordered
            )

        return compiled_once(self._alias, ("listed-count", *shape.key), compile_count)

    def _keys_read_with_count(self, window: slice) -> list[int] | None:
        """The keys of `window` if they are among those read with the count, else None."""
        if self._counted_keys is None:
            return None
        start, keys, at_end = self._counted_keys
        wanted_start, wanted_stop = window.start or 0, window.stop
        if wanted_start < start:
            return None
        read_stop = start + len(keys)
        if wanted_stop is None or wanted_stop > read_stop:
            if not at_end:
                return None
            wanted_stop = read_stop
        return keys[wanted_start - start : max(wanted_stop - start, 0)]

    @staticmethod
    def _column(term: str) -> str:
        """An order_by term as a column of the union ("pk" has no meaning there)."""
        descending, name = term.startswith("-"), term.lstrip("-")
        return ("-" if descending else "") + ("id" if name == "pk" else name)


def _keys_query(
    everything: DraftQuerySet, ways: Sequence[DraftQuerySet], window: slice
) -> models.QuerySet | None:
    """The query of `window`'s keys (each the first value of its row), in the list's order; None
    where it reads nothing. Where the database can order and limit a UNION's parts (as
    ListedDrafts._by_union), the union of each way's first rows."""
    features = connections[everything.db].features
    if not (len(ways) > 1 and everything.query.order_by and features.supports_slicing_ordering_in_compound):
        return everything.values_list("pk")[window]
    start, stop = window.start or 0, window.stop
    ordering = [ListedDrafts._column(term) for term in everything.query.order_by]
    names = list(dict.fromkeys(["id", *(term.lstrip("-") for term in ordering)]))
    firsts = [way.values_list(*names).order_by(*ordering) for way in ways]
    firsts = [part for part in firsts if not part.query.is_empty()]  # union() drops them
    if not firsts:
        return None
    if len(firsts) == 1:
        return firsts[0][start:stop]
    return firsts[0][:stop].union(*(part[:stop] for part in firsts[1:])).order_by(*ordering)[start:stop]


def _count_sql(everything: DraftQuerySet, ways: Sequence[DraftQuerySet]) -> tuple[str, list] | None:
    """`ListedDrafts._count_with_expected_keys`' SQL and its parameters, the window's LIMIT and
    OFFSET left as the last two; ("", []) for a set of nothing; None for an order that is not of
    plain columns."""
    ordering = everything.query.order_by
    if not ordering or not all(isinstance(term, str) for term in ordering):
        return None
    terms = [ListedDrafts._column(term) for term in ordering]
    names = list(dict.fromkeys(["id", *(term.lstrip("-") for term in terms)]))
    features = connections[everything.db].features
    if len(ways) > 1 and features.supports_slicing_ordering_in_compound:  # as ListedDrafts._by_union
        # The union of the ways' matches (a draft seen two ways is one row of the union).
        parts = [way.order_by().values_list(*names) for way in ways]
        parts = [part for part in parts if not part.query.is_empty()]  # union() drops them
        found = parts[0].union(*parts[1:]).order_by() if parts else None
    else:
        found = everything.order_by().values_list(*names)
    if found is None:
        return "", []
    try:
        matches, params = found.query.sql_with_params()
    except EmptyResultSet:  # a set of nothing (`.none()`)
        return "", []
    columns = [f"c{index}" for index in range(len(names))]
    order = ", ".join(
        columns[names.index(term.lstrip("-"))] + (" DESC" if term.startswith("-") else "") for term in terms
    )
    # Built of the ORM's SQL (its values are parameters) and column numbers.
    cte = f"WITH matches ({', '.join(columns)}) AS MATERIALIZED ({matches})"
    sql = f"{cte} SELECT c0, (SELECT COUNT(*) FROM matches) FROM matches ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608
    return sql, list(params)
