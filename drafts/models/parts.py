"""The smaller parts of a draft the MLS asks for besides its fields, photos and documents: rooms,
units, virtual tours and videos (docs/architecture.md#listing-parts).

One model for the four, because they share everything the portal does with them: a place in the
draft's order of that kind, edits that send the draft to the MLS again, and one to two records
on the MLS each. Rooms and units hold the MLS's own attributes (from its Rooms and Units
metadata, keyed by attribute name), so any MLS's room fields fit without a migration. Tours and
videos hold a link: the unbranded one, and optionally a branded one the MLS pairs with it.

`remote_records()` is the one place that says what the MLS receives for a part.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, router, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from listings_portal.compiled_get import compile_get, compiled_once

from .. import part_fields
from ..fields import PropertyType
from .history import DraftEvent

if TYPE_CHECKING:
    from .draft import Draft

PART_NAME_MAX = 100
PART_URL_MAX = 500
PART_CAPTION_MAX = 1000

UNBRANDED, BRANDED = "unbranded", "branded"
# What a tour or video may change; rooms and units change `fields`.
LINK_VALUES = ("name", "url", "branded_url", "caption", "privacy")
MOVES = ("earlier", "later", "first", "last")
# Kinds the MLS describes with fields of its own, per property type.
FIELDED_KINDS = ("room", "unit")
# A room's or unit's attributes that name it, as Spark's and common MLSs' metadata spell them.
NAMING_ATTRIBUTES = ("RoomName", "RoomType", "Name", "unit_nbr", "UnitNumber", "UnitType")


def part_kinds(
    property_type: str,
    *,
    lists_read: bool | None = None,
    unit_fields: Sequence[Any] | None = None,
    room_fields: Sequence[Any] | None = None,
) -> list[str]:
    """The kinds of part a draft of `property_type` may have, and the only ones the MLS is sent:
    rooms and units only where the MLS shows their fields for the type (units: multi family),
    or, while the MLS's lists were never read, rooms always and units for multi family.
    A caller that read `lists_read` and the fields already passes them (no query then).

    Parts of another kind a draft still holds (its type changed) stay in the draft, unsent:
    the sync engine leaves them out of what the MLS should show (mls/state.py `local_parts`)."""
    if lists_read is None:
        lists_read = part_fields.lists_read()
    if not lists_read:
        kinds = ["room", "unit"] if property_type == PropertyType.MULTI_FAMILY else ["room"]
        return [*kinds, "tour", "video"]
    if room_fields is None:
        room_fields = part_fields.room_fields(property_type)
    if unit_fields is None:
        unit_fields = part_fields.unit_fields(property_type)
    kinds = [kind for kind, fields in (("room", room_fields), ("unit", unit_fields)) if fields]
    return [*kinds, "tour", "video"]


def types_with_kind(kind: str) -> list[str]:
    """The property types whose drafts may have parts of `kind` (their names, in the MLS's
    order), for telling people why a draft's parts are not sent."""
    lists_read = part_fields.lists_read()
    return [
        str(label)
        for value, label in PropertyType.choices
        if kind in part_kinds(value, lists_read=lists_read)
    ]


def sent_to_mls(parts: Iterable[ListingPart], property_type: str) -> list[ListingPart]:
    """The `parts` the MLS is sent for a draft of `property_type` (`part_kinds`): the MLS's
    lists are consulted only when there are rooms or units to judge."""
    parts = list(parts)
    if not any(part.kind in FIELDED_KINDS for part in parts):
        return parts
    kinds = part_kinds(property_type)
    return [part for part in parts if part.kind in kinds]


