"""The review workflow's pages: the queue, the review page, the status changes, comments.

Every view that names a draft reaches it through `get_draft_for` (404 for what the user may
not see); the model methods decide who may change its status (TransitionNotAllowed).
Status changes redirect (the whole page changes); comments answer htmx with their region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from . import review, review_media, rules
from .access import get_draft_for
from .fields import AUTOSAVE_FIELDS, PropertyType
from .forms import agent_label, agents_in_scope
from .layout import Layout
from .models import (
    REVIEW_COMMENT_MAX,
    REVIEW_REASON_MAX,
    Draft,
    DraftStatus,
    ReviewComment,
    TransitionNotAllowed,
)
from .part_views import part_regions
from .views import EDITOR_SECTIONS

QUEUE_PAGE_SIZE = 50
# The review page lists this many of the latest decisions (submitted, changes, approved).
DECISIONS_SHOWN = 20


# --- Forms ---


class QueueFilterForm(forms.Form):
    agent = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any agent")
    property_type = forms.ChoiceField(required=False, choices=[("", "Any type"), *PropertyType.choices])
    readiness = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any readiness"),
            *((key, label) for key, (label, _) in review.READINESS_FILTERS.items()),
        ],
    )
    sort = forms.ChoiceField(
        required=False, choices=[(key, label) for key, (label, _, _) in review.QUEUE_SORTS.items()]
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents_in_scope(user)
        self.fields["agent"].label_from_instance = agent_label


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REVIEW_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Say what should change: the reason is required."},
    )


class CommentForm(forms.Form):
    target_kind = forms.ChoiceField(choices=ReviewComment.Target.choices)
    target_key = forms.CharField(required=False, max_length=60)
    text = forms.CharField(
        max_length=REVIEW_COMMENT_MAX, error_messages={"required": "Write the comment first."}
    )


# --- The queue ---


def _require_reviewer(user) -> None:
    if not (user.is_reviewer or user.is_superuser):
        raise PermissionDenied("Only office and company admins review drafts.")


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    _require_reviewer(request.user)
    form = QueueFilterForm(request.GET, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    agent_choices = [(agent.pk, agent_label(agent)) for agent in form.fields["agent"].queryset]
    rows = review.review_queue(
        request.user,
        agent_id=data["agent"].pk if data.get("agent") else None,
        property_type=data.get("property_type", ""),
        readiness=data.get("readiness", ""),
        sort=data.get("sort") or "oldest",
    )
    page = Paginator(rows, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": page.object_list,
        "agent_choices": agent_choices,
        "selected_agent": request.GET.get("agent", ""),
        "query": query.urlencode(),
        "filtered": any(data.get(name) for name in ("agent", "property_type", "readiness")),
        "nav": "review",
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "drafts/review_queue.html#queue", context)
    return render(request, "drafts/review_queue.html", context)


# --- The review page ---


@dataclass
class ReviewField:
    name: str
    label: str
    display: str
    change: review.FieldChange | None
    comments: list[ReviewComment] = field(default_factory=list)
    rule_results: list[rules.RuleResult] = field(default_factory=list)
    wide: bool = False
    # The MLS's custom-field group this field opens, when it is not the section's own title.
    group_heading: str = ""
    # The custom-field group the field belongs to ("" for none).
    group: str = ""

    @property
    def is_quiet(self) -> bool:
        """Empty, and nothing said about it (no change, comment or check): the page folds it
        into its section's "N empty fields" line."""
        return self.display in ("", "(empty)") and not (self.change or self.comments or self.rule_results)


def with_empty_folded(sections: list[dict]) -> list[dict]:
    """Each section with its fields split into those shown (`fields`) and the quiet empty
    ones (`empty`), so a reviewer reads what is filled and one line for the rest."""
    for section in sections:
        fields = section["fields"]
        section["empty"] = [item for item in fields if item.is_quiet]
        section["fields"] = [item for item in fields if not item.is_quiet]
        # A group's heading goes on its first field still shown.
        group = ""
        for item in section["fields"]:
            shows = item.group and item.group not in (group, section["title"])
            item.group_heading = item.group if shows else ""
            group = item.group
        for item in section["empty"]:
            item.group_heading = ""
    return sections


def _display(draft: Draft, name: str) -> str:
    if name == "co_list_agent":
        return str(draft.co_list_agent) if draft.co_list_agent_id else "(empty)"
    return review.value_text(name, getattr(draft, draft._meta.get_field(name).attname))


Threads = dict[tuple[str, str], list[ReviewComment]]


