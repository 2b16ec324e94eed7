"""The draft frame: the header and tab bar every page of one draft shares
(templates/drafts/draft_frame.html). Pages that already hold the readiness pass it in; the
others (photos, sync log, live listing) and the frame's own live re-read get it here."""

from __future__ import annotations

from typing import Any

from .models import Draft, DraftStatus

TABS = ("details", "media", "history", "sync", "review", "live")

# While the draft is in one of these, the frame re-reads itself every few seconds: the change
# comes from a worker, not from an action on this page.
TRANSITIONAL = frozenset({DraftStatus.PROMOTING})


def frame_context(draft: Draft, *, tab: str) -> dict[str, Any]:
    """What the frame needs besides `draft`, `user` and `tab`: readiness and editability."""
    # The same count as the editor's: fields, required documents, photos and the primary one.
    report = draft.readiness()
    return {
        "draft": draft,
        "tab": tab if tab in TABS else "details",
        "readiness": report.percent,
        "readiness_report": report,
        "rule_errors": report.errors,
        "rule_warnings": report.warnings,
        "frame_editable": draft.is_editable,
    }


def open_comment_count(draft: Draft) -> int:
    return draft.review_comments.filter(resolved_at__isnull=True).count()