@contextmanager
def _changing_parts(draft: Draft, by: User, note: str) -> Iterator[Draft]:
    """One change to a draft's parts: under the draft's row lock, only for someone who may edit
    it; then the MLS must catch up (change_seq), a reviewed draft goes back to drafting, and the
    history says what happened. `draft` reflects the new status and version afterwards."""
    with transaction.atomic():
        locked = type(draft).objects.select_for_update().get(pk=draft.pk)
        if not locked.can_edit(by):
            raise PermissionDenied("This draft can no longer be edited.")
        yield locked
        locked.note_media_changed(by=by, reason=note, mark_for_sync=True, locked=locked)
        DraftEvent.record(locked, by, DraftEvent.Kind.PART, note=note)
    draft.status, draft.version = locked.status, locked.version
    draft.updated_by, draft.updated_at = locked.updated_by, locked.updated_at
    # What is shown next (each part's place in the MLS) must know the draft moved on.
    draft.change_seq = type(draft).objects.values_list("change_seq", flat=True).get(pk=draft.pk)


class ListingPartQuerySet(models.QuerySet["ListingPart"]):
    def of_kind(self, kind: str) -> ListingPartQuerySet:
        return self.filter(kind=kind).order_by("position", "pk")

    def add(self, draft: Draft, kind: str, *, by: User, **values: Any) -> ListingPart:
        """A new part of `kind` at the end of the draft's parts of that kind. `values` are
        `fields` for a room or unit, LINK_VALUES for a tour or video, already checked by the
        form."""
        if kind not in part_kinds(draft.property_type):
            label = ListingPart.Kind(kind).label.lower() + "s" if kind in ListingPart.Kind.values else kind
            raise ValidationError(f"A {draft.get_property_type_display().lower()} listing has no {label}.")
        part = ListingPart(draft_id=draft.pk, kind=kind)
        part.set_values(values)
        with _changing_parts(draft, by, f"Added {part.kind_label} {part.title}") as locked:
            part.position = ListingPart.objects.filter(draft=locked, kind=kind).count()
            part.save()
        return part

    def reorder(self, draft: Draft, kind: str, ids: Sequence[int | str], *, by: User) -> bool:
        """Put the draft's parts of `kind` in the order of `ids`, which must name each exactly
        once (else ValidationError: the list changed meanwhile). False if nothing moved."""
        try:
            wanted = [int(part_id) for part_id in ids]
        except (TypeError, ValueError):
            raise ValidationError("The list changed meanwhile: reload the page and try again.") from None
        label = ListingPart.Kind(kind).label.lower() + "s"
        try:
            with _changing_parts(draft, by, f"Reordered the {label}") as locked:
                parts = list(ListingPart.objects.filter(draft=locked, kind=kind).order_by("position", "pk"))
                if sorted(wanted) != sorted(part.pk for part in parts):
                    raise ValidationError("The list changed meanwhile: reload the page and try again.")
                if wanted == [part.pk for part in parts]:
                    raise _NothingChanged
                _write_positions(parts, wanted)
        except _NothingChanged:
            # Nothing moved: the draft stays as it was (the transaction rolled back).
            return False
        return True


def _parts_in_order(draft_id: int) -> ListingPartQuerySet:
    return ListingPart.objects.filter(draft_id=draft_id).order_by("kind", "position", "pk")


# A draft key no draft has: of_draft_in_order's SELECT is compiled with it, never executed with it.
_DRAFT_STAND_IN = -2_000_000_311


class _NothingChanged(Exception):
    pass


def _write_positions(parts: list[ListingPart], order: list[int]) -> None:
    by_id = {part.pk: part for part in parts}
    moved = []
    for position, part_id in enumerate(order):
        part = by_id[part_id]
        if part.position != position:
            part.position = position
            part.updated_at = timezone.now()
            moved.append(part)
    ListingPart.objects.bulk_update(moved, ["position", "updated_at"])