def _fixed_sections(draft: Draft, changed: dict, threads: Threads, found: dict) -> list[dict]:
    """The fixed sections of drafts/fields.py, as before the MLS's lists were read."""
    return [
        {
            "slug": slug,
            "title": title,
            "fields": [
                ReviewField(
                    name=name,
                    label=review.field_label(name),
                    display=_display(draft, name),
                    change=changed.get(name),
                    comments=threads.get((ReviewComment.Target.FIELD, name), []),
                    rule_results=found.get(name, []),
                    wide=name in ("public_remarks", "private_remarks", "custom_fields"),
                )
                for name in names
            ],
        }
        for slug, title, names in EDITOR_SECTIONS
    ]


def _layout_sections(
    draft: Draft, layout: Layout, changed: dict, threads: Threads, found: dict
) -> list[dict]:
    """The editor's sections as the MLS lays them out (its order, labels and groups), each value
    by its list's labels; then the agents; then whatever a comment, a check or a change names
    that the layout has no place for (custom values it does not know, old comments on a field
    this type no longer shows), so nothing said about the draft goes missing."""

    def review_field(key: str, label: str, display: str, **extra) -> ReviewField:
        return ReviewField(
            name=key,
            label=label,
            display=display,
            change=changed.get(key),
            comments=threads.get((ReviewComment.Target.FIELD, key), []),
            rule_results=found.get(key, []),
            **extra,
        )

    sections = []
    for section in layout.sections:
        fields, group = [], ""
        for spec in section.fields:
            heading = spec.custom_group or ""
            fields.append(
                review_field(
                    spec.key,
                    spec.label,
                    review.mls_value_text(spec, spec.stored(draft)),
                    wide=spec.widget in ("textarea", "multi"),
                    group_heading=heading if heading and heading not in (group, section.title) else "",
                    group=heading,
                )
            )
            group = heading
        sections.append({"slug": section.slug, "title": section.title, "fields": fields})
    sections.append(
        {
            "slug": "agents",
            "title": "Agents",
            "fields": [
                review_field(
                    "co_list_agent", review.field_label("co_list_agent"), _display(draft, "co_list_agent")
                )
            ],
        }
    )
    shown = {*layout.by_key, "co_list_agent"}
    others = []
    other_custom = layout.other_custom_fields(draft.custom_fields)
    named = {key for kind, key in threads if kind == ReviewComment.Target.FIELD} | set(found) | set(changed)
    if other_custom or "custom_fields" in named:
        text = "; ".join(
            f"{group}: {name} = {review.plain_text(value)}" for group, name, value in other_custom
        )
        others.append(review_field("custom_fields", "Other custom fields", text or "(empty)", wide=True))
    for key in sorted(named - shown - {"custom_fields"}):
        if key in AUTOSAVE_FIELDS:
            others.append(review_field(key, review.field_label(key), _display(draft, key)))
        elif key.startswith("std-"):
            value = (draft.standard_fields_extra or {}).get(key.removeprefix("std-"))
            others.append(review_field(key, key.removeprefix("std-"), review.plain_text(value)))
    if others:
        sections.append({"slug": "other", "title": "Other fields", "fields": others})
    return sections


def _comments_by_target(comments: list[ReviewComment]) -> dict[tuple[str, str], list[ReviewComment]]:
    grouped: dict[tuple[str, str], list[ReviewComment]] = {}
    for comment in comments:
        grouped.setdefault((comment.target_kind, comment.target_key), []).append(comment)
    return grouped


# States in which the review page shows the publishing panel's job (steps, failure, live link).
PUBLISHING_SHOWN = (DraftStatus.PROMOTING, DraftStatus.LIVE, DraftStatus.PROMOTION_FAILED)


