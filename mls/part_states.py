"""Where each room, unit, virtual tour and video of a draft stands with the MLS, for the editor
(drafts/part_state.py, registered in mls/apps.py): read from the sync engine's mirror of the
remote's records (`RemotePart`), in one query for all the parts of a page.

A part is in the MLS when each of its records is there as the draft now says it; refused while
the MLS's refusal holds (until the draft changes again: the engine then sends it again);
sending while a create waits for its answer or the draft's push is under way; else waiting.
"""

from __future__ import annotations

from collections.abc import Sequence

from drafts.models import Draft, ListingPart
from drafts.part_state import REFUSED, SENDING, SYNCED, WAITING, PartState, PartStates

from .models import PROMOTION_OWNED, DraftSync, RemotePart
from .part_records import record_hash
from .templatetags.sync import POLLING

# How often the editor's list looks again: while something is on its way, and while the
# draft's push is due but not yet started.
POLL_SENDING_SECONDS = 3
POLL_DUE_SECONDS = 5


def part_state(part: ListingPart, rows: Sequence[RemotePart], seq: int, *, under_way: bool) -> PartState:
    """Where `part` stands, given its mirror `rows` and the draft's `seq` (change_seq)."""
    refusals = [
        row.error_message.removeprefix(f"{row.label}: ") if row.label else row.error_message
        for row in rows
        if row.failed_seq is not None and row.failed_seq >= seq and row.error_message
    ]
    if refusals:
        return PartState(REFUSED, "; ".join(dict.fromkeys(refusals)))
    if any(row.sending for row in rows):
        return PartState(SENDING)
    by_variant = {row.variant: row for row in rows}
    wanted = part.remote_records()
    held = all(
        (row := by_variant.get(variant)) is not None
        and bool(row.remote_id)
        and row.content_sha256 == record_hash(attributes)
        for variant, attributes in wanted
    )
    # A record of a link the part no longer has is still to be removed.
    leftover = any(row.remote_id for row in rows if row.variant not in {variant for variant, _ in wanted})
    if held and not leftover:
        return PartState(SYNCED)
    return PartState(SENDING if under_way else WAITING)


def part_states(draft: Draft, parts: Sequence[ListingPart], changed: bool) -> PartStates:
    """The states of `parts` (the draft's parts the MLS is sent). None for a draft the engine
    no longer pushes (in the trash, being published, live): its badge says where it is."""
    if draft.deleted_at is not None or draft.status in PROMOTION_OWNED:
        return PartStates()
    rows: dict[int, list[RemotePart]] = {}
    for row in RemotePart.objects.filter(draft_id=draft.pk, local_id__in=[part.pk for part in parts]):
        if row.local_id is not None:
            rows.setdefault(row.local_id, []).append(row)
    sync: DraftSync | None = getattr(draft, "sync", None)  # None: the engine never saw it yet
    under_way = sync is not None and sync.lease_is_live
    push_due = sync is None or sync.display_state(draft.change_seq) in POLLING
    states = {
        part.pk: part_state(part, rows.get(part.pk, ()), draft.change_seq, under_way=under_way)
        for part in parts
    }
    on_the_way = [state for state in states.values() if not state.settled]
    if any(state.state == SENDING for state in on_the_way):
        poll = POLL_SENDING_SECONDS
    elif on_the_way and (changed or push_due):
        poll = POLL_DUE_SECONDS
    else:
        poll = 0
    return PartStates(by_part=states, poll_seconds=poll)
