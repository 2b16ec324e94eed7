"""A draft's history: append-only events of who changed what and when."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import User

if TYPE_CHECKING:
    from .draft import Draft

EVENT_NOTE_MAX = 500


class DraftEventQuerySet(models.QuerySet["DraftEvent"]):
    def update(self, **kwargs):  # type: ignore[override]
        raise PermissionError("History is append-only.")

    def delete(self):  # type: ignore[override]
        raise PermissionError("History is append-only.")


class DraftEvent(models.Model):
    """One entry of a draft's history. Append-only: the app never edits or deletes one."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        FIELD_CHANGED = "field_changed", "Field changed"
        STATUS_CHANGED = "status_changed", "Status changed"
        TRASHED = "trashed", "Moved to trash"
        RESTORED = "restored", "Restored"
        CLONED = "cloned", "Cloned"
        PHOTO = "photo", "Photo"
        DOCUMENT = "document", "Document"
        PART = "part", "Room, unit, tour or video"
        REVIEW = "review", "Review"
        SYNC = "sync", "Sync"

    draft = models.ForeignKey("drafts.Draft", on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    field = models.CharField(max_length=60, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    note = models.CharField(max_length=EVENT_NOTE_MAX, blank=True)

    objects = DraftEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["draft", "-at"], name="draftevent_draft_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.field}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("History is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("History is append-only.")

    @classmethod
    def record(
        cls,
        draft: Draft,
        actor: User | None,
        kind: str,
        *,
        field: str = "",
        old: Any = None,
        new: Any = None,
        note: str = "",
    ) -> DraftEvent:
        return cls.objects.create(
            draft=draft,
            actor=actor,
            kind=kind,
            field=field,
            old_value=jsonable(old),
            new_value=jsonable(new),
            note=note[:EVENT_NOTE_MAX],
        )


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
