"""Hot writes (an UPDATE, an INSERT of rows) whose SQL is compiled once per connection, not by
the ORM on every call.

A push writes the same few statements on every pass (its claim, the confirmation of an upload,
its finish), and the ORM compiled each anew: the claim's UPDATE with its subquery was ~2.5k
Python calls, the others ~1k each. As `compiled_get` does for reads, the UPDATE is built once
with stand-ins for what varies (keys, the lease owner, the time); each parameter of its SQL is
then either one stand-in's place, filled with the call's value prepared as the ORM prepares it
for the column, or a constant of the statement's shape (a state, an empty error), kept as compiled.
An INSERT of new rows (`insert_rows`, the push's call log and upload intents: ~1k calls each)
keeps the SQL of one row and prepares each row's values as `bulk_create` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, transaction
from django.db.models import AutoField, Model, QuerySet, sql

from listings_portal.compiled_get import compiled_once, stand_in_key


@dataclass(frozen=True)
class CompiledUpdate:
    """One queryset's `.update(...)` compiled on one connection."""

    sql: str
    alias: str
    # Per parameter of `sql`: its stand-in's name, or None for a constant kept in `constants`.
    roles: tuple[str | None, ...]
    constants: tuple[Any, ...]
    # A stand-in that is a datetime is passed as the backend takes a datetime column's value.
    datetimes: frozenset[str]

    def execute(self, values: Mapping[str, Any]) -> int:
        """Run the UPDATE with `values` (each stand-in's name -> its value); the rows it changed,
        as `QuerySet.update()` answers."""
        connection = connections[self.alias]
        adapt = connection.ops.adapt_datetimefield_value
        params = [
            constant if role is None else (adapt(values[role]) if role in self.datetimes else values[role])
            for role, constant in zip(self.roles, self.constants, strict=True)
        ]
        # As QuerySet.update(): an error inside an atomic block marks it for rollback.
        with transaction.mark_for_rollback_on_error(using=self.alias), connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.rowcount


def compile_update(
    queryset: QuerySet, values: Mapping[str, Any], alias: str, stand_ins: Mapping[str, Any]
) -> CompiledUpdate | None:
    """`queryset.update(**values)`, where `queryset` and `values` hold the stand-ins' values for
    what changes between calls (`stand_ins`: name -> value: distinct strings, integers never
    used as values, aware datetimes), compiled on `alias`. Every other parameter is a constant
    of the shape. None when a stand-in is missing from the SQL or the update is not one plain
    statement (related updates, a pre-select), which the caller then runs through the ORM."""
    connection = connections[alias]
    query = queryset.query.chain(sql.UpdateQuery)
    assert isinstance(query, sql.UpdateQuery)
    query.add_update_values(dict(values))
    query.clear_select_clause()
    compiler = query.get_compiler(using=alias)
    try:
        compiled_sql, params = compiler.as_sql()
    except (EmptyResultSet, FullResultSet):
        return None
    # The keys a pre-select read (MySQL, related updates) would be kept as constants: not compiled.
    if not compiled_sql or query.get_related_updates() or getattr(query, "related_ids", None) is not None:
        return None
    datetimes = frozenset(name for name, value in stand_ins.items() if isinstance(value, dt.datetime))
    as_passed = {
        stand_in_key(connection.ops.adapt_datetimefield_value(value) if name in datetimes else value): name
        for name, value in stand_ins.items()
    }
    if len(as_passed) != len(stand_ins):
        return None  # two stand-ins the SQL could not tell apart
    roles = tuple(as_passed.get(stand_in_key(param)) for param in params)
    if set(stand_ins) - set(roles):
        return None  # a stand-in the ORM did not pass through as it was (converted, dropped)
    return CompiledUpdate(
        sql=compiled_sql,
        alias=alias,
        roles=roles,
        constants=tuple(None if role else param for role, param in zip(roles, params, strict=True)),
        datetimes=datetimes,
    )


