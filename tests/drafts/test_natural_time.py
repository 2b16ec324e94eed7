"""drafts/natural_time.py writes the list's "updated 2 days, 3 hours ago" for a fraction of
Django's `naturaltime`, and must write exactly what it writes: the same words for every span
from a second to years, past and future, in the page's zone and in other languages, with the
calendar's months and years (month ends, leap days, a change of daylight saving time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter, naturaltime
from django.utils import timezone, translation
from django.utils.timesince import timesince, timeuntil

from drafts.natural_time import natural_time

SECOND = timedelta(seconds=1)
SPANS = sorted(
    {
        timedelta(0),
        *(n * SECOND for n in (1, 2, 30, 59, 60, 61, 119, 120, 3599, 3600, 3601, 7199, 7200, 86399)),
        *(
            timedelta(days=n, seconds=s)
            for n in (1, 2, 6, 7, 8, 13, 14, 15, 27, 28, 29, 30, 31, 32)
            for s in (0, 59, 3600, 3 * 3600 + 61, 86399)
        ),
        *(
            timedelta(days=n, hours=h)
            for n in (45, 59, 60, 61, 89, 180, 364, 365, 366, 400, 729, 730, 731, 1500)
            for h in (0, 5, 23)
        ),
    }
)
ZONES = ("America/Chicago", "UTC", "Asia/Kolkata", "Pacific/Auckland")
LANGUAGES = ("en-us", "fr", "de", "pl")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("zone", ZONES)
def test_the_clock_read_gives_naturaltimes_words(language, zone):
    """Against Django's filter itself, which reads the clock: each moment sits a quarter of a
    second inside its whole-second span, so both calls (microseconds apart) see the same span."""
    shown = set()
    with translation.override(language), timezone.override(ZoneInfo(zone)):
        for span in SPANS:
            for past in (True, False):
                now = datetime.now(UTC)
                moment = now - span - SECOND / 4 if past else now + span + SECOND / 4
                moment = timezone.localtime(moment)
                expected = str(naturaltime(moment))
                assert natural_time(moment) == expected, (span, past)
                shown.add(expected)
    assert len(shown) > 80  # the spans give many different wordings, not a few


def django_words(value: datetime, now: datetime) -> str:
    """What `naturaltime(value)` shows when the clock reads `now` (its branch for more than a
    day, which is where the calendar comes in)."""
    strings = NaturalTimeFormatter
    if value < now:
        return str(
            strings.time_strings["past-day"]
            % {"delta": timesince(value, now, time_strings=strings.past_substrings)}
        )
    return str(
        strings.time_strings["future-day"]
        % {"delta": timeuntil(value, now, time_strings=strings.future_substrings)}
    )


@pytest.mark.parametrize("language", ("en-us", "fr"))
def test_the_calendars_months_and_years_come_out_as_timesince_counts_them(language):
    chicago = ZoneInfo("America/Chicago")
    clocks = [
        datetime(2024, 2, 29, 12, 0, tzinfo=UTC),  # a leap day
        datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC),  # a month's last second
        datetime(2025, 3, 9, 8, 30, tzinfo=UTC),  # Chicago springs forward
        datetime(2025, 11, 2, 7, 30, tzinfo=UTC),  # and falls back
        datetime(2026, 12, 31, 6, 0, tzinfo=UTC),  # the year's last day in Chicago
    ]
    spans = [
        timedelta(days=d, hours=h, minutes=m)
        for d in (1, 2, 27, 28, 29, 30, 31, 58, 59, 60, 365, 366, 1461)
        for h in (0, 1, 23)
        for m in (0, 1, 59)
    ]
    with translation.override(language):
        for now in clocks:
            for span in spans:
                for moment in (now - span, now + span):
                    local = moment.astimezone(chicago)
                    assert natural_time(local, now) == django_words(local, now), (now, moment)


def test_a_changed_language_changes_the_words():
    moment = timezone.localtime(timezone.now() - timedelta(days=3, hours=2, seconds=1))
    with translation.override("en-us"):
        english = natural_time(moment)
    with translation.override("fr"):
        french, djangos = natural_time(moment), str(naturaltime(moment))
    assert english == "3\xa0days, 2\xa0hours ago"
    assert french == djangos == "il y a 3\xa0jours, 2\xa0heures"
