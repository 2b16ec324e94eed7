"""Sync badges for pages: ``{% load sync %}`` then

- ``{% sync_badge draft %}``: the draft's state (pending, syncing, synced at HH:MM, retrying,
  refused with the reason, needs attention, changed in the MLS), linking to its sync log; it
  polls itself every 10 s while a push is under way. For lists, ``select_related("sync")``.
- ``{% sync_mirror draft as mirror %}`` once per page, then ``{% photo_sync_badge photo mirror %}``
  and ``{% document_sync_badge document mirror %}`` per item (without ``mirror``: one query each).
- ``{% sync_field_error draft "list_price" %}``: what the MLS said about a field, next to it.
- ``{% mls_refusal draft "list_price" %}``: the MLS's words on a field its latest refusal
  named, kept until a push of the field is accepted; ``{% mls_refusal_summary draft %}`` once at
  the top: a refusal that named no field (or fields the editor does not show).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from drafts.models import Draft, DraftStatus
from drafts.templatetags.drafts_tags import pk_url
from media_manager.models import Document, Photo
from mls.models import DraftSync, ItemKind, RemoteItem, SyncState

register = template.Library()

LABELS: dict[str, str] = {
    SyncState.PENDING: "Waiting to sync",
    SyncState.SYNCING: "Syncing…",
    SyncState.RETRYING: "Retrying",
    SyncState.FAILED: "Not accepted by the MLS",
    SyncState.ATTENTION: "Needs attention",
    SyncState.DRIFT: "Changed in the MLS",
}
ITEM_LABELS = {
    "synced": "In the MLS",
    "pending": "Waiting to sync",
    "sending": "Sending…",
    "processing": "Not sent yet: processing",
    "failed": "Not accepted by the MLS",
    "deleting": "Removing from the MLS",
}
REFUSED_WITHOUT_FIELDS = (
    "The MLS did not accept the latest changes and named no field. Check the draft, then retry."
)
POLLING = {SyncState.PENDING, SyncState.SYNCING, SyncState.RETRYING}


def _row(draft: Draft) -> DraftSync | None:
    try:
        return draft.sync
    except DraftSync.DoesNotExist:
        return None


def _elsewhere(draft: Draft, row: DraftSync | None) -> tuple[str, str, bool] | None:
    """(state, label, poll) of a draft the engine no longer pushes: in the trash, being
    published or live. Their change_seq runs ahead of what the engine confirmed, which would
    otherwise read as "Waiting to sync" for ever."""
    if draft.deleted_at is not None:
        if draft.remote_id or (row is not None and row.create_sent_at is not None):
            return "removing", "Removing from the MLS", True
        return "trashed", "Not in the MLS (in the trash)", False
    if draft.status == DraftStatus.LIVE:
        return "live", "Live in the MLS", False
    if draft.status == DraftStatus.PROMOTING:
        return "publishing", "Publishing to the MLS…", True
    return None


def badge_context(draft: Draft) -> dict[str, Any]:
    # The links are joined here, not reversed in the template: a list renders 25 badges.
    return {
        **_badge_state(draft),
        "log_url": pk_url("mls:draft_sync", draft.pk),
        "poll_url": pk_url("mls:draft_sync_badge", draft.pk),
    }


def _badge_state(draft: Draft) -> dict[str, Any]:
    row = _row(draft)
    elsewhere = _elsewhere(draft, row)
    if elsewhere is not None:
        state, label, poll = elsewhere
        return {"draft": draft, "state": state, "label": label, "detail": "", "poll": poll}
    state = row.display_state(draft.change_seq) if row is not None else SyncState.PENDING
    detail = ""
    if state == SyncState.FAILED and row is not None and (refusals := row.refusals(draft)).labels:
        # Short on lists: how many fields, which ones on hover; the editor shows the words.
        count = len(refusals.labels)
        label = f"MLS refused {count} field{'s' if count != 1 else ''}"
        title = "Refused: " + ", ".join(refusals.labels)
        short = {"draft": draft, "state": str(state), "label": label, "detail": "", "title": title}
        return {**short, "poll": False}
    if state == SyncState.SYNCED:
        when = timezone.localtime(row.last_synced_at) if row and row.last_synced_at else None
        label = f"Synced at {when:%H:%M}" if when else "Synced"
    else:
        label = LABELS[state]
        if row is not None and state == SyncState.FAILED and row.refused_at is not None:
            detail = REFUSED_WITHOUT_FIELDS
        elif row is not None and state in (SyncState.FAILED, SyncState.ATTENTION, SyncState.RETRYING):
            detail = row.error_message
        if state == SyncState.RETRYING and row is not None and row.next_attempt_at:
            label = f"Retrying at {timezone.localtime(row.next_attempt_at):%H:%M:%S}"
        if state == SyncState.DRIFT:
            detail = "Someone changed this listing in the MLS. Choose which version to keep."
    return {"draft": draft, "state": str(state), "label": label, "detail": detail, "poll": state in POLLING}


def badge_html(draft: Draft, links: tuple[str, str] | None = None) -> SafeString:
    """The badge's markup. Written here, not by a template: a list shows one per row, and an
    inclusion tag's render was the costliest part of a row. Its markup is kept per distinct
    state, words and links shown (escaping every value of 25 badges was a tenth of a list's
    Python calls). `links`: `badge_links()`, when the caller has read them already."""
    badge = _badge_state(draft)
    return _badge_markup(
        draft.pk,
        badge["state"],
        badge["label"],
        badge["detail"],
        badge.get("title") or badge["detail"],
        badge["poll"],
        *(links or badge_links()),
    )


def badge_links() -> tuple[str, str]:
    """The urlconf and script prefix the badges' links are reversed with (pk_url's): part of a
    badge's memo key. Two thread-local reads, so a list reads them once for its rows."""
    return get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()


