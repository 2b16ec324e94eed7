"""Small presentation helpers for the drafts pages."""

from decimal import Decimal

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def media_tab_url(draft) -> str:
    """The photos and documents tab of `draft`, or "" while that page does not exist."""
    try:
        return reverse("media_manager:draft_media", args=[draft.pk])
    except NoReverseMatch:
        return ""


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
