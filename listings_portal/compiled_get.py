"""A hot `.get()` whose SQL is compiled once per connection, not by the ORM on every request.

Compiling a query is most of its Python cost when it reads one row: the draft's 162 columns
with their joins were ~8k Python calls of every editor page, the signed-in user ~2.4k of every
request. The query is built and compiled once with stand-in keys (integers never used as keys);
each parameter of its SQL is then known by which stand-in it is, and filled with the request's
values. Rows become instances as Django's ModelIterable makes them: `from_db` for the model,
Django's related populators for its select_related joins, the compiler's column converters.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import MAX_GET_RESULTS, get_related_populators
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.db.transaction import TransactionManagementError


@dataclass(frozen=True)
class _Compiled:
    """A query's SQL compiled on one connection, with its stand-ins' places and converters."""

    sql: str
    roles: tuple[str, ...]  # per parameter of `sql`, the name of its stand-in
    compiler: Any
    converters: dict

    def _execute(self, values: Mapping[str, Callable[[], Any]], limit: int | None = None) -> list:
        """The rows for `values` (each stand-in's name -> its value), at most `limit`."""
        params = [values[role]() for role in self.roles]
        with self.compiler.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchmany(limit) if limit is not None else cursor.fetchall()

    def _converted(self, rows: list) -> list:
        return list(self.compiler.apply_converters(rows, self.converters)) if self.converters else rows


@dataclass(frozen=True)
class CompiledGet(_Compiled):
    """One queryset's `.get()` (or, compiled with `many=True`, its rows), compiled on one connection."""

    columns: slice  # the model's own columns in a row
    init_list: tuple[str, ...]
    from_db: Callable[..., Model]
    populators: tuple
    locks: bool
    # Whether a row's instance may be made as `from_db` would make it without its __init__
    # (`_plain_columns`): each column's value put in its __dict__.
    directly: bool = False
    fetch_mode: Any = None  # the queryset's, which from_db gives each instance

    def fetch(self, values: Mapping[str, Callable[[], Any]]) -> Model | None:
        """The one row for `values` (each stand-in's name -> its value, read only if the SQL
        has it), or None. More than one row raises MultipleObjectsReturned, as get() does."""
        rows = self._rows(values, MAX_GET_RESULTS)
        if not rows:
            return None
        model = self.compiler.query.model
        if len(rows) > 1:
            raise model.MultipleObjectsReturned(f"get() returned more than one {model._meta.object_name}")
        return self._instances(rows)[0]

    def fetch_all(self, values: Mapping[str, Callable[[], Any]]) -> list[Model]:
        """Every row for `values`, in the queryset's order (compiled with `many=True`)."""
        rows = self._rows(values, None)
        return self._instances(rows) if rows else []

    def _rows(self, values: Mapping[str, Callable[[], Any]], limit: int | None) -> list[tuple]:
        connection = self.compiler.connection
        features = connection.features
        if (
            self.locks
            and features.has_select_for_update
            and connection.get_autocommit()
            and features.supports_transactions
        ):
            # What the compiler itself refuses: a lock outside a transaction would be a no-op.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        return self._execute(values, limit)

    def _instances(self, rows: list[tuple]) -> list[Model]:
        rows = self._converted(rows)
        alias = self.compiler.connection.alias
        model = self.compiler.query.model
        # Model.__init__ sets each column through setattr() (~50 calls a row of a list) and
        # sends pre_init and post_init: without receivers, it is the same as filling __dict__.
        directly = self.directly and not (pre_init.has_listeners(model) or post_init.has_listeners(model))
        fetch_mode = self.fetch_mode
        instances = []
        for row in rows:
            if directly:
                instance = _made_directly(model, fetch_mode, alias, self.init_list, row[self.columns])
            else:
                instance = self.from_db(alias, list(self.init_list), row[self.columns])
            for populator in self.populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances


def _made_directly(model: type[Model], fetch_mode: Any, alias: str, attnames, values) -> Model:
    """An instance of `model` (whose columns are plain: `_plain_columns`) as from_db makes it
    when no pre_init or post_init receiver is connected: its state, then its columns' values."""
    instance = model.__new__(model)
    instance._state = state = ModelState()
    state.adding, state.db = False, alias
    if fetch_mode is not None:
        state.fetch_mode = fetch_mode
    instance.__dict__.update(zip(attnames, values, strict=True))
    return instance


def _from_db_or_directly(
    model: type[Model], from_db: Callable[..., Model], fetch_mode: Any, alias, attnames, values
):
    """A related populator's instance: `from_db`'s, made directly where that is the same."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return from_db(alias, attnames, values)
    return _made_directly(model, fetch_mode, alias, attnames, values)


def _populators_made_directly(populators: list, fetch_mode: Any) -> tuple:
    """Django's related populators, those of models with plain columns (and theirs) making
    their instances directly: as the row's own instance is (`CompiledGet.directly`)."""
    for populator in populators:
        if _plain_columns(populator.model_cls, populator.init_list):
            populator.from_db = functools.partial(
                _from_db_or_directly, populator.model_cls, populator.from_db, fetch_mode
            )
        _populators_made_directly(populator.related_populators, fetch_mode)
    return tuple(populators)


def _sql_of(compiler, stand_ins: Mapping[Any, str]) -> tuple[str, tuple[str, ...]] | None:
    """The compiler's SQL and, per parameter, the name of its stand-in; None for a queryset that
    reads nothing (`.none()`: no SQL to keep) or a parameter that is not a stand-in. Stand-ins
    are values as the database receives them: keys, floats (coordinates), strings (a session's
    key), datetimes (an expiry, adapted for the connection), or a query's constant as a stand-in
    for itself (a role, True). A parameter is a stand-in's of its own type and value only: True
    is not taken for the stand-in 1, nor 1 for True."""
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    typed = {stand_in_key(value): role for value, role in stand_ins.items()}
    roles = []
    for param in params:
        role = typed.get(stand_in_key(param))
        if role is None:
            return None
        roles.append(role)
    return sql, tuple(roles)


def stand_in_key(value: Any) -> tuple[type, Any] | None:
    """What a parameter is known by among stand-ins: its type as well as its value (True is not
    the stand-in 1), None for a parameter that cannot be a stand-in (a list, a JSON adapter)."""
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)