def badges_html(drafts: Iterable[Draft]) -> list[SafeString]:
    """`badge_html` of each of a list's drafts, in order."""
    links = badge_links()
    return [badge_html(draft, links) for draft in drafts]


@lru_cache(maxsize=4096)
def _badge_markup(
    pk: int, state: str, label: str, detail: str, title: str, poll: bool, urlconf: str, prefix: str
) -> SafeString:
    poll_url = pk_url("mls:draft_sync_badge", pk)
    polling = format_html(' hx-get="{}" hx-trigger="every 10s" hx-swap="outerHTML"', poll_url) if poll else ""
    reason = (
        format_html(
            ' <span class="sync-reason small {}">{}</span>',
            "text-warn" if state == "retrying" else "text-err",
            Truncator(detail).chars(160),
        )
        if detail
        else ""
    )
    return format_html(
        '<span id="sync-badge-{}" class="sync-badge sync-{}"{}>'
        '<a class="badge sync-state-{}" href="{}"{}>{}</a>{}</span>',
        pk,
        state,
        polling,
        state,
        pk_url("mls:draft_sync", pk),
        format_html(' title="{}"', title) if title else "",
        label,
        reason,
    )


@register.simple_tag
def sync_badge(draft: Draft) -> SafeString:
    return badge_html(draft)


@register.simple_tag
def sync_mirror(draft: Draft) -> dict[tuple[str, int], RemoteItem]:
    return {
        (row.kind, row.local_id): row
        for row in RemoteItem.objects.filter(draft_id=draft.pk, local_id__isnull=False)
        if row.local_id is not None
    }


def media_sync_context(draft: Draft, changed: bool) -> dict[str, Any]:
    """For the media page's regions: the remote's mirror of the draft's items, read once per
    response (one query, however many photos and documents), and whether the regions should
    poll for the badges to move on: while a push is due or under way, or right after a change
    (the draft in hand predates it)."""
    return {"sync_mirror": sync_mirror(draft), "sync_polling": changed or badge_context(draft)["poll"]}


def item_state(kind: str, item: Photo | Document, row: RemoteItem | None) -> tuple[str, str]:
    """(state, reason) of one photo or document."""
    if getattr(item, "deleted_at", None) is not None:
        return ("deleting", "") if row is not None and row.remote_id else ("", "")
    if row is not None and row.failed_seq is not None and row.error_message:
        return "failed", row.error_message
    if row is not None and row.sending:
        return "sending", ""
    if kind == ItemKind.PHOTO and not getattr(item, "is_ready", True) and (row is None or not row.remote_id):
        return "processing", ""
    if row is None or not row.remote_id:
        return "pending", ""
    same = row.name == item.name and row.content_sha256 == (item.sha256 or row.content_sha256)
    if isinstance(item, Photo):
        same = same and row.caption == item.caption
    else:
        same = same and row.privacy == item.privacy
    return ("synced" if same else "pending"), ""


def _item_badge(
    kind: str, item: Photo | Document, mirror: Mapping[tuple[str, int], RemoteItem] | None
) -> dict[str, Any]:
    if mirror is None:
        row = RemoteItem.objects.filter(draft_id=item.draft_id, kind=kind, local_id=item.pk).first()
    else:
        row = mirror.get((kind, item.pk))
    state, reason = item_state(kind, item, row)
    return {"item": item, "kind": kind, "state": state, "label": ITEM_LABELS.get(state, ""), "detail": reason}


@register.inclusion_tag("mls/tags/item_sync_badge.html")
def photo_sync_badge(
    photo: Photo, mirror: Mapping[tuple[str, int], RemoteItem] | None = None
) -> dict[str, Any]:
    return _item_badge(ItemKind.PHOTO, photo, mirror)


@register.inclusion_tag("mls/tags/item_sync_badge.html")
def document_sync_badge(
    document: Document, mirror: Mapping[tuple[str, int], RemoteItem] | None = None
) -> dict[str, Any]:
    return _item_badge(ItemKind.DOCUMENT, document, mirror)


@register.inclusion_tag("mls/tags/field_error.html")
def sync_field_error(draft: Draft, field_name: str) -> dict[str, Any]:
    row = _row(draft)
    errors: list[str] = []
    warnings: list[str] = []
    if row is not None:
        refused = row.fields_failed_seq is not None and row.fields_failed_seq >= draft.change_seq
        if refused:
            errors = [d["message"] for d in row.error_details if d.get("field") == field_name]
        warnings = [
            w["message"] for w in row.remote_warnings if w.get("field") == field_name and w.get("message")
        ]
    return {"field_name": field_name, "errors": errors, "warnings": warnings}


@register.inclusion_tag("mls/tags/refusal.html")
def mls_refusal(draft: Draft, field_name: str) -> dict[str, Any]:
    """The MLS's words on `field_name` from its latest refusal (nothing when it named another)."""
    row = _row(draft)
    messages = row.refusals(draft).by_field.get(field_name, []) if row is not None else []
    return {"field_name": field_name, "messages": messages}


@register.inclusion_tag("mls/tags/refusal_summary.html")
def mls_refusal_summary(draft: Draft) -> dict[str, Any]:
    row = _row(draft)
    refusals = row.refusals(draft) if row is not None else None
    return {"draft": draft, "refusals": refusals}
