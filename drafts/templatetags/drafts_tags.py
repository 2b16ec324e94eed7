"""Small presentation helpers for the drafts pages."""

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Stands for the primary key while a URL is reversed once; any int the `<int:pk>` converter takes.
_PK_PLACEHOLDER = 2147480647


@lru_cache(maxsize=256)
def _url_around_pk(name: str, urlconf: str, prefix: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_PK_PLACEHOLDER], urlconf=urlconf).partition(str(_PK_PLACEHOLDER))
    return before, after


def pk_url(name: str, pk: int) -> str:
    """`reverse(name, args=[pk])` for a URL whose only argument is a primary key, at the cost of a
    string join: lists link every row two or three times, and reverse() costs ~30 µs a call.
    Keyed by the urlconf and script prefix in force, so tests overriding them get their own."""
    before, after = _url_around_pk(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    return f"{before}{int(pk)}{after}"


def pk_url_of(name: str) -> Callable[[int], str]:
    """`pk_url` for `name` with the urlconf and script prefix in force now, read once (a page's
    rows link to the same view each)."""
    before, after = _url_around_pk(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    return lambda pk: f"{before}{int(pk)}{after}"


@lru_cache(maxsize=64)
def _plain_url(name: str, urlconf: str, prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


def plain_url(name: str) -> str:
    """`reverse(name)` for a URL without arguments, once per urlconf and script prefix (as pk_url)."""
    return _plain_url(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@register.simple_tag(name="plain_url")
def plain_url_tag(name: str) -> str:
    """`{% url name %}` for a URL without arguments, reversed once per urlconf and script prefix
    (the list's forms link to it three times a page, ~120 calls each through `{% url %}`)."""
    return plain_url(name)


@register.simple_tag(name="pk_url")
def pk_url_tag(name: str, pk: int) -> str:
    return pk_url(name, pk)


@register.simple_tag
def media_tab_url(draft) -> str:
    """The photos and documents tab of `draft`, or "" while that page does not exist."""
    try:
        return pk_url("media_manager:draft_media", draft.pk)
    except NoReverseMatch:
        return ""


def _current(tab: Any, name: str) -> str:
    return ' aria-current="page"' if tab == name else ""


@register.simple_tag(takes_context=True)
def draft_tabs(context: template.Context) -> SafeString:
    """The draft frame's `tabs` partial (templates/drafts/draft_frame.html), as its template
    wrote it from the same context (~480 Python calls on every page of a draft that way)."""
    draft: Any = context["draft"]
    tab, user = context.get("tab"), context.get("user")
    oob = ' hx-swap-oob="true"' if context.get("banner_oob") else ""

    def link(name: str, current: str, text: str) -> str:
        return f'<a href="{escape(pk_url(name, draft.pk))}"{_current(tab, current)}>{text}</a>'

    media_url = media_tab_url(draft)
    media = (
        f'<a href="{escape(media_url)}"{_current(tab, "media")}>Photos &amp; documents</a>'
        if media_url
        else ""
    )
    # As the template asked `user.is_reviewer or user.is_superuser`: a missing one is false.
    reviewer = getattr(user, "is_reviewer", False) or getattr(user, "is_superuser", False)
    review = link("drafts:draft_review", "review", "Review") if reviewer else ""
    live = link("mls:live_listing", "live", "Live listing") if draft.live_listing_id else ""
    return mark_safe(  # noqa: S308 - each part is escaped where it is written
        f'\n<nav class="tabs draft-frame-tabs" id="draft-tabs" aria-label="Draft sections" data-tab-bar{oob}>'
        f"\n    {link('drafts:draft_edit', 'details', 'Details')}"
        f"\n    {media}"
        f"\n    {link('drafts:draft_history', 'history', 'History')}"
        f"\n    {link('mls:draft_sync', 'sync', 'MLS sync')}"
        f"\n    {review}\n    {live}\n</nav>\n"
    )


@register.filter
def money(value) -> str:
    if value in (None, ""):
        return "—"
    amount = Decimal(value)
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


@register.filter
def distance(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


@register.filter
def severity_label(results) -> str:
    count = len(results)
    return f"{count} {'error' if count == 1 else 'errors'}"


@register.filter
def plural_warning(results) -> str:
    count = len(results)
    return f"{count} {'warning' if count == 1 else 'warnings'}"
