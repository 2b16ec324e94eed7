"""What a reviewer reads: what changed since the last review, and the queue's readiness.

Photos and documents come from media_manager through `review_media` (drafts imports
nothing of media_manager); `drafts.models` reaches them through reverse relations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User

from . import part_fields, review_media, rules
from .fields import SECTIONS, PropertyType
from .layout import Layout, MlsField
from .models import Draft, DraftEvent, ListingPart, ReviewSnapshot
from .models.parts import NAMING_ATTRIBUTES

# --- What changed since the last review ------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    old: str
    new: str
    # False for a field the review page has no place for: the change is listed, unlinked.
    on_page: bool = True


@dataclass
class ItemChange:
    """One photo or document present before and now, and what happened to it. `number` is its
    place now (1 is first), as the page numbers it."""

    id: int
    name: str
    notes: list[str] = field(default_factory=list)
    number: int = 0


@dataclass(frozen=True)
class ItemReplaced:
    """An item removed and another of the same name added in its stead (a document uploaded
    again): one line, "replaced", rather than a removal and an addition."""

    old: dict
    new: dict


@dataclass
class MediaDiff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    replaced: list[ItemReplaced] = field(default_factory=list)
    changed: dict[int, ItemChange] = field(default_factory=dict)
    reordered: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.replaced or self.changed or self.reordered)

    @property
    def added_ids(self) -> set[int]:
        return {item["id"] for item in self.added} | {pair.new["id"] for pair in self.replaced}

    @property
    def replaced_ids(self) -> set[int]:
        return {pair.new["id"] for pair in self.replaced}


@dataclass(frozen=True)
class PartChange:
    """One line about a room, unit, tour or video: `part_id` links it on the page (None when
    it was removed)."""

    kind: str
    part_id: int | None
    text: str


@dataclass
class PartsDiff:
    changes: list[PartChange] = field(default_factory=list)
    # The baseline was taken before snapshots held parts: nothing to compare them with.
    not_recorded: bool = False

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def changed_ids(self) -> set[int]:
        return {change.part_id for change in self.changes if change.part_id is not None}


@dataclass
class ReviewDiff:
    """The changes from `baseline` (None: never reviewed, nothing to compare) to now."""

    baseline: ReviewSnapshot | None
    fields: list[FieldChange] = field(default_factory=list)
    photos: MediaDiff = field(default_factory=MediaDiff)
    documents: MediaDiff = field(default_factory=MediaDiff)
    parts: PartsDiff = field(default_factory=PartsDiff)

    def __bool__(self) -> bool:
        return bool(self.fields or self.photos or self.documents or self.parts)

    @property
    def changed_fields(self) -> dict[str, FieldChange]:
        """The change of each field on the page; several changes under one name (custom fields
        the MLS's layout does not know, all shown as "Other custom fields") as one."""
        grouped: dict[str, list[FieldChange]] = {}
        for change in self.fields:
            grouped.setdefault(change.name, []).append(change)
        return {
            name: changes[0]
            if len(changes) == 1
            else FieldChange(
                name,
                field_label(name),
                "; ".join(f"{change.label} = {change.old}" for change in changes),
                "; ".join(f"{change.label} = {change.new}" for change in changes),
            )
            for name, changes in grouped.items()
        }


def field_label(name: str) -> str:
    if name == "custom_fields":
        return "Custom fields"
    if name == "standard_fields_extra":
        return "Other MLS fields"
    label = str(Draft._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def value_text(name: str, value: Any, agents: dict[int, str] | None = None) -> str:
    """A snapshot value as people read it."""
    if value in (None, "", {}):
        return "(empty)"
    if name == "co_list_agent":
        return (agents or {}).get(value, f"user #{value}")
    if name == "property_type":
        return PropertyType(value).label if value in PropertyType.values else str(value)
    if name == "list_price":
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"
    if name == "standard_fields_extra" and isinstance(value, dict):
        return "; ".join(f"{key} = {item}" for key, item in value.items())
    if name == "custom_fields" and isinstance(value, dict):
        return "; ".join(
            f"{group}: {key} = {item}"
            for group, fields in value.items()
            if isinstance(fields, dict)
            for key, item in fields.items()
        )
    return str(value)


def _same(old: Any, new: Any) -> bool:
    """Equal as stored values: "" and None are both empty, 250000 and "250000.00" one price."""
    if old in (None, "") and new in (None, ""):
        return True
    try:
        return Decimal(str(old)) == Decimal(str(new))
    except (InvalidOperation, ValueError):
        return old == new


def _media_diff(
    old: list[dict],
    new: list[dict],
    describe: Callable[[dict, dict], list[str]],
    noun: str,
    history: dict[int, list[str]] | None = None,
) -> MediaDiff:
    """`history`: notes read from the draft's history for items whose baseline row predates
    what `describe` compares (see `picture_history`)."""
    before = {item["id"]: item for item in old}
    now = {item["id"]: item for item in new}
    added = [item for item in new if item["id"] not in before]
    removed = [item for item in old if item["id"] not in now]
    # One removed and one added under the same name is that item uploaded again.
    removed_by_name = {item["name"].casefold(): item for item in removed}
    diff = MediaDiff()
    for item in added:
        gone = removed_by_name.pop(item["name"].casefold(), None)
        if gone is not None:
            diff.replaced.append(ItemReplaced(gone, item))
        else:
            diff.added.append(item)
    paired = {pair.old["id"] for pair in diff.replaced}
    diff.removed = [item for item in removed if item["id"] not in paired]
    # Moves are read on the items kept: adding or removing one shifts the others without
    # anyone having moved them.
    kept_before = [item["id"] for item in old if item["id"] in now]
    kept_now = [item["id"] for item in new if item["id"] in before]
    diff.reordered = kept_before != kept_now
    for number, item in enumerate(new, start=1):
        if item["id"] not in before:
            continue
        notes = describe(before[item["id"]], item) + (history or {}).get(item["id"], [])
        if diff.reordered:
            was, is_now = kept_before.index(item["id"]), kept_now.index(item["id"])
            if was != is_now:
                notes.append(f"moved from {noun} {was + 1} to {is_now + 1}")
        if notes:
            diff.changed[item["id"]] = ItemChange(item["id"], item["name"], notes, number)
    return diff


# What a net number of clockwise quarter turns looks like to a reviewer.
TURNS = {
    1: "rotated a quarter turn right",
    2: "turned upside down",
    3: "rotated a quarter turn left",
    0: "rotated, then turned back",
}


def _picture_notes(old: dict, new: dict) -> list[str]:
    """The picture itself: replaced (a new file, or new bytes) or turned. A photo's
    `image_version` moves on each rotation or replacement; rows without it (snapshots taken
    before it was recorded) say nothing here, `picture_history` speaks for them."""
    if "image_version" not in old or old["image_version"] == new.get("image_version"):
        return []
    if old.get("sha256") != new.get("sha256") or old.get("file") != new.get("file"):
        note = f"picture replaced (was “{old['file']}”)" if old.get("file") else "picture replaced"
        if new.get("rotation"):
            note += f", then {TURNS[new['rotation']]}"
        return [note]
    return [TURNS[(new.get("rotation", 0) - old.get("rotation", 0)) % 4]]


def _photo_notes(old: dict, new: dict) -> list[str]:
    notes = _picture_notes(old, new)
    if old["name"] != new["name"]:
        notes.append(f"renamed from “{old['name']}”")
    if old["caption"] != new["caption"]:
        notes.append("caption changed")
    if new["primary"] and not old["primary"]:
        notes.append("now the primary photo")
    return notes


def _document_notes(old: dict, new: dict) -> list[str]:
    notes = []
    if "sha256" in old and old["sha256"] != new.get("sha256"):
        notes.append("file replaced")
    if old["name"] != new["name"]:
        notes.append(f"renamed from “{old['name']}”")
    if old["privacy"] != new["privacy"]:
        label = review_media.media().privacy_label
        notes.append(f"privacy {label(old['privacy'])} → {label(new['privacy'])}")
    return notes


def plain_text(value: Any) -> str:
    """A value no layout describes, as it is (several joined)."""
    if value in (None, "", [], {}):
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def mls_value_text(spec: MlsField, value: Any) -> str:
    """A value of one field of the MLS's layout as people read it: the list's labels (several
    joined), yes or no, a column's value as `value_text` shows it; never a code."""
    if value in (None, "", [], {}):
        return "(empty)"
    if spec.has_list:
        return spec.display(value) or "(empty)"
    if spec.column:
        return value_text(spec.column, value)
    if spec.type == "Boolean" or isinstance(value, bool):
        return "Yes" if value in (True, "true", "True", "yes") else "No"
    return plain_text(value)


MLS_VALUE_COLUMNS = ("standard_fields_extra", "custom_fields")


def _by_name(name: str, values: Any) -> dict[str, tuple[str, Any]]:
    """`standard_fields_extra` as {name: (name, value)}; `custom_fields` as {name casefolded:
    (name, value)} over its groups, so a value moved to the MLS's group is the same value."""
    if not isinstance(values, dict):
        return {}
    if name == "standard_fields_extra":
        return {str(key): (str(key), value) for key, value in values.items()}
    flat: dict[str, tuple[str, Any]] = {}
    for fields in values.values():
        if isinstance(fields, dict):
            for key, value in fields.items():
                flat.setdefault(str(key).casefold(), (str(key), value))
    return flat


def mls_value_changes(name: str, old: Any, new: Any, layout: Layout) -> list[FieldChange]:
    """What differs between two values of `standard_fields_extra` or `custom_fields`, one change
    per MLS field, named and shown as `layout` says. A name the layout does not know keeps its
    own name (the review page shows those under "Other fields")."""
    before, after = _by_name(name, old), _by_name(name, new)
    if name == "custom_fields":
        specs = {spec.spark_name.casefold(): spec for spec in layout.fields if spec.is_custom}
    else:
        specs = {spec.spark_name: spec for spec in layout.fields if not spec.is_custom and not spec.column}
    changes = []
    for key in [*before, *(key for key in after if key not in before)]:
        was, now = before.get(key, ("", None))[1], after.get(key, ("", None))[1]
        if _same(was, now):
            continue
        spec = specs.get(key)
        if spec is not None:
            changes.append(
                FieldChange(spec.key, spec.label, mls_value_text(spec, was), mls_value_text(spec, now))
            )
        else:
            raw = (after.get(key) or before[key])[0]
            target = name if name == "custom_fields" else f"std-{raw}"
            changes.append(FieldChange(target, raw, plain_text(was), plain_text(now)))
    return changes


def _layout_changes(
    changed: list[str], old: dict, new: dict, layout: Layout, agents: dict[int, str]
) -> list[FieldChange]:
    """The field changes on a page laid out by the MLS, in its order: its labels, its lists'
    labels, and one change per field kept without a column."""
    changes: list[FieldChange] = []
    for name in changed:
        if name in MLS_VALUE_COLUMNS:
            changes += mls_value_changes(name, old.get(name), new.get(name), layout)
            continue
        spec = layout.by_key.get(name)
        if spec is not None:
            changes.append(
                FieldChange(
                    name, spec.label, mls_value_text(spec, old.get(name)), mls_value_text(spec, new.get(name))
                )
            )
        else:
            changes.append(
                FieldChange(
                    name,
                    field_label(name),
                    value_text(name, old.get(name), agents),
                    value_text(name, new.get(name), agents),
                )
            )
    order = {key: index for index, key in enumerate(layout.by_key)}
    order.setdefault("co_list_agent", len(order))
    return sorted(changes, key=lambda change: order.get(change.name, len(order) + 1))


# Words of a tour's or video's values in the parts' changes.
LINK_LABELS = {
    "name": "Name",
    "url": "Link",
    "branded_url": "Branded link",
    "caption": "Caption",
    "privacy": "Privacy",
}
PartSpecs = dict[str, list[Any]]


def _part_value(spec: Any, value: Any) -> str:
    if value in (None, "", []):
        return "(empty)"
    labels = {choice.value: choice.label for choice in spec.choices} if spec is not None else {}
    items = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(str(item), str(item)) for item in items)


def _part_title(part: dict, specs: list[Any]) -> str:
    """What a person calls a part: a link's name; a room's or unit's naming attribute (its name
    or type), else its first filled field, by the list's label. Naming attributes first: the
    order of the MLS's room fields is not kept everywhere (PostgreSQL's jsonb sorts keys)."""
    if part["kind"] in (ListingPart.Kind.TOUR, ListingPart.Kind.VIDEO):
        return part.get("name") or part.get("url") or part.get("branded_url") or "Untitled"
    values = part.get("fields") or {}
    by_name = {spec.name: spec for spec in specs}
    for name in [*NAMING_ATTRIBUTES, *by_name]:
        if values.get(name) not in (None, "", []):
            return _part_value(by_name.get(name), values[name])
    return ListingPart(kind=part["kind"], fields=values, position=part.get("position", 0)).title


def _part_notes(old: dict, new: dict, specs: list[Any]) -> list[str]:
    if new["kind"] in (ListingPart.Kind.TOUR, ListingPart.Kind.VIDEO):
        privacy = dict(ListingPart.Privacy.choices)
        notes = []
        for name, label in LINK_LABELS.items():
            was, now = old.get(name) or "", new.get(name) or ""
            if was != now:
                if name == "privacy":
                    was, now = privacy.get(was, was), privacy.get(now, now)
                notes.append(f"{label} {was or '(empty)'} → {now or '(empty)'}")
        return notes
    before, after = old.get("fields") or {}, new.get("fields") or {}
    by_name = {spec.name: spec for spec in specs}
    names = [spec.name for spec in specs]
    names += sorted(name for name in {*before, *after} if name not in by_name)
    notes = []
    for name in names:
        was, now = before.get(name), after.get(name)
        if _same(was, now) or (was in (None, "", []) and now in (None, "", [])):
            continue
        spec = by_name.get(name)
        label = (spec.label or spec.name) if spec is not None else name
        notes.append(f"{label} {_part_value(spec, was)} → {_part_value(spec, now)}")
    return notes


def parts_diff(old: list[dict], new: list[dict], specs: PartSpecs) -> PartsDiff:
    """Rooms, units, tours and videos added, removed, changed or moved, in plain words
    ("Room 2 Kitchen: Room Level Main → Upper", "Virtual tour added: 3D walk-through")."""
    diff = PartsDiff()
    for kind, noun in ListingPart.Kind.choices:
        kind_specs = specs.get(kind, [])
        before = [part for part in old if part.get("kind") == kind]
        now = [part for part in new if part.get("kind") == kind]
        was = {part["id"]: part for part in before}
        is_now = {part["id"]: part for part in now}
        # Moves are read on the parts kept, as for photos: an added one shifts the others.
        kept_before = [part["id"] for part in before if part["id"] in is_now]
        kept_now = [part["id"] for part in now if part["id"] in was]
        for index, part in enumerate(now):
            title = _part_title(part, kind_specs)
            if part["id"] not in was:
                diff.changes.append(PartChange(kind, part["id"], f"{noun} added: {title}"))
                continue
            notes = _part_notes(was[part["id"]], part, kind_specs)
            if kept_before.index(part["id"]) != kept_now.index(part["id"]):
                old_index = before.index(was[part["id"]])
                notes.append(f"moved from {noun.lower()} {old_index + 1} to {index + 1}")
            if notes:
                diff.changes.append(
                    PartChange(kind, part["id"], f"{noun} {index + 1} {title}: {'; '.join(notes)}")
                )
        for part in before:
            if part["id"] not in is_now:
                diff.changes.append(
                    PartChange(kind, None, f"{noun} removed: {_part_title(part, kind_specs)}")
                )
    return diff


def part_specs_of(draft: Draft) -> PartSpecs:
    """The MLS's room and unit fields for the draft's type (empty before they were read)."""
    return {
        ListingPart.Kind.ROOM: part_fields.room_fields(draft.property_type),
        ListingPart.Kind.UNIT: part_fields.unit_fields(draft.property_type),
    }


def diff_states(
    old: dict,
    new: dict,
    *,
    baseline: ReviewSnapshot | None = None,
    layout: Layout | None = None,
    part_specs: PartSpecs | None = None,
    picture_history: dict[int, list[str]] | None = None,
) -> ReviewDiff:
    """The difference between two `ReviewSnapshot.state_of` results, in the words of the MLS's
    `layout` when there is one (else the fixed fields'). At most one query (the names of
    co-listing agents, when that field changed). A baseline taken before snapshots held parts
    compares no parts."""
    old_fields, new_fields = old.get("fields", {}), new.get("fields", {})
    changed = [
        name
        for name in new_fields
        if name in old_fields and not _same(old_fields.get(name), new_fields.get(name))
    ]
    agents: dict[int, str] = {}
    if "co_list_agent" in changed:
        ids = {old_fields.get("co_list_agent"), new_fields.get("co_list_agent")} - {None}
        agents = {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    if layout is not None:
        changes = _layout_changes(changed, old_fields, new_fields, layout, agents)
    else:
        order = {name: index for index, name in enumerate(_FIELD_ORDER)}
        changes = [
            FieldChange(
                name,
                field_label(name),
                value_text(name, old_fields.get(name), agents),
                value_text(name, new_fields.get(name), agents),
                on_page=name != "standard_fields_extra",  # the fixed sections have no place for it
            )
            for name in sorted(changed, key=lambda name: order.get(name, len(order)))
        ]
    if "parts" in old:
        parts = parts_diff(old["parts"], new.get("parts", []), part_specs or {})
    else:
        parts = PartsDiff(not_recorded=bool(new.get("parts")))
    return ReviewDiff(
        baseline=baseline,
        fields=changes,
        photos=_media_diff(
            old.get("photos", []), new.get("photos", []), _photo_notes, "photo", picture_history
        ),
        documents=_media_diff(
            old.get("documents", []), new.get("documents", []), _document_notes, "document"
        ),
        parts=parts,
    )


def changes_since_last_review(
    draft: Draft,
    *,
    current: dict | None = None,
    book: rules.RuleBook | None = None,
    part_specs: PartSpecs | None = None,
) -> ReviewDiff:
    """From the latest review decision (changes requested or approved) to now; an empty diff
    with no baseline when the draft was never reviewed. In the MLS's words when its layout was
    read (`book` and `part_specs` save their queries when the caller has them)."""
    baseline = ReviewSnapshot.last_decision(draft)
    if baseline is None:
        return ReviewDiff(baseline=None)
    layout = (book or rules.RuleBook()).layout(draft.property_type)
    unrecorded = {row["id"] for row in baseline.data.get("photos", []) if "image_version" not in row}
    return diff_states(
        baseline.data,
        current or ReviewSnapshot.state_of(draft),
        baseline=baseline,
        layout=layout,
        part_specs=part_specs if part_specs is not None else part_specs_of(draft),
        picture_history=picture_history(draft, baseline, unrecorded) if unrecorded else None,
    )


# The history's note on a photo's picture: "Photo 12 rotated", "Photo 12 replaced".
_PICTURE_NOTE = re.compile(r"^Photo (\d+) (rotated|replaced)")


def picture_history(draft: Draft, baseline: ReviewSnapshot, photo_ids: set[int]) -> dict[int, list[str]]:
    """Rotations and replacements of `photo_ids` since `baseline`, read from the draft's history
    (Photo.rotate and Photo.replace_original record them), for a baseline whose photo rows
    predate the picture's own fields. One query."""
    events = DraftEvent.objects.filter(
        draft=draft, kind=DraftEvent.Kind.PHOTO, field__in=("rotation", "replaced"), at__gt=baseline.taken_at
    ).order_by("at", "pk")
    turns: dict[int, list[int]] = {}
    replaced: dict[int, str] = {}
    for event in events:
        found = _PICTURE_NOTE.match(event.note)
        if found is None or int(found[1]) not in photo_ids:
            continue
        photo_id = int(found[1])
        if found[2] == "replaced":
            replaced.setdefault(photo_id, str(event.old_value or ""))
            turns.pop(photo_id, None)  # a replacement starts unturned
        elif isinstance(event.old_value, int) and isinstance(event.new_value, int):
            turns.setdefault(photo_id, [event.old_value, event.new_value])[1] = event.new_value
    notes: dict[int, list[str]] = {}
    for photo_id, file in replaced.items():
        notes[photo_id] = [f"picture replaced (was “{file}”)" if file else "picture replaced"]
    for photo_id, (first, last) in turns.items():
        turn = TURNS[(last - first) % 4]
        notes[photo_id] = [f"{notes[photo_id][0]}, then {turn}"] if photo_id in notes else [turn]
    return notes


def _field_order() -> list[str]:
    names = [name for _, _, names in SECTIONS for name in names]
    return [*names, "co_list_agent", "standard_fields_extra", "custom_fields"]


_FIELD_ORDER = _field_order()


# --- The review queue ---------------------------------------------------------------------------


@dataclass
class QueueRow:
    draft: Draft
    percent: int
    errors: list[rules.RuleResult]
    warnings: list[rules.RuleResult]
    photo_count: int
    documents: list[review_media.DocumentRequirement]
    waiting_since: datetime

    @property
    def missing_documents(self) -> list[str]:
        return [status.name for status in self.documents if not status.present and not status.note]

    @property
    def waiting(self) -> timedelta:
        return timezone.now() - self.waiting_since

    @property
    def is_ready(self) -> bool:
        """Nothing a reviewer would send back for: no rule error, a photo, the documents."""
        return not self.errors and self.photo_count > 0 and not self.missing_documents


READINESS_FILTERS: dict[str, tuple[str, Callable[[QueueRow], bool]]] = {
    "ready": ("Ready to approve", lambda row: row.is_ready),
    "errors": ("Has errors", lambda row: bool(row.errors)),
    "documents": ("Missing documents", lambda row: bool(row.missing_documents)),
    "photos": ("No photos", lambda row: row.photo_count == 0),
}

QUEUE_SORTS: dict[str, tuple[str, Callable[[QueueRow], Any], bool]] = {
    "oldest": ("Waiting longest", lambda row: (row.waiting_since, row.draft.pk), False),
    "newest": ("Newest first", lambda row: (row.waiting_since, row.draft.pk), True),
    "-readiness": ("Most ready first", lambda row: (row.is_ready, row.percent, -row.draft.pk), True),
    "readiness": ("Least ready first", lambda row: (row.is_ready, row.percent, row.draft.pk), False),
    "agent": (
        "Agent",
        lambda row: (row.draft.list_agent.last_name.casefold(), row.draft.list_agent.first_name.casefold()),
        False,
    ),
    "-price": ("Price, high to low", lambda row: (row.draft.list_price or 0, row.draft.pk), True),
}


def awaiting_review_for(user):
    """The submitted drafts `user` reviews (their office's; a company admin's company's)."""
    if not user.is_authenticated or not (user.is_reviewer or user.is_superuser):
        return Draft.objects.none()
    return Draft.objects.visible_to(user).active().awaiting_review()


def review_queue(
    user, *, agent_id: int | None = None, property_type: str = "", readiness: str = "", sort: str = "oldest"
) -> list[QueueRow]:
    """The queue as rows, filtered and sorted. Two queries however long it is: the drafts
    (with their photo count) and their documents' names. Readiness is computed here, so
    the readiness filter and sort run in Python over the office's submitted drafts."""
    drafts = (
        awaiting_review_for(user)
        .select_related("list_agent", "co_list_agent", "office", "sync")
        .annotate(photo_count=Count("photos", filter=Q(photos__deleted_at__isnull=True)))
        .order_by()
    )
    if agent_id:
        drafts = drafts.filter(Q(list_agent_id=agent_id) | Q(co_list_agent_id=agent_id))
    if property_type:
        drafts = drafts.filter(property_type=property_type)
    drafts = list(drafts)
    media = review_media.media()
    document_names = media.document_names_of(drafts)
    rows = []
    book = rules.RuleBook()  # the MLS's rules read once for the queue
    for draft in drafts:
        percent, errors, warnings = rules.readiness(draft, book)
        rows.append(
            QueueRow(
                draft=draft,
                percent=percent,
                errors=errors,
                warnings=warnings,
                photo_count=draft.photo_count,
                documents=media.required_documents(draft, document_names[draft.pk]),
                waiting_since=draft.submitted_at or draft.updated_at,
            )
        )
    if readiness in READINESS_FILTERS:
        keep = READINESS_FILTERS[readiness][1]
        rows = [row for row in rows if keep(row)]
    _, key, reverse = QUEUE_SORTS.get(sort, QUEUE_SORTS["oldest"])
    rows.sort(key=key, reverse=reverse)
    return rows
