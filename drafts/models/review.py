"""Review of a draft: the snapshots taken at submission and at each decision, and the
reviewers' comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User

from ..fields import AUTOSAVE_FIELDS
from ..layout import layout_for
from .history import DraftEvent, jsonable
from .parts import LINK_VALUES as PART_LINK_VALUES
from .status import TransitionNotAllowed

if TYPE_CHECKING:
    from .draft import Draft

REVIEW_REASON_MAX = 2000
REVIEW_COMMENT_MAX = 2000


class ReviewSnapshot(models.Model):
    """What a draft held at a submission or a review decision: the baseline of "what changed
    since the last review". Written once, never changed."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"

    DECISIONS: tuple[str, ...] = (Kind.CHANGES_REQUESTED, Kind.APPROVED)

    draft = models.ForeignKey("drafts.Draft", on_delete=models.CASCADE, related_name="review_snapshots")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    taken_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # {"fields": {name: value},
    #  "photos": [{id, name, caption, position, primary, rotation, image_version, file, sha256}],
    #  "documents": [{id, name, privacy, position, file, sha256}],
    #  "parts": [{id, kind, position, title, fields, name, url, branded_url, caption, privacy}]}
    # Snapshots taken before parts were recorded have no "parts": their diff compares none.
    # Older photo rows lack rotation, image_version, file and sha256: the diff reads those
    # pictures' changes from the draft's history instead (drafts/review.py).
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-taken_at", "-pk"]
        indexes = [models.Index(fields=["draft", "-taken_at"], name="reviewsnapshot_draft_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["submitted", "changes_requested", "approved"]),
                name="reviewsnapshot_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} snapshot of draft {self.draft_id}"

    @staticmethod
    def state_of(draft: Draft) -> dict[str, Any]:
        """The reviewed state of `draft` now: its autosaved fields, its photos and documents
        not in the trash (reached through media_manager's reverse relations: media imports
        drafts, not the other way), its rooms, units, tours and videos in their order. Three
        queries."""
        fields = {
            name: jsonable(getattr(draft, draft._meta.get_field(name).attname))
            for name in sorted(AUTOSAVE_FIELDS)
        }
        # The MLS's standard fields kept without a column (drafts/layout.py).
        fields["standard_fields_extra"] = jsonable(draft.standard_fields_extra)
        photos = [
            {
                "id": row["pk"],
                "name": row["name"],
                "caption": row["caption"],
                "position": row["position"],
                "primary": row["is_primary"],
                # The picture itself: a rotation or a replacement bumps image_version.
                "rotation": row["rotation"],
                "image_version": row["image_version"],
                "file": row["original_name"],
                "sha256": row["original_sha256"],
            }
            for row in draft.photos.filter(deleted_at__isnull=True)
            .order_by("position")
            .values(
                "pk",
                "name",
                "caption",
                "position",
                "is_primary",
                "rotation",
                "image_version",
                "original_name",
                "original_sha256",
            )
        ]
        documents = [
            {
                "id": row["pk"],
                "name": row["name"],
                "privacy": row["privacy"],
                "position": row["position"],
                "file": row["original_name"],
                "sha256": row["sha256"],
            }
            for row in draft.documents.filter(deleted_at__isnull=True)
            .order_by("position")
            .values("pk", "name", "privacy", "position", "original_name", "sha256")
        ]
        parts = [
            {
                "id": part.pk,
                "kind": part.kind,
                "position": part.position,
                "title": part.title,
                "fields": jsonable(dict(part.fields or {})),
                **{name: getattr(part, name) for name in PART_LINK_VALUES},
            }
            for part in draft.parts.order_by("kind", "position", "pk")
        ]
        return {"fields": fields, "photos": photos, "documents": documents, "parts": parts}

    @classmethod
    def capture(cls, draft: Draft, kind: str, *, by: User) -> ReviewSnapshot:
        return cls.objects.create(draft=draft, kind=kind, taken_by=by, data=cls.state_of(draft))

    @classmethod
    def last_decision(cls, draft: Draft) -> ReviewSnapshot | None:
        """The snapshot of the latest review decision (changes requested or approved)."""
        return cls.objects.filter(draft=draft, kind__in=cls.DECISIONS).select_related("taken_by").first()


class ReviewComment(models.Model):
    """A reviewer's comment on a field, a photo, a document or the whole draft.

    `target_key` is the field name (a column's name, or the editor's key `std-<MLS name>` /
    `cf-<slug>` of a field of the MLS's layout kept without one), the photo's or document's
    id, or "" for the whole draft.
    The draft's `open_review_comments` counts the unresolved ones.
    """

    class Target(models.TextChoices):
        DRAFT = "draft", "The whole draft"
        FIELD = "field", "A field"
        PHOTO = "photo", "A photo"
        DOCUMENT = "document", "A document"

    draft = models.ForeignKey("drafts.Draft", on_delete=models.CASCADE, related_name="review_comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    target_kind = models.CharField(max_length=10, choices=Target.choices, default=Target.DRAFT)
    target_key = models.CharField(max_length=60, blank=True)
    text = models.TextField(max_length=REVIEW_COMMENT_MAX)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["draft", "resolved_at"], name="reviewcomment_draft_open")]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_kind__in=["draft", "field", "photo", "document"]),
                name="reviewcomment_target_kind_valid",
            ),
            # The whole draft has no key; anything else names its field or item.
            models.CheckConstraint(
                condition=Q(target_kind="draft", target_key="")
                | (~Q(target_kind="draft") & ~Q(target_key="")),
                name="reviewcomment_key_matches_kind",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="reviewcomment_text_not_empty"),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | Q(resolved_at__isnull=False),
                name="reviewcomment_resolver_needs_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Comment on {self.target_kind} {self.target_key}".strip()

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def dom_id(self) -> str:
        return f"review-comment-{self.pk}"

    @classmethod
    def check_target(cls, draft: Draft, kind: str, key: str) -> None:
        """ValidationError unless (kind, key) names something of `draft`."""
        if kind == cls.Target.DRAFT:
            if key:
                raise ValidationError("A comment on the whole draft names nothing else.")
            return
        if kind == cls.Target.FIELD:
            if key in AUTOSAVE_FIELDS:
                return
            # A field of the MLS's layout kept without a column, by the editor's key.
            if key.startswith(("std-", "cf-")):
                layout = layout_for(draft.property_type)
                if layout is not None and key in layout.by_key:
                    return
            raise ValidationError("No such field.")
        if kind in (cls.Target.PHOTO, cls.Target.DOCUMENT):
            items = draft.photos if kind == cls.Target.PHOTO else draft.documents
            if not key.isdigit() or not items.filter(pk=int(key), deleted_at__isnull=True).exists():
                raise ValidationError(f"No such {kind} on this draft.")
            return
        raise ValidationError("Unknown comment target.")

    def resolve(self, *, by: User) -> bool:
        """Mark resolved (the draft's agents or a reviewer); False if it already was."""
        if not (self.draft.can_submit(by) or self.draft.can_review(by)):
            raise TransitionNotAllowed("Only the draft's agents or a reviewer can resolve a comment.")
        now = timezone.now()
        with transaction.atomic():
            done = ReviewComment.objects.filter(pk=self.pk, resolved_at__isnull=True).update(
                resolved_at=now, resolved_by=by
            )
            if not done:
                return False
            # Draft reached through the instance: drafts.models.draft imports this module.
            type(self.draft).objects.filter(pk=self.draft_id, open_review_comments__gt=0).update(
                open_review_comments=F("open_review_comments") - 1
            )
            DraftEvent.record(
                self.draft, by, DraftEvent.Kind.REVIEW, field="comment", old=self.pk, note="Comment resolved"
            )
        self.resolved_at, self.resolved_by = now, by
        return True
