"""The header every signed-in page prints: the navigation, its counts and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Notification

from ..field_html import csrf_input, esc
from ..models import DraftStatus, DraftTally
from .drafts_tags import plain_url

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


def _tallied(rows) -> tuple[str, tuple]:
    """The sum of DraftTally `rows`' counts as a scalar subquery's SQL and its parameters."""
    try:
        sql, params = rows.order_by().values("n").query.sql_with_params()
    except EmptyResultSet:
        return "0", ()
    return f"(SELECT COALESCE(SUM(n), 0) FROM ({sql}) tallied)", tuple(params)  # noqa: S608


# The counts' SQL and parameters kept per process for this many users (an entry is ~1 kB).
COUNTS_QUERIES_KEPT = 1024
_counts_queries: dict[tuple, tuple[str, list]] = {}


def _counts_query(user) -> tuple[str, list]:
    """The counts' SELECT and its parameters for `user`, built through the ORM once per user and
    process: keyed by the database and everything of the user the counted sets read (who they
    are and, for `visible_to`, whether active, superuser, their role, office and company), so a
    change to any of those builds it anew. Building it on every page was ~1.7k Python calls."""
    db = DraftTally.objects.db
    company_id = user.company_id if user.is_company_admin else None
    key = (db, user.pk, user.is_active, user.is_superuser, user.role, user.office_id, company_id)
    query = _counts_queries.get(key)
    if query is None:
        counts = [_counted(Notification.objects.for_user(user).unread())]
        if user.is_reviewer or user.is_superuser:
            # Kept by the database rather than counted: an office's count grew with its drafts.
            counts.append(_tallied(DraftTally.objects.visible_to(user, status=DraftStatus.SUBMITTED)))
        values = [value for _, params in counts for value in params]
        query = ("SELECT " + ", ".join(sql for sql, _ in counts), values)
        if len(_counts_queries) >= COUNTS_QUERIES_KEPT:
            _counts_queries.clear()
        _counts_queries[key] = query
    return query


@register.simple_tag
def nav_counts(user) -> NavCounts:
    """Unread notifications, and drafts awaiting review for reviewers: one query.

    Written as one SELECT of scalar subqueries rather than annotations of the user's row: the
    ORM's annotated query cost four times the Python of the counts' own querysets, on every page.
    """
    if not getattr(user, "is_authenticated", False):
        return NavCounts()
    sql, values = _counts_query(user)
    with connections[DraftTally.objects.db].cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return NavCounts(unread=row[0], awaiting_review=row[1] if len(row) > 1 else 0)


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
        return f'<a href="{esc(plain_url(name))}"' + (' aria-current="page"' if nav == section else "") + ">"

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
        f'\n      <form method="post" action="{esc(plain_url("logout"))}">',
        csrf_input(context.get("csrf_token")),
        '<button class="link-button" type="submit">Sign out</button></form>\n    </div>\n',
    ]
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped or a fixed string
