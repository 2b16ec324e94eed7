"""The one way views reach a draft: starting from the user, 404 for what they may not see."""

from __future__ import annotations

import copy
import functools
import weakref
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.db.models.query import MAX_GET_RESULTS, get_related_populators
from django.db.transaction import TransactionManagementError
from django.http import Http404

from .models import Draft
from .models.queryset import reach_of


def get_draft_for(
    user,
    pk: int,
    *,
    write: bool = False,
    include_trash: bool = False,
    related: bool = True,
    lock: bool = False,
) -> Draft:
    """The draft `pk` if `user` may see it (and edit it, with `write`), else 404 / 403.

    Another office's draft is a 404, never a 403: its existence is not disclosed.
    A visible draft the user may not change (live, being published, in the trash) is a 403.
    `related=False` reads the draft's row alone (its office, agents and sync state are then
    read only if used): for a request that needs no more, such as an autosave.
    `lock=True` (inside the caller's transaction) locks the row as it is read: an autosave's
    one read is both its access check and the row its save compares with and writes.
    """
    reach = reach_of(user)
    if reach == "nothing":
        raise Http404("No such draft.")
    alias = router.db_for_write(Draft) if lock else router.db_for_read(Draft)
    shape = _Shape(reach, related, include_trash, lock)
    compiled = _compiled_get(alias, shape, user)
    draft = compiled.fetch(user, pk) if compiled is not None else _draft_through_orm(user, pk, shape)
    if draft is None:
        raise Http404("No such draft.")
    # The draft came through `visible_to(user)`: of `can_edit` only the state is left to ask
    # (its own visibility query would repeat the one above).
    if write and not draft.is_editable:
        raise PermissionDenied("This draft can no longer be edited.")
    return draft


@dataclass(frozen=True)
class _Shape:
    """What decides the SQL of get_draft_for's query (the values are its parameters)."""

    reach: str
    related: bool
    include_trash: bool
    lock: bool


def _drafts_for(user, shape: _Shape):
    """The queryset get_draft_for reads the draft from, before its `pk` filter."""
    drafts = Draft.objects.visible_to(user)
    if shape.related:
        drafts = drafts.select_related("office__company", "list_agent", "co_list_agent", "sync")
    if not shape.include_trash:
        drafts = drafts.active()
    if shape.lock:
        drafts = drafts.select_for_update(of=("self",))
    return drafts


def _draft_through_orm(user, pk: int, shape: _Shape) -> Draft | None:
    try:
        return _drafts_for(user, shape).get(pk=pk)
    except Draft.DoesNotExist:
        return None


# Stand-ins for the user's, their office's, their company's and the draft's keys: the query is
# compiled once with them, and each parameter is known by which stand-in it is. Never executed.
_STAND_INS = {
    -2_000_000_001: "user",
    -2_000_000_002: "office",
    -2_000_000_003: "company",
    -2_000_000_004: "pk",
}
_STAND_IN_OF = {role: value for value, role in _STAND_INS.items()}


@dataclass(frozen=True)
class _CompiledGet:
    """get_draft_for's query for one shape on one connection, compiled once: the ORM compiled
    its 162 columns and their joins anew on every request (~9k Python calls, a fifth of the
    editor page). It is instantiated as Django's own ModelIterable does: from_db for the draft,
    Django's related populators for its joins, the columns' converters of the same compiler."""

    sql: str
    roles: tuple[str, ...]  # per parameter of `sql`: "user", "office", "company" or "pk"
    compiler: Any
    converters: dict
    columns: slice  # the draft's own columns in a row
    init_list: tuple[str, ...]
    from_db: Any
    populators: tuple
    lock: bool

    def fetch(self, user, pk: Any) -> Draft | None:
        key = Draft._meta.pk.get_prep_value(pk)
        values = {
            "user": lambda: user.pk,
            "office": lambda: user.office_id,
            "company": lambda: user.office.company_id,
            "pk": lambda: key,
        }
        params = [values[role]() for role in self.roles]
        connection = self.compiler.connection
        features = connection.features
        if (
            self.lock
            and features.has_select_for_update
            and connection.get_autocommit()
            and features.supports_transactions
        ):
            # What the compiler itself refuses (a lock outside a transaction would be a no-op).
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchmany(MAX_GET_RESULTS)
        if not rows:
            return None
        if len(rows) > 1:  # the primary key's filter: cannot happen, but never pick one silently
            raise Draft.MultipleObjectsReturned(f"get() returned {len(rows)} drafts for pk {pk}")
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        row = rows[0]
        draft = self.from_db(connection.alias, list(self.init_list), row[self.columns])
        for populator in self.populators:
            populator.populate(row, draft)
        return draft


# Per connection (each thread has its own, and the columns' converters are bound to it), per shape.
_compiled: weakref.WeakKeyDictionary[Any, dict[_Shape, _CompiledGet | None]] = weakref.WeakKeyDictionary()


def _compiled_get(alias: str, shape: _Shape, user) -> _CompiledGet | None:
    """The compiled query of `shape` on this thread's connection to `alias`; None when the query
    has a parameter that is not one of the stand-ins (then the ORM reads the draft each time)."""
    connection = connections[alias]
    by_shape = _compiled.setdefault(connection, {})
    if shape not in by_shape:
        by_shape[shape] = _compile(alias, shape, user)
    return by_shape[shape]


def _compile(alias: str, shape: _Shape, user) -> _CompiledGet | None:
    # The user's stand-in has the user's role (so the same reach), and stand-in keys.
    stand_in = copy.copy(user)
    stand_in.pk = _STAND_IN_OF["user"]
    stand_in.office_id = _STAND_IN_OF["office"]
    office = type(stand_in).office.field.related_model(
        pk=_STAND_IN_OF["office"], company_id=_STAND_IN_OF["company"]
    )
    type(stand_in).office.field.set_cached_value(stand_in, office)
    if reach_of(stand_in) != shape.reach:
        return None
    drafts = _drafts_for(stand_in, shape).filter(pk=_STAND_IN_OF["pk"]).order_by()
    # As QuerySet.get() limits it.
    if not shape.lock or connections[alias].features.supports_select_for_update_with_limit:
        drafts.query.set_limits(high=MAX_GET_RESULTS)
    compiler = drafts.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    if any(not isinstance(param, int) or param not in _STAND_INS for param in params):
        return None
    roles = tuple(_STAND_INS[param] for param in params)
    if "pk" not in roles:
        return None
    select, klass_info = compiler.select, compiler.klass_info
    expressions = [column[0] for column in select[: compiler.col_count]]
    if compiler.annotation_col_map or compiler.has_composite_fields(expressions):
        return None
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    fetch_mode = drafts._fetch_mode
    if fetch_mode.track_peers:
        return None
    return _CompiledGet(
        sql=sql,
        roles=roles,
        compiler=compiler,
        converters=compiler.get_converters(expressions),
        columns=slice(first, last),
        init_list=tuple(column[0].target.attname for column in select[first:last]),
        from_db=functools.partial(klass_info["model"].from_db, fetch_mode=fetch_mode),
        populators=tuple(get_related_populators(klass_info, select, alias, fetch_mode)),
        lock=shape.lock,
    )