def _review_context(request: HttpRequest, draft: Draft, *, reason_form: ReasonForm | None = None) -> dict:
    user = request.user
    book = rules.RuleBook()  # the MLS's layout and rules, read once for the page
    layout = book.layout(draft.property_type)
    report = draft.readiness(book)
    errors, warnings = report.errors, report.warnings
    found = rules.by_field(errors + warnings)
    # Rooms, units, virtual tours and videos, read-only (templates/drafts/parts.html).
    parts = part_regions(draft, can_edit=False)
    part_specs = {
        kind: region.label_specs or region.specs for kind, region in parts.items() if kind in ("room", "unit")
    }
    diff = review.changes_since_last_review(draft, book=book, part_specs=part_specs)
    changed = diff.changed_fields
    comments = list(draft.review_comments.select_related("author", "resolved_by"))
    threads = _comments_by_target(comments)
    if layout is not None:
        sections = _layout_sections(draft, layout, changed, threads, found)
    else:
        sections = _fixed_sections(draft, changed, threads, found)
    sections = with_empty_folded(sections)
    media = review_media.media()
    photos = media.photos_of(draft)
    documents = media.documents_of(draft)
    for photo in photos:
        photo.review_comments = threads.get((ReviewComment.Target.PHOTO, str(photo.pk)), [])
        photo.review_change = diff.photos.changed.get(photo.pk)
        photo.review_added = diff.baseline is not None and photo.pk in diff.photos.added_ids
    for document in documents:
        document.review_comments = threads.get((ReviewComment.Target.DOCUMENT, str(document.pk)), [])
        document.review_change = diff.documents.changed.get(document.pk)
        document.review_added = diff.baseline is not None and document.pk in diff.documents.added_ids
    is_submitted = draft.status == DraftStatus.SUBMITTED and not draft.is_deleted
    can_review = draft.can_review(user)
    approve_refusal = ""
    if not draft.can_approve(user):
        approve_refusal = "You list this draft, so another reviewer has to approve it."
    elif report.gaps:
        # Named, so the reviewer knows what to ask for (the editor's checklist links each).
        named = ", ".join(gap.label for gap in report.gaps[:3])
        more = f" and {len(report.gaps) - 3} more" if len(report.gaps) > 3 else ""
        approve_refusal = f"Missing before it can be approved: {named}{more}."
    return {
        "draft": draft,
        "tab": "review",
        "nav": "review",
        "can_edit": draft.is_editable,
        "readiness": report.percent,
        "readiness_report": report,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "sections": sections,
        "laid_out_by_mls": layout is not None,
        "diff": diff,
        "photos": photos,
        "documents": documents,
        "parts": parts,
        # The parts the diff names, highlighted in the page's own list as the fields are.
        "changed_part_ids": diff.parts.changed_ids,
        "required_documents": media.required_documents(draft, [document.name for document in documents]),
        "draft_comments": threads.get((ReviewComment.Target.DRAFT, ""), []),
        "open_comment_count": sum(1 for comment in comments if not comment.is_resolved),
        "decisions": list(
            draft.review_snapshots.defer("data")
            .select_related("taken_by")
            .order_by("-taken_at", "-pk")[:DECISIONS_SHOWN]
        ),
        "can_review": can_review,
        "can_comment": can_review and draft.status != DraftStatus.LIVE and not draft.is_deleted,
        "can_decide": can_review and is_submitted,
        "can_request_changes": can_review
        and not draft.is_deleted
        and draft.status in (DraftStatus.SUBMITTED, DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED),
        "approve_refusal": approve_refusal,
        "can_promote": can_review
        and not draft.is_deleted
        and draft.status in (DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED),
        # The publishing job (mls/publishing.py), through the reverse relation: no import.
        "promotion": getattr(draft, "promotion", None) if draft.status in PUBLISHING_SHOWN else None,
        "may_resolve": can_review or draft.can_submit(user),
        "reason_form": reason_form or ReasonForm(),
        "comment_max": REVIEW_COMMENT_MAX,
        "came_from": "review",
    }


