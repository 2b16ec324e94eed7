"""What a listing part's MLS record is, independent of the database: the collection each kind
lives in, the hash of what was sent, and whether a record the MLS lists is one we sent.

Pure (no Django, no HTTP): the planner, the push and publishing share it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from spark.parts import PartKind

ROOM, UNIT, TOUR, VIDEO = "room", "unit", "tour", "video"
# In the order the push and publishing carry them.
PART_KINDS: tuple[str, ...] = (ROOM, UNIT, TOUR, VIDEO)
COLLECTIONS: dict[str, PartKind] = {ROOM: "rooms", UNIT: "units", TOUR: "virtualtours", VIDEO: "videos"}
# Rooms and units are read back in their raw form (keyed by attribute name, as sent).
READ_RAW = frozenset({ROOM, UNIT})
UNBRANDED, BRANDED = "unbranded", "branded"
# Attributes the engine adds to a part's record; not part of what the draft says.
ENGINE_ATTRIBUTES = frozenset({"GroupId"})


def record_hash(attributes: Mapping[str, Any]) -> str:
    """The hash of a record's attributes as the draft says them (GroupId left out)."""
    body = {name: value for name, value in attributes.items() if name not in ENGINE_ATTRIBUTES}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def record_attributes(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A listed record's attributes, keyed as they are sent: rooms and units (raw form) carry
    them in `Fields`, an object or a list of one-key objects; tours and videos are flat."""
    if kind not in READ_RAW:
        return dict(record)
    fields = record.get("Fields")
    if isinstance(fields, Mapping):
        return dict(fields)
    merged: dict[str, Any] = {}
    for entry in fields or []:
        if isinstance(entry, Mapping):
            merged.update(entry)
    return merged


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value).strip()


def is_record_of(kind: str, sent: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether the listed `record` holds what `sent` said: every attribute we sent with a value
    has it there (an attribute the remote does not echo is not held against it), and a room
    or unit holds no value we did not send."""
    theirs = record_attributes(kind, record)
    for name, value in sent.items():
        if name in ENGINE_ATTRIBUTES:
            continue
        if name not in theirs:
            if kind in READ_RAW and _text(value):
                return False
            continue
        if _text(theirs[name]) != _text(value):
            return False
    if kind in READ_RAW:
        extra = [name for name, value in theirs.items() if name not in sent and _text(value)]
        return not extra
    return True


def settle_lost_creates[K](
    kind: str,
    sending: Sequence[tuple[K, Mapping[str, Any]]],
    known: set[str],
    records: Sequence[Mapping[str, Any]],
) -> tuple[dict[K, Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Which listed records are the creates whose answers were lost: `sending` is what each
    sent, `known` the remote ids already ours. Returns the record each adopts and the records
    left that equal something sent (copies a lost create made: to delete)."""
    unknown = [record for record in records if str(record.get("Id")) not in known]
    adopted: dict[K, Mapping[str, Any]] = {}
    for key, sent in sending:
        match = next((record for record in unknown if is_record_of(kind, sent, record)), None)
        if match is not None:
            adopted[key] = match
            unknown.remove(match)
    copies = [record for record in unknown if any(is_record_of(kind, sent, record) for _, sent in sending)]
    return adopted, copies


def refusal_words(message: str, field_messages: list[str]) -> str:
    """The remote's words for a refusal of a part: its field messages, else its message."""
    words = "; ".join(text for text in field_messages if text)
    return words or message or "refused"
