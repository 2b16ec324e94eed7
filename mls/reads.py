"""The rows every pass of a push reads by draft id, with their SQL compiled once per connection.

The ORM built and compiled these queries anew on every pass: the draft with its agent (~4.5k
Python calls), the sync row (~2.3k), the mirror's items and parts (~1.6k and ~1k each), most of
a photo's push. `listings_portal/compiled_get.py` compiles each once with a stand-in draft id;
the rows come back as the ORM makes them (`from_db`, converters, related populators).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from django.db import router
from django.db.models import Model, QuerySet

from drafts.models import Draft, ListingPart
from listings_portal.compiled_get import CompiledGet, compile_get, compile_rows, compiled_once

from .models import DraftSync, RemoteItem, RemotePart

# A draft id no draft has, and a `change_seq` none reaches: the queries are compiled with them,
# never executed with them. (The seq is positive: Django drops a comparison with a value out of
# its field's range from the SQL.)
_DRAFT_STAND_IN = -2_000_000_201
_STAND_INS = {_DRAFT_STAND_IN: "draft", 2_000_000_202: "seq"}
_STAND_IN_OF = {role: value for value, role in _STAND_INS.items()}


def _compiled(
    name: str, model: type[Model], queryset: Callable[[int], QuerySet[Model]], *, many: bool
) -> CompiledGet | None:
    alias = router.db_for_read(model)
    compiled = compiled_once(
        alias,
        ("mls.reads", name),
        lambda: compile_get(queryset(_DRAFT_STAND_IN), alias, _STAND_INS, many=many),
    )
    return compiled if compiled is not None and compiled.roles == ("draft",) else None


def _one[M: Model](
    name: str, model: type[M], queryset: Callable[[int], QuerySet[M]], draft_id: int
) -> M | None:
    compiled = _compiled(name, model, queryset, many=False)
    if compiled is None:
        return queryset(draft_id).first()
    return cast(M | None, compiled.fetch({"draft": lambda: int(draft_id)}))


def _all[M: Model](
    name: str, model: type[M], queryset: Callable[[int], QuerySet[M]], draft_id: int
) -> list[M]:
    compiled = _compiled(name, model, queryset, many=True)
    if compiled is None:
        return list(queryset(draft_id))
    return cast(list[M], compiled.fetch_all({"draft": lambda: int(draft_id)}))


def _draft_with_agent(draft_id: int) -> QuerySet[Draft]:
    return Draft.objects.select_related("list_agent").filter(pk=draft_id)


def _sync_row(draft_id: int) -> QuerySet[DraftSync]:
    return DraftSync.objects.filter(pk=draft_id)


def _mirror_items(draft_id: int) -> QuerySet[RemoteItem]:
    return RemoteItem.objects.filter(draft_id=draft_id)


def _mirror_parts(draft_id: int) -> QuerySet[RemotePart]:
    return RemotePart.objects.filter(draft_id=draft_id)


def _listing_parts(draft_id: int) -> QuerySet[ListingPart]:
    return ListingPart.objects.filter(draft_id=draft_id).order_by("kind", "position", "pk")


def draft_with_agent(draft_id: int) -> Draft | None:
    """The whole draft and its list agent (whose fields the listing carries), or None."""
    return _one("draft", Draft, _draft_with_agent, draft_id)


def sync_row(draft_id: int) -> DraftSync:
    """The draft's `DraftSync` row; DoesNotExist if it has none, as `DraftSync.objects.get`."""
    row = _one("sync", DraftSync, _sync_row, draft_id)
    if row is None:
        raise DraftSync.DoesNotExist(f"No DraftSync row for draft {draft_id}.")
    return row


def mirror_items(draft_id: int) -> list[RemoteItem]:
    """The mirror's photos and documents of the draft (`RemoteItem` rows), in no set order."""
    return _all("items", RemoteItem, _mirror_items, draft_id)


def mirror_parts(draft_id: int) -> list[RemotePart]:
    """The mirror's rooms, units, tours and videos of the draft (`RemotePart` rows)."""
    return _all("parts", RemotePart, _mirror_parts, draft_id)


def listing_parts(draft_id: int) -> list[ListingPart]:
    """The draft's own rooms, units, tours and videos, by kind then position."""
    return _all("listing parts", ListingPart, _listing_parts, draft_id)


def values_of(
    name: str, model: type[Model], queryset: Callable[..., QuerySet[Any, Any]], **keys: int
) -> list[tuple[Any, ...]]:
    """The rows of `queryset(**keys)`, a `values_list()` (not flat) of `model`'s rows by draft
    id ("draft") and perhaps a `change_seq` ("seq"), compiled once under `name`."""
    alias = router.db_for_read(model)
    compiled = compiled_once(
        alias,
        ("mls.reads", name),
        lambda: compile_rows(queryset(**{key: _STAND_IN_OF[key] for key in keys}), alias, _STAND_INS),
    )
    if compiled is None or len(compiled.roles) != len(keys) or set(compiled.roles) != keys.keys():
        # Not compiled, or a key the SQL does not carry as a parameter: the ORM, every time.
        return list(queryset(**keys))
    return compiled.fetch({key: functools.partial(int, value) for key, value in keys.items()})