@login_required
@require_GET
def draft_review(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    _require_reviewer(request.user)
    return render(request, "drafts/draft_review.html", _review_context(request, draft))


# --- Status changes ---


def _back(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _editor_url(draft: Draft) -> str:
    return reverse("drafts:draft_edit", args=[draft.pk])


def _review_url(draft: Draft) -> str:
    return reverse("drafts:draft_review", args=[draft.pk])


@login_required
@require_POST
def draft_submit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    try:
        draft.submit(by=request.user)
    except TransitionNotAllowed as refused:
        messages.error(request, refused.message)
        # Back to the editor with every missing field's message shown (drafts.views).
        return _back(request, _editor_url(draft) + "?check=1#rules")
    else:
        messages.success(
            request, "Submitted for review. You can keep editing; the reviewer sees what changed."
        )
    return _back(request, _editor_url(draft))


@login_required
@require_POST
def draft_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    try:
        draft.withdraw(by=request.user)
    except TransitionNotAllowed as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Withdrawn from review: it is a draft again.")
    return _back(request, _editor_url(draft))


@login_required
@require_POST
def draft_approve(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    try:
        draft.approve(by=request.user)
    except TransitionNotAllowed as refused:
        messages.error(request, refused.message)
        return _back(request, _review_url(draft))
    messages.success(request, f"{draft} approved. Its agents have been told.")
    return _back(request, _review_url(draft))


@login_required
@require_POST
def draft_request_changes(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        _require_reviewer(request.user)
        context = _review_context(request, draft, reason_form=form)
        return render(request, "drafts/draft_review.html", context, status=422)
    try:
        draft.request_changes(by=request.user, reason=form.cleaned_data["reason"])
    except TransitionNotAllowed as refused:
        messages.error(request, refused.message)
        return _back(request, _review_url(draft))
    messages.success(request, f"Changes requested on {draft}. Its agents have been told.")
    return _back(request, _review_url(draft))


# --- Comments ---


def _comment_target_label(draft: Draft, kind: str, key: str) -> str:
    """What a comment is on, as the review page names it (the field's label in the MLS's
    layout, the photo's or document's name), so a thread sent back keeps "Comment on ..."."""
    if kind == ReviewComment.Target.FIELD:
        layout = rules.RuleBook().layout(draft.property_type)
        if layout is not None and key in layout.by_key:
            return layout.by_key[key].label
        try:
            return review.field_label(key)
        except FieldDoesNotExist:
            return ""
    if kind in (ReviewComment.Target.PHOTO, ReviewComment.Target.DOCUMENT):
        media = review_media.media()
        items = media.photos_of(draft) if kind == ReviewComment.Target.PHOTO else media.documents_of(draft)
        return next((item.name for item in items if str(item.pk) == key), "")
    return ""


def _thread_response(request: HttpRequest, draft: Draft, kind: str, key: str, *, form=None, status=200):
    thread = list(
        draft.review_comments.filter(target_kind=kind, target_key=key).select_related("author", "resolved_by")
    )
    context = {
        "draft": draft,
        "thread": thread,
        "kind": kind,
        "key": key,
        "label": _comment_target_label(draft, kind, key),
        "can_comment": True,
        "may_resolve": True,
        "comment_form": form,
        "comment_max": REVIEW_COMMENT_MAX,
        "came_from": "review",
        "open_form": form is not None,
    }
    return render(request, "drafts/draft_review.html#comment_thread", context, status=status)


def _thread_anchor(kind: str, key: str) -> str:
    return f"#comments-{kind}-{key or 'draft'}"


@login_required
@require_POST
def review_comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A reviewer's comment. htmx: the target's thread; otherwise back to the review page."""
    draft = get_draft_for(request.user, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        kind = request.POST.get("target_kind", "")
        key = request.POST.get("target_key", "")
        if request.htmx and kind in ReviewComment.Target.values:
            return _thread_response(request, draft, kind, key, form=form, status=422)
        messages.error(request, "; ".join(error for errors in form.errors.values() for error in errors))
        return redirect(_review_url(draft))
    kind, key = form.cleaned_data["target_kind"], form.cleaned_data["target_key"].strip()
    try:
        comment = draft.add_review_comment(
            by=request.user, text=form.cleaned_data["text"], target_kind=kind, target_key=key
        )
    except TransitionNotAllowed as refused:
        raise PermissionDenied(refused.message) from None
    except ValidationError as invalid:
        if request.htmx:
            form.add_error(None, invalid)
            return _thread_response(request, draft, kind, key, form=form, status=422)
        messages.error(request, " ".join(invalid.messages))
        return redirect(_review_url(draft))
    if request.htmx:
        response = _thread_response(request, draft, kind, key)
        trigger_client_event(
            response,
            "review-announce",
            {"message": "Comment added.", "focus": comment.dom_id},
            after="settle",
        )
        trigger_client_event(response, "draft-changed", {})  # the open-comment counts
        return response
    return redirect(_review_url(draft) + _thread_anchor(kind, key))


@login_required
@require_POST
def review_comment_resolve(request: HttpRequest, pk: int, comment_id: int) -> HttpResponse:
    """Mark a comment resolved (the draft's agents or a reviewer). htmx: the comment."""
    draft = get_draft_for(request.user, pk)
    comment = get_object_or_404(ReviewComment.objects.select_related("author"), draft=draft, pk=comment_id)
    try:
        comment.resolve(by=request.user)
    except TransitionNotAllowed as refused:
        raise PermissionDenied(refused.message) from None
    comment.draft = draft
    if request.htmx:
        response = render(
            request, "drafts/draft_edit.html#review_comment", {"comment": comment, "may_resolve": False}
        )
        trigger_client_event(
            response,
            "review-announce",
            {"message": "Comment resolved.", "focus": comment.dom_id},
            after="settle",
        )
        trigger_client_event(response, "draft-changed", {})  # the open-comment counts
        return response
    if request.POST.get("came_from") == "review":
        return redirect(_review_url(draft) + _thread_anchor(comment.target_kind, comment.target_key))
    return redirect(_editor_url(draft) + "#review-comments")
