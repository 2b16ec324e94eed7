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
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import models
from django.utils import timezone

PART_NAME_MAX = 100
PART_URL_MAX = 500
PART_CAPTION_MAX = 1000

UNBRANDED, BRANDED = "unbranded", "branded"


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

    @property
    def title(self) -> str:
        """What a person calls it: a room's name or type, a unit's number or type, a link's name."""
        if self.kind in (self.Kind.TOUR, self.Kind.VIDEO):
            return self.name or self.url or self.branded_url
        for value in (self.fields or {}).values():
            if value:
                return ", ".join(value) if isinstance(value, list) else str(value)
        return f"#{self.position + 1}"

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