def compile_get(
    queryset: QuerySet, alias: str, stand_ins: Mapping[Any, str], *, many: bool = False
) -> CompiledGet | None:
    """`queryset.get()` (already filtered with the stand-ins' values) compiled on `alias`, or None
    when its SQL has a parameter that is not a stand-in or a shape this does not instantiate.
    `many`: the whole queryset, in its order, for `CompiledGet.fetch_all`."""
    if many:
        queryset = queryset.all()  # a clone: the limits and the compiler stay this one's
    else:
        queryset = queryset.order_by()
        # As QuerySet.get() limits it.
        features = connections[alias].features
        if not queryset.query.select_for_update or features.supports_select_for_update_with_limit:
            queryset.query.set_limits(high=MAX_GET_RESULTS)
    compiler = queryset.query.get_compiler(using=alias)
    compiled = _sql_of(compiler, stand_ins)
    if compiled is None:
        return None
    sql, roles = compiled
    select, klass_info = compiler.select, compiler.klass_info
    expressions = [column[0] for column in select[: compiler.col_count]]
    # The queryset's own state, as ModelIterable reads it (Django's stubs do not declare it).
    fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]
    if (
        compiler.annotation_col_map
        or compiler.has_composite_fields(expressions)
        or fetch_mode.track_peers
        or queryset._known_related_objects  # type: ignore[attr-defined]
    ):
        return None
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return CompiledGet(
        sql=sql,
        roles=roles,
        compiler=compiler,
        converters=compiler.get_converters(expressions),
        columns=slice(first, last),
        init_list=tuple(column[0].target.attname for column in select[first:last]),
        from_db=functools.partial(klass_info["model"].from_db, fetch_mode=fetch_mode),
        populators=_populators_made_directly(
            get_related_populators(klass_info, select, alias, fetch_mode), fetch_mode
        ),
        locks=bool(queryset.query.select_for_update),
        fetch_mode=fetch_mode,
        directly=_plain_columns(
            klass_info["model"], [column[0].target.attname for column in select[first:last]]
        ),
    )


def _plain_columns(model: type[Model], attnames: list[str]) -> bool:
    """Whether an instance of `model` with these columns is made by Model.__init__ only by
    putting each value in its __dict__: Django's own __init__ and from_db, and each column's
    attribute Django's plain one (a foreign key's clears a cached object a new instance has
    not got), not a descriptor that converts what it is given."""
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    plain = (DeferredAttribute, ForeignKeyDeferredAttribute)
    return all(type(inspect.getattr_static(model, attname, None)) in plain for attname in attnames)


