"""`naturaltime`'s words ("now", "3 minutes ago", "2 days, 3 hours ago", "an hour from now") for
the drafts list, the same strings at a fraction of the cost.

Django's filter formats lazy translations on every call: a row updated more than a day ago cost
~165 Python calls, most of them `timesince`'s translated parts. Here the numbers are worked out as
`naturaltime` and `timesince` work them out (the calendar's months and years, the same zone, the
same rounding), and the words for a given (past or future, units and counts, language) are
written once per process by Django's own strings and kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.html import avoid_wrapping
from django.utils.timesince import MONTHS_DAYS, TIME_CHUNKS, TIME_STRINGS_KEYS
from django.utils.translation import get_language, gettext

# The units shown, as (position in TIME_STRINGS_KEYS, count) pairs: at most two adjacent ones,
# ((5, 0),) for "0 minutes".
Units = tuple[tuple[int, int], ...]

# Distinct wordings kept per process: a few per unit and count, each a short string.
WORDINGS_KEPT = 4096


def natural_time(value: datetime, now: datetime | None = None, language: str | None = None) -> str:
    """`str(naturaltime(value))`, measured from `now` (the clock's, in UTC, if not given), in
    the active language: `language` is its code when the caller has read it already (a page
    reads it once for its rows; a thread-local lookup is half of this function's calls)."""
    if now is None:
        now = datetime.now(UTC if value.utcoffset() is not None else None)
    if language is None:
        language = get_language()
    past = value < now
    delta = now - value if past else value - now
    if delta.days != 0:
        return _days_wording(past, _calendar_units(value, now, reversed=not past), language)
    seconds = delta.seconds
    if seconds == 0:
        return _within_a_day_wording("now", 0, language)
    if seconds < 60:
        unit, count = "second", seconds
    elif seconds // 60 < 60:
        unit, count = "minute", seconds // 60
    else:
        unit, count = "hour", seconds // 60 // 60
    return _within_a_day_wording(("past-" if past else "future-") + unit, count, language)


def _calendar_units(d: datetime, now: datetime, *, reversed: bool) -> Units:
    """The units `timesince(d, now, reversed=reversed)` shows, worked out as
    django/utils/timesince.py works them out, step by step."""
    if now.utcoffset() is not None and d.utcoffset() is not None:
        now = now.astimezone(d.tzinfo)
    if reversed:
        d, now = now, d
    delta = now - d
    if delta.days * 24 * 60 * 60 + delta.seconds <= 0:
        return ((5, 0),)
    total_months = (now.year - d.year) * 12 + (now.month - d.month)
    if d.day > now.day or (d.day == now.day and d.time() > now.time()):
        total_months -= 1
    years, months = divmod(total_months, 12)
    pivot = d
    if years or months:
        pivot_year, pivot_month = d.year + years, d.month + months
        if pivot_month > 12:
            pivot_month -= 12
            pivot_year += 1
        pivot = datetime(
            pivot_year,
            pivot_month,
            min(MONTHS_DAYS[pivot_month - 1], d.day),
            d.hour,
            d.minute,
            d.second,
            tzinfo=d.tzinfo,
        )
    remaining = (now - pivot).total_seconds()
    partials = [years, months]
    for chunk in TIME_CHUNKS:
        count = int(remaining // chunk)
        partials.append(count)
        remaining -= chunk * count
    first = next((n for n, count in enumerate(partials) if count != 0), None)
    if first is None:
        return ((5, 0),)
    shown = []
    for n in range(first, min(first + 2, len(TIME_STRINGS_KEYS))):
        if partials[n] == 0:
            break
        shown.append((n, partials[n]))
    return tuple(shown)


@lru_cache(maxsize=WORDINGS_KEPT)
def _days_wording(past: bool, units: Units, language: str | None) -> str:
    """ "2 days, 3 hours ago" / "... from now" in `language` (the active one), as
    `naturaltime` writes it from `timesince`'s parts."""
    formatter = NaturalTimeFormatter
    words = formatter.past_substrings if past else formatter.future_substrings
    delta = gettext(", ").join(
        avoid_wrapping(words[TIME_STRINGS_KEYS[n]] % {"num": count}) for n, count in units
    )
    return str(formatter.time_strings["past-day" if past else "future-day"] % {"delta": delta})


@lru_cache(maxsize=WORDINGS_KEPT)
def _within_a_day_wording(kind: str, count: int, language: str | None) -> str:
    """ "now", "a second ago", "5 minutes from now"... in `language` (the active one)."""
    wording = NaturalTimeFormatter.time_strings[kind]
    return str(wording if kind == "now" else wording % {"count": count})


@receiver(setting_changed)
def _forget_wordings(*, setting: str, **kwargs) -> None:
    """Translations change with these settings (in tests): Django drops its catalogs, so do we."""
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "USE_I18N"}:
        _days_wording.cache_clear()
        _within_a_day_wording.cache_clear()
