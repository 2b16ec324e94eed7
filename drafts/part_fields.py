"""Where the drafts app reads the MLS's room and unit fields.

The MLS's metadata lives a layer above (mls/metadata.py) and drafts must not import it
(docs/architecture.md#layers), so the mls app hands its readers in at start-up through
`provide()`, as it registers the doorbell's listener. Until then (or in a process without the
mls app) there are no fields and the lists count as not read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .layout import FieldLike

# A room or unit field is described as any field of the MLS's layout is (drafts/layout.py).
FieldSpecLike = FieldLike


FieldReader = Callable[..., Sequence[FieldSpecLike]]


@dataclass(frozen=True)
class PartFieldSource:
    room_fields: FieldReader
    unit_fields: FieldReader
    # Whether the MLS's room and unit field lists were ever read (a new install has none yet).
    lists_read: Callable[[], bool]


_source: PartFieldSource | None = None


def provide(source: PartFieldSource) -> None:
    global _source
    _source = source


def room_fields(property_type: str) -> list[FieldSpecLike]:
    return list(_source.room_fields(property_type)) if _source else []


def unit_fields(property_type: str) -> list[FieldSpecLike]:
    return list(_source.unit_fields(property_type)) if _source else []


def lists_read() -> bool:
    return bool(_source and _source.lists_read())
