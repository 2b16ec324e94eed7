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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import MAX_GET_RESULTS, get_related_populators
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
        instances = []
        for row in rows:
            instance = self.from_db(alias, list(self.init_list), row[self.columns])
            for populator in self.populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances


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
    typed = {(type(value), value): role for value, role in stand_ins.items()}
    roles = []
    for param in params:
        try:
            role = typed.get((type(param), param))
        except TypeError:  # an unhashable parameter (a list): not a stand-in
            return None
        if role is None:
            return None
        roles.append(role)
    return sql, tuple(roles)


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
        populators=tuple(get_related_populators(klass_info, select, alias, fetch_mode)),
        locks=bool(queryset.query.select_for_update),
    )


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


def compile_rows(queryset: QuerySet, alias: str, stand_ins: Mapping[Any, str]) -> CompiledRows | None:
    """A `values_list()` queryset (filtered with the stand-ins' values, sliced as it is to be
    read) compiled on `alias`, or None when its SQL has a parameter that is not a stand-in or
    its columns are not plain fields in the order named."""
    query = queryset.query
    if query.select_for_update or query.annotation_select or query.extra_select or not query.values_select:
        return None
    compiler = query.get_compiler(using=alias)
    compiled = _sql_of(compiler, stand_ins)
    if compiled is None:
        return None
    sql, roles = compiled
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