class ListingPart(models.Model):
    """A room, unit, virtual tour or video of a draft, in the draft's order of its kind."""

    class Kind(models.TextChoices):
        ROOM = "room", "Room"
        UNIT = "unit", "Unit"
        TOUR = "tour", "Virtual tour"
        VIDEO = "video", "Video"

    class Privacy(models.TextChoices):
        DEFAULT = "", "The MLS's default"
        PUBLIC = "Public", "Public"
        PRIVATE = "Private", "Private (agents only)"
        AUTOMATIC = "Automatic", "Public until the listing closes"

    draft = models.ForeignKey("drafts.Draft", on_delete=models.CASCADE, related_name="parts")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    # 0-based place among the draft's parts of the same kind.
    position = models.PositiveIntegerField(default=0)
    # Rooms and units: the MLS's attribute name -> a string, or a list of strings for a field
    # the MLS marks MultiSelect.
    fields = models.JSONField(default=dict, blank=True)
    # Tours and videos.
    name = models.CharField(max_length=PART_NAME_MAX, blank=True)
    url = models.CharField("link", max_length=PART_URL_MAX, blank=True)
    branded_url = models.CharField("branded link", max_length=PART_URL_MAX, blank=True)
    caption = models.CharField(max_length=PART_CAPTION_MAX, blank=True)
    privacy = models.CharField(max_length=10, choices=Privacy.choices, blank=True, default="")

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ListingPartQuerySet.as_manager()

    class Meta:
        ordering = ["draft", "kind", "position", "pk"]
        indexes = [models.Index(fields=["draft", "kind", "position"], name="part_draft_kind_position")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["room", "unit", "tour", "video"]), name="part_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.title}"

    @classmethod
    def of_draft_in_order(cls, draft: Draft) -> list[ListingPart]:
        """Every part of `draft`, by kind, position and key, as `draft.parts` gives them (each
        part's `draft` is `draft`), through a SELECT compiled once per connection: the ORM
        compiled it on every editor page."""
        alias = router.db_for_read(cls)
        compiled = compiled_once(
            alias,
            "ListingPart.of_draft_in_order",
            lambda: compile_get(
                _parts_in_order(_DRAFT_STAND_IN), alias, {_DRAFT_STAND_IN: "draft"}, many=True
            ),
        )
        if compiled is None:
            parts = list(_parts_in_order(draft.pk))
        else:
            parts = cast(list[ListingPart], compiled.fetch_all({"draft": lambda: int(draft.pk)}))
        for part in parts:
            part.draft = draft  # as the related manager sets it: no read of the draft again
        return parts

    @property
    def title(self) -> str:
        """What a person calls it: a room's name or type, a unit's number or type, a link's name."""
        if self.kind in (self.Kind.TOUR, self.Kind.VIDEO):
            return self.name or self.url or self.branded_url
        fields = self.fields or {}
        # The usual naming attributes first: PostgreSQL's jsonb does not keep the MLS's order.
        for name in NAMING_ATTRIBUTES:
            if fields.get(name):
                value = fields[name]
                return ", ".join(value) if isinstance(value, list) else str(value)
        for value in fields.values():
            if value:
                return ", ".join(value) if isinstance(value, list) else str(value)
        return f"#{self.position + 1}"

    @property
    def kind_label(self) -> str:
        return self.get_kind_display().lower()

    @property
    def is_link(self) -> bool:
        return self.kind in (self.Kind.TOUR, self.Kind.VIDEO)

    @property
    def dom_id(self) -> str:
        return f"part-{self.pk}"

    def field_items(self) -> list[tuple[str, str]]:
        """(attribute name, value as text) of a room's or unit's filled fields, in stored order."""
        return [
            (name, ", ".join(value) if isinstance(value, list) else str(value))
            for name, value in (self.fields or {}).items()
            if value not in (None, "", [])
        ]

    def set_values(self, values: dict[str, Any]) -> None:
        if self.is_link:
            for name in LINK_VALUES:
                if name in values:
                    setattr(self, name, values[name] or "")
        else:
            self.fields = {
                name: value
                for name, value in (values.get("fields") or {}).items()
                if value not in (None, "", [])
            }

    def copy_for(self, draft: Draft) -> ListingPart:
        """An unsaved copy of this part for another draft (`Draft.duplicate`)."""
        now = timezone.now()
        return ListingPart(
            draft=draft,
            kind=self.kind,
            position=self.position,
            fields=dict(self.fields or {}),
            **{name: getattr(self, name) for name in LINK_VALUES},
            created_at=now,
            updated_at=now,
        )

    # --- Changes (each its own transaction; see `_changing_parts`) ---
    def edit(self, *, by: User, **values: Any) -> bool:
        """Save new values (as `ListingPartQuerySet.add` takes them). False if nothing changed."""
        before = (dict(self.fields or {}), *(getattr(self, name) for name in LINK_VALUES))
        self.set_values(values)
        if before == (dict(self.fields or {}), *(getattr(self, name) for name in LINK_VALUES)):
            return False
        with _changing_parts(self.draft, by, f"Changed {self.kind_label} {self.title}"):
            self.updated_at = timezone.now()
            self.save(update_fields=["fields", *LINK_VALUES, "updated_at"])
        return True

    def remove(self, *, by: User) -> None:
        with _changing_parts(self.draft, by, f"Removed {self.kind_label} {self.title}") as locked:
            ListingPart.objects.filter(pk=self.pk).delete()
            ListingPart.objects.filter(draft=locked, kind=self.kind, position__gt=self.position).update(
                position=F("position") - 1
            )

    def move(self, direction: str, *, by: User) -> bool:
        """Move earlier, later, first or last among the draft's parts of its kind (the keyboard's
        and the no-script way to reorder). False when it is already there."""
        if direction not in MOVES:
            raise ValidationError("Choose where to move it: earlier, later, first or last.")
        words = {"earlier": "up", "later": "down", "first": "to the top", "last": "to the bottom"}
        try:
            with _changing_parts(
                self.draft, by, f"Moved {self.kind_label} {self.title} {words[direction]}"
            ) as locked:
                parts = list(
                    ListingPart.objects.filter(draft=locked, kind=self.kind).order_by("position", "pk")
                )
                order = [part.pk for part in parts]
                if self.pk not in order:
                    raise ValidationError("This was removed meanwhile.")
                index = order.index(self.pk)
                target = {"earlier": index - 1, "later": index + 1, "first": 0, "last": len(order) - 1}[
                    direction
                ]
                target = max(0, min(target, len(order) - 1))
                if target == index:
                    raise _NothingChanged
                order.insert(target, order.pop(index))
                _write_positions(parts, order)
        except _NothingChanged:
            return False
        return True

    # --- What the MLS receives ---
    def remote_records(self) -> list[tuple[str, dict[str, Any]]]:
        """(variant, attributes) for each MLS record this part is. Rooms and units are one record
        ("" variant) of their attributes, every value a string (lists joined by commas), as the
        rooms and units pages show. A tour or video is one record per link it has: the unbranded
        one first, then the branded one, which the sync engine pairs with the first by GroupId."""
        if self.kind in (self.Kind.ROOM, self.Kind.UNIT):
            return [("", {name: _as_text(value) for name, value in sorted((self.fields or {}).items())})]
        records = []
        for variant, link in ((UNBRANDED, self.url), (BRANDED, self.branded_url)):
            if not link:
                continue
            body: dict[str, Any] = {"Name": self.name, "Type": variant}
            if self.kind == self.Kind.TOUR:
                body["Uri"] = link
            else:
                body["Caption"] = self.caption
                body["ObjectHtml"] = video_embed_html(link)
            if self.privacy:
                body["Privacy"] = self.privacy
            records.append((variant, body))
        return records


def _as_text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def video_embed_html(link: str) -> str:
    """The embed markup Spark keeps for a video (`ObjectHtml`): an iframe of the player page
    for YouTube and Vimeo links, else an iframe of the link itself."""
    return f'<iframe src="{html.escape(video_player_url(link), quote=True)}" allowfullscreen></iframe>'


def video_player_url(link: str) -> str:
    parts = urlsplit(link)
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    path = parts.path.strip("/")
    if host == "youtu.be" and path:
        return f"https://www.youtube.com/embed/{path.split('/')[0]}"
    if host == "youtube.com":
        video = parse_qs(parts.query).get("v", [""])[0]
        if video:
            return f"https://www.youtube.com/embed/{video}"
        if path.startswith(("embed/", "shorts/")):
            return f"https://www.youtube.com/embed/{path.split('/')[1]}"
    if host == "vimeo.com" and path.split("/")[0].isdigit():
        return f"https://player.vimeo.com/video/{path.split('/')[0]}"
    return link
