"""What a reviewer reads: what changed since the last review, and the queue's readiness.

Photos and documents come from media_manager through `review_media` (drafts imports
nothing of media_manager); `drafts.models` reaches them through reverse relations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User

from . import review_media, rules
from .fields import SECTIONS, PropertyType
from .models import Draft, ReviewSnapshot

# --- What changed since the last review ------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    old: str
    new: str


@dataclass
class ItemChange:
    """One photo or document present before and now, and what happened to it."""

    id: int
    name: str
    notes: list[str] = field(default_factory=list)


@dataclass
class MediaDiff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: dict[int, ItemChange] = field(default_factory=dict)
    reordered: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.reordered)

    @property
    def added_ids(self) -> set[int]:
        return {item["id"] for item in self.added}


@dataclass
class ReviewDiff:
    """The changes from `baseline` (None: never reviewed, nothing to compare) to now."""

    baseline: ReviewSnapshot | None
    fields: list[FieldChange] = field(default_factory=list)
    photos: MediaDiff = field(default_factory=MediaDiff)
    documents: MediaDiff = field(default_factory=MediaDiff)

    def __bool__(self) -> bool:
        return bool(self.fields or self.photos or self.documents)

    @property
    def changed_fields(self) -> dict[str, FieldChange]:
        return {change.name: change for change in self.fields}


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
    old: list[dict], new: list[dict], describe: Callable[[dict, dict], list[str]], noun: str
) -> MediaDiff:
    before = {item["id"]: item for item in old}
    now = {item["id"]: item for item in new}
    diff = MediaDiff(
        added=[item for item in new if item["id"] not in before],
        removed=[item for item in old if item["id"] not in now],
    )
    # Moves are read on the items kept: adding or removing one shifts the others without
    # anyone having moved them.
    kept_before = [item["id"] for item in old if item["id"] in now]
    kept_now = [item["id"] for item in new if item["id"] in before]
    diff.reordered = kept_before != kept_now
    for item in new:
        if item["id"] not in before:
            continue
        notes = describe(before[item["id"]], item)
        if diff.reordered:
            was, is_now = kept_before.index(item["id"]), kept_now.index(item["id"])
            if was != is_now:
                notes.append(f"moved from {noun} {was + 1} to {is_now + 1}")
        if notes:
            diff.changed[item["id"]] = ItemChange(item["id"], item["name"], notes)
    return diff


def _photo_notes(old: dict, new: dict) -> list[str]:
    notes = []
    if old["name"] != new["name"]:
        notes.append(f"renamed from “{old['name']}”")
    if old["caption"] != new["caption"]:
        notes.append("caption changed")
    if new["primary"] and not old["primary"]:
        notes.append("now the primary photo")
    return notes


def _document_notes(old: dict, new: dict) -> list[str]:
    notes = []
    if old["name"] != new["name"]:
        notes.append(f"renamed from “{old['name']}”")
    if old["privacy"] != new["privacy"]:
        label = review_media.media().privacy_label
        notes.append(f"privacy {label(old['privacy'])} → {label(new['privacy'])}")
    return notes


def diff_states(old: dict, new: dict, *, baseline: ReviewSnapshot | None = None) -> ReviewDiff:
    """The difference between two `ReviewSnapshot.state_of` results. At most one query (the
    names of co-listing agents, when that field changed)."""
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
    order = {name: index for index, name in enumerate(_FIELD_ORDER)}
    changes = [
        FieldChange(
            name,
            field_label(name),
            value_text(name, old_fields.get(name), agents),
            value_text(name, new_fields.get(name), agents),
        )
        for name in sorted(changed, key=lambda name: order.get(name, len(order)))
    ]
    return ReviewDiff(
        baseline=baseline,
        fields=changes,
        photos=_media_diff(old.get("photos", []), new.get("photos", []), _photo_notes, "photo"),
        documents=_media_diff(
            old.get("documents", []), new.get("documents", []), _document_notes, "document"
        ),
    )


def changes_since_last_review(draft: Draft, *, current: dict | None = None) -> ReviewDiff:
    """From the latest review decision (changes requested or approved) to now; an empty diff
    with no baseline when the draft was never reviewed."""
    baseline = ReviewSnapshot.last_decision(draft)
    if baseline is None:
        return ReviewDiff(baseline=None)
    return diff_states(baseline.data, current or ReviewSnapshot.state_of(draft), baseline=baseline)


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
