"""The one way views reach a draft: starting from the user, 404 for what they may not see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.core.exceptions import PermissionDenied
from django.db import router
from django.http import Http404

from listings_portal.compiled_get import CompiledGet, compile_get, compiled_once

from .models import Draft
from .models.queryset import reach_of, user_with_keys


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
    compiled = _draft_compiled(alias, shape, user)
    if compiled is None:
        draft = _draft_through_orm(user, pk, shape)
    else:
        key = Draft._meta.pk.get_prep_value(pk)
        values = {
            "user": lambda: user.pk,
            "office": lambda: user.office_id,
            "company": lambda: user.office.company_id,
            "pk": lambda: key,
        }
        draft = cast(Draft | None, compiled.fetch(values))
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
# compiled once with them (listings_portal.compiled_get), never executed with them.
_STAND_INS = {
    -2_000_000_001: "user",
    -2_000_000_002: "office",
    -2_000_000_003: "company",
    -2_000_000_004: "pk",
}
_STAND_IN_OF = {role: value for value, role in _STAND_INS.items()}


def _draft_compiled(alias: str, shape: _Shape, user) -> CompiledGet | None:
    """get_draft_for's query of `shape`, compiled once per connection: the ORM compiled its
    162 columns and their joins anew on every request (~8k Python calls, a fifth of the editor
    page). None when it cannot be (then the ORM reads the draft each time)."""
    return compiled_once(alias, ("get_draft_for", shape), lambda: _compile(alias, shape, user))


def _compile(alias: str, shape: _Shape, user) -> CompiledGet | None:
    stand_in = user_with_keys(
        user, pk=_STAND_IN_OF["user"], office_pk=_STAND_IN_OF["office"], company_pk=_STAND_IN_OF["company"]
    )
    if reach_of(stand_in) != shape.reach:
        return None
    drafts = _drafts_for(stand_in, shape).filter(pk=_STAND_IN_OF["pk"])
    return compile_get(drafts, alias, _STAND_INS)
