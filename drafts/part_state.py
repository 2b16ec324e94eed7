"""Where the editor reads how far each room, unit, tour and video got with the MLS.

The sync engine's mirror of the remote lives a layer above (mls/) and drafts must not import it
(docs/architecture.md#layers), so the mls app hands its reader in at start-up through
`provide()`, as it does for the room and unit fields (drafts/part_fields.py). Without a reader
(a process without the mls app) no part has a state and nothing polls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Draft, ListingPart

SYNCED, SENDING, WAITING, REFUSED = "synced", "sending", "waiting", "refused"
LABELS = {
    SYNCED: "In the MLS",
    SENDING: "Sending…",
    WAITING: "Waiting",
    REFUSED: "The MLS refused this",
}


@dataclass(frozen=True)
class PartState:
    """Where one part stands: SYNCED, SENDING, WAITING or REFUSED (with the MLS's words)."""

    state: str
    message: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def settled(self) -> bool:
        return self.state in (SYNCED, REFUSED)


@dataclass(frozen=True)
class PartStates:
    """The states of a draft's parts (by part id), and how often their list should look again:
    `poll_seconds` 0 once nothing is on its way."""

    by_part: Mapping[int, PartState] = field(default_factory=dict)
    poll_seconds: int = 0

    def of(self, part_id: int) -> PartState | None:
        return self.by_part.get(part_id)


# reader(draft, parts, changed): `parts` are the draft's parts the MLS is sent; `changed` says
# the draft was changed by this request (its sync row in hand predates the change).
StateReader = Callable[["Draft", Sequence["ListingPart"], bool], PartStates]

_reader: StateReader | None = None


def provide(reader: StateReader) -> None:
    global _reader
    _reader = reader


def read(draft: Draft, parts: Sequence[ListingPart], *, changed: bool = False) -> PartStates:
    """The states of `parts` (no query when there are none)."""
    if _reader is None or not parts:
        return PartStates()
    return _reader(draft, parts, changed)
