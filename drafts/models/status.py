"""The draft's review and publishing states, and the refusal of a change they do not allow."""

from __future__ import annotations

from django.db import models


class DraftStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted for review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    PROMOTING = "promoting", "Publishing"
    LIVE = "live", "Live"
    PROMOTION_FAILED = "promotion_failed", "Publishing failed"


# A change to a draft in one of these states sends it back to drafting: what was reviewed
# (or failed to publish) is no longer what the draft holds.
SENT_BACK_BY_EDITS: frozenset[str] = frozenset(
    {DraftStatus.CHANGES_REQUESTED, DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED}
)


class TransitionNotAllowed(Exception):
    """A status change the draft's state or the person's role does not allow; nothing changed.

    `message` is written for the person who asked, to show as it is.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