# Kept on the connection itself (each thread has its own, and the compiler and the columns'
# converters are bound to it): the compiled queries go when their connection goes, as a thread's
# does under runserver, which starts one per request.
CACHE_ATTRIBUTE = "listings_portal_compiled_gets"


def compiled_once[C](alias: str, key: Any, compile: Callable[[], C]) -> C:
    """`compile()`'s answer for `key` on this thread's connection to `alias`, compiled once."""
    by_key = connections[alias].__dict__.setdefault(CACHE_ATTRIBUTE, {})
    if key not in by_key:
        by_key[key] = compile()
    return by_key[key]


@dataclass(frozen=True)
class CompiledRows(_Compiled):
    """One `values_list()` queryset compiled on one connection: its rows as tuples."""

    def fetch(self, values: Mapping[str, Callable[[], Any]]) -> list[tuple]:
        """The rows for `values` (each stand-in's name -> its value), as values_list() gives them."""
        return [tuple(row) for row in self._converted(self._execute(values))]


# A window of rows a query is compiled with (`compile_rows(windowed=True)`): the database's
# LIMIT and OFFSET are written into the SQL as numbers, not parameters, so these, which no
# query holds otherwise, are found there and made parameters filled with a page's numbers.
WINDOW_STAND_IN = slice(3_100_000_007, 5_300_000_010)
_WINDOW_NUMBERS = {
    str(WINDOW_STAND_IN.start): "window_offset",
    str(WINDOW_STAND_IN.stop - WINDOW_STAND_IN.start): "window_limit",
    str(WINDOW_STAND_IN.stop): "window_stop",
}
_PLACEHOLDER_OR_WINDOW = re.compile(r"%%|%s|\b(" + "|".join(_WINDOW_NUMBERS) + r")\b")


def window_values(window: slice) -> dict[str, Callable[[], Any]]:
    """A window's values for the parameters of a query compiled with WINDOW_STAND_IN."""
    start, stop = window.start or 0, window.stop
    return {
        "window_offset": functools.partial(int, start),
        "window_limit": functools.partial(int, stop - start),
        "window_stop": functools.partial(int, stop),
    }


def windowed_sql(sql: str, roles: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`sql` with WINDOW_STAND_IN's numbers made parameters, and the roles of all of its
    parameters in their order in it."""
    placeholders = iter(roles)
    windowed_roles = []

    def parameter(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%%"
        if match.group(1) is None:
            windowed_roles.append(next(placeholders))
        else:
            windowed_roles.append(_WINDOW_NUMBERS[match.group(1)])
        return "%s"

    return _PLACEHOLDER_OR_WINDOW.sub(parameter, sql), tuple(windowed_roles)


def compile_rows(
    queryset: QuerySet, alias: str, stand_ins: Mapping[Any, str], *, windowed: bool = False
) -> CompiledRows | None:
    """A `values_list()` queryset (filtered with the stand-ins' values, sliced as it is to be
    read) compiled on `alias`, or None when its SQL has a parameter that is not a stand-in or
    its columns are not plain fields in the order named. `windowed`: the queryset was sliced
    (and its parts, for a union) with WINDOW_STAND_IN, and is read with `window_values()`."""
    query = queryset.query
    if query.select_for_update or query.annotation_select or query.extra_select or not query.values_select:
        return None
    compiler = query.get_compiler(using=alias)
    compiled = _sql_of(compiler, stand_ins)
    if compiled is None:
        return None
    sql, roles = compiled
    if windowed:
        sql, roles = windowed_sql(sql, roles)
    expressions = [column[0] for column in compiler.select[: compiler.col_count]]
    if compiler.has_composite_fields(expressions):
        return None
    return CompiledRows(
        sql=sql,
        roles=roles,
        compiler=compiler,
        converters=compiler.get_converters(expressions),
    )


def read_rows(
    key: Any,
    model: type[Model],
    build: Callable[[], QuerySet],
    stand_ins: Mapping[Any, str],
    values: Mapping[str, Callable[[], Any]],
) -> list[tuple] | None:
    """The rows of `build()` (a `values_list()` queryset of `model` filtered with the stand-ins'
    values), compiled once per connection and `key`, for `values` (each stand-in's name -> its
    value); None where it cannot be compiled: the caller then reads through the ORM."""
    alias = router.db_for_read(model)
    compiled = compiled_once(alias, key, lambda: compile_rows(build(), alias, stand_ins))
    return None if compiled is None else compiled.fetch(values)