def run_update(
    key: Any,
    alias: str,
    build: Callable[[Mapping[str, Any]], tuple[QuerySet, Mapping[str, Any]]],
    stand_ins: Mapping[str, Any],
    values: Mapping[str, Any],
) -> int:
    """`build(values)`'s queryset updated with its values, the SQL compiled once per connection
    under `key` from `build(stand_ins)`; through the ORM when it cannot be compiled."""
    compiled = compiled_once(alias, key, lambda: compile_update(*build(stand_ins), alias, stand_ins))
    if compiled is None:
        queryset, updates = build(values)
        return queryset.update(**updates)
    return compiled.execute(values)


@dataclass(frozen=True)
class CompiledInsert:
    """The INSERT of one new row of a model (its key made by the database), on one connection."""

    sql: str  # the row's INSERT, without RETURNING
    returning_sql: str  # the same, answering the new key
    returning_params: tuple[Any, ...]
    alias: str
    fields: tuple[Any, ...]
    converters: dict
    compiler: Any

    def values(self, row: Model) -> list[Any] | None:
        """The row's values as SQLInsertCompiler prepares them (`pre_save`, `get_db_prep_save`);
        None when one is an expression (a database default, an F()), which only the ORM writes."""
        connection = connections[self.alias]
        row._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        raw = [field.pre_save(row, True) for field in self.fields]
        if any(hasattr(value, "resolve_expression") for value in raw):
            return None
        return [
            field.get_db_prep_save(value, connection) for field, value in zip(self.fields, raw, strict=True)
        ]


def _compile_insert(model: type[Model], alias: str) -> CompiledInsert | None:
    """One new row's INSERT for `model` (None when its key is not the database's to make, or a
    column has a placeholder of its own: those go through `bulk_create`)."""
    connection = connections[alias]
    meta = model._meta
    if (
        not isinstance(meta.pk, AutoField)
        or not connection.features.can_return_columns_from_insert
        or meta.db_returning_fields != [meta.pk]
    ):
        return None
    fields = tuple(field for field in meta.concrete_fields if not field.generated and field is not meta.pk)
    if any(hasattr(field, "get_placeholder_sql") or hasattr(field, "get_placeholder") for field in fields):
        return None
    stand_in = model()
    query = sql.InsertQuery(model)
    query.insert_values(list(fields), [stand_in])
    plain = query.get_compiler(using=alias)
    [(plain_sql, plain_params)] = plain.as_sql()
    returning = query.get_compiler(using=alias)
    returning.returning_fields = [meta.pk]
    [(returning_sql, returning_params)] = returning.as_sql()
    if len(plain_params) != len(fields) or len(returning_params) != len(fields) + len(
        returning.returning_params
    ):
        return None
    return CompiledInsert(
        sql=plain_sql,
        returning_sql=returning_sql,
        returning_params=tuple(returning.returning_params),
        alias=alias,
        fields=fields,
        converters=returning.get_converters([meta.pk.get_col(meta.db_table)]),
        compiler=returning,
    )


def insert_rows(rows: Sequence[Model], alias: str, *, keys: bool) -> None:
    """`bulk_create(rows)` for new rows of one model, their SQL compiled once per connection.
    `keys`: each row gets the key the database made (as bulk_create sets it); without, the rows
    are written in one `executemany` and their keys are left unread."""
    if not rows:
        return
    model = type(rows[0])
    compiled = compiled_once(alias, ("compiled_write insert", model), lambda: _compile_insert(model, alias))
    simple = (
        compiled is not None
        and not (keys and len(rows) > 1)
        and all(type(row) is model and row.pk is None for row in rows)
    )
    values = [compiled.values(row) for row in rows] if compiled is not None and simple else []
    if compiled is None or not simple or any(row_values is None for row_values in values):
        model._default_manager.using(alias).bulk_create(rows)
        return
    connection = connections[alias]
    with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
        if keys:
            cursor.execute(compiled.returning_sql, [*values[0], *compiled.returning_params])  # type: ignore[misc]
            answered = connection.ops.fetch_returned_rows(cursor, compiled.returning_params)
            if compiled.converters:
                answered = list(compiled.compiler.apply_converters(answered, compiled.converters))
            rows[0].pk = answered[0][0]
        else:
            cursor.executemany(compiled.sql, values)
    for row in rows:
        row._state.adding = False
        row._state.db = alias
