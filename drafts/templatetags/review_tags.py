"""The review workflow in shared templates: the navigation's counts and the editor's comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django import template
from django.conf import settings
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Notification

from ..field_html import csrf_input, esc
from ..fields import PropertyType
from ..layout import layout_for
from ..models import Draft, DraftStatus, ReviewComment

register = template.Library()


@dataclass(frozen=True)
class NavCounts:
    unread: int = 0
    awaiting_review: int = 0


def _counted(queryset) -> tuple[str, tuple]:
    """`SELECT COUNT(*)` of `queryset` as a scalar subquery's SQL and its parameters.

    A COUNT(*) of the set's keys rather than an aggregate grouped by a shared column: grouping
    read every counted row from the table to get that column, where COUNT(*) is answered from
    the partial indexes alone."""
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a set that cannot hold anything (`.none()`)
        return "0", ()
    # The ORM's own SQL, its values kept apart as parameters.
    return f"(SELECT COUNT(*) FROM ({sql}) counted)", tuple(params)  # noqa: S608


@register.simple_tag
def nav_counts(user) -> NavCounts:
    """Unread notifications, and drafts awaiting review for reviewers: one query.

    Written as one SELECT of scalar subqueries rather than annotations of the user's row: the
    ORM's annotated query cost four times the Python of the counts' own querysets, on every page.
    """
    if not getattr(user, "is_authenticated", False):
        return NavCounts()
    counts = [_counted(Notification.objects.for_user(user).unread())]
    if user.is_reviewer or user.is_superuser:
        counts.append(_counted(Draft.objects.visible_to(user).active().awaiting_review()))
    with connections[Draft.objects.db].cursor() as cursor:
        values = [value for _, params in counts for value in params]
        cursor.execute("SELECT " + ", ".join(sql for sql, _ in counts), values)
        row = cursor.fetchone()
    return NavCounts(unread=row[0], awaiting_review=row[1] if len(row) > 1 else 0)


@lru_cache(maxsize=64)
def _named_url(name: str, urlconf: str, prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


def _url(name: str) -> str:
    """`{% url name %}` for a URL without arguments, reversed once per urlconf and script prefix."""
    return _named_url(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@register.simple_tag(takes_context=True)
def nav_bar(context) -> SafeString:
    """The header's navigation, its counts (one query, `nav_counts`) and who is signed in, for
    a signed-in user; nothing for anyone else. Written here rather than by base.html: every
    signed-in page prints it, and its conditions and links were most of the base page's work.
    `nav` in the context names the current section."""
    user = context.get("user")
    if not getattr(user, "is_authenticated", False):
        return SafeString("")
    counts = nav_counts(user)
    nav = context.get("nav")

    def link(name: str, section: str) -> str:
        return f'<a href="{esc(_url(name))}"' + (' aria-current="page"' if nav == section else "") + ">"

    def count(number: int, name: str, words: str) -> str:
        hidden = "" if number else " hidden"
        return (
            f'<span class="nav-count" id="{name}"{hidden}>{number}'
            f'<span class="visually-hidden"> {words}</span></span>'
        )

    drafts = "My drafts" if user.is_agent else "Company drafts" if user.is_company_admin else "Office drafts"
    html = ['\n    <nav class="topnav" aria-label="Main">\n      ', link("drafts:draft_list", "drafts")]
    html += [drafts, "</a>"]
    if user.is_reviewer or user.is_superuser:
        html += [
            "\n      ",
            link("drafts:review_queue", "review"),
            "Review queue ",
            count(counts.awaiting_review, "nav-review-count", "awaiting review"),
            "</a>\n      ",
            link("mls:needs_attention", "attention"),
            "Needs attention</a>",
        ]
    html += ["\n      ", link("accounts:inbox", "inbox"), "Inbox "]
    html.append(count(counts.unread, "nav-unread-count", "unread"))
    # The role and its reach: a company admin oversees every office of the company.
    role = "Superuser" if user.is_superuser else esc(user.get_role_display())
    if user.is_company_admin and user.office:
        reach = f" · all offices of {esc(user.office.company)}"
    elif user.office:
        reach = f" · {esc(user.office)}"
    else:
        reach = ""
    html += [
        '</a>\n    </nav>\n    <div class="whoami">\n      ',
        f"<span>{esc(user.get_full_name() or user.username)} · ",
        f'<span class="role-badge">{role}</span>{reach}</span>',
        f'\n      <form method="post" action="{esc(_url("logout"))}">{csrf_input(context.get("csrf_token"))}',
        '<button class="link-button" type="submit">Sign out</button></form>\n    </div>\n',
    ]
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped or a fixed string


@dataclass
class EditorReview:
    """What the editor shows of the review: open comments by what they are about, and the
    buttons this person gets."""

    draft_comments: list[ReviewComment] = field(default_factory=list)
    field_comments: dict[str, list[ReviewComment]] = field(default_factory=dict)
    media_comments: list[ReviewComment] = field(default_factory=list)
    can_submit: bool = False
    can_withdraw: bool = False
    can_review: bool = False
    may_resolve: bool = False

    @property
    def count(self) -> int:
        fields = sum(len(comments) for comments in self.field_comments.values())
        return len(self.draft_comments) + len(self.media_comments) + fields


@register.simple_tag
def editor_review(draft: Draft, user) -> EditorReview:
    """No query unless the draft has open comments (`Draft.open_review_comments`)."""
    may_submit = draft.can_submit(user)
    review = EditorReview(
        can_submit=may_submit
        and not draft.is_deleted
        and draft.status in (DraftStatus.DRAFT, DraftStatus.CHANGES_REQUESTED),
        can_withdraw=may_submit and not draft.is_deleted and draft.status == DraftStatus.SUBMITTED,
        can_review=draft.can_review(user),
    )
    review.may_resolve = may_submit or review.can_review
    for comment in draft.open_review_comment_list():
        if comment.target_kind == ReviewComment.Target.FIELD:
            review.field_comments.setdefault(comment.target_key, []).append(comment)
        elif comment.target_kind == ReviewComment.Target.DRAFT:
            review.draft_comments.append(comment)
        else:
            review.media_comments.append(comment)
    if review.media_comments:
        labels = media_labels(draft, {comment.target_kind for comment in review.media_comments})
        for comment in review.media_comments:
            comment.target_label = labels.get(  # type: ignore[attr-defined]
                (comment.target_kind, comment.target_key), f"{comment.get_target_kind_display()} (deleted)"
            )
    return review


def media_labels(draft: Draft, kinds: set[str]) -> dict[tuple[str, str], str]:
    """(kind, id) -> how people name a photo or document of `kinds`: "Photo 3 (kitchen)",
    "Document: Survey"; one in the trash by its name. A query a kind (reverse relations:
    media_manager imports drafts, not the other way)."""
    labels: dict[tuple[str, str], str] = {}
    if ReviewComment.Target.PHOTO in kinds:
        for pk, name, position in draft.photos.values_list("pk", "name", "position"):  # type: ignore[attr-defined]
            shown = (
                f"Photo {position + 1} ({name})" if position is not None else f"Photo “{name}” (in the trash)"
            )
            labels[(ReviewComment.Target.PHOTO, str(pk))] = shown
    if ReviewComment.Target.DOCUMENT in kinds:
        for pk, name, position in draft.documents.values_list("pk", "name", "position"):  # type: ignore[attr-defined]
            shown = f"Document: {name}" if position is not None else f"Document “{name}” (in the trash)"
            labels[(ReviewComment.Target.DOCUMENT, str(pk))] = shown
    return labels


@register.filter
def comments_on(review, field_name: str) -> list[ReviewComment]:
    """The open comments on one field (empty without a review in the context)."""
    if not isinstance(review, EditorReview):
        return []
    return review.field_comments.get(field_name, [])


@register.filter
def field_title(name: str) -> str:
    """A draft field's label, from its name (the editor's key of an MLS field: the MLS's label,
    read from the first property type whose layout has it; only such keys read the layouts)."""
    if name == "custom_fields":
        return "Custom fields"
    if name.startswith(("std-", "cf-")):
        for property_type in PropertyType.values:
            layout = layout_for(property_type)
            if layout is not None and name in layout.by_key:
                return layout.by_key[name].label
        return name.split("-", 1)[1].replace("-", " ").capitalize()
    try:
        label = str(Draft._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name
    return label[:1].upper() + label[1:]
