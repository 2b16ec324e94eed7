"""Sign-in throttling: failed sign-ins inside a window lock a (username, address) pair, lock an
address, and past a higher count slow a username down everywhere.

Why not django-axes (8.3.1, read from its source): it compares the largest failure count over all
its lockout parameters against one AXES_FAILURE_LIMIT (AxesDatabaseHandler.get_failures takes
the max; the limit callable gets the request, not which parameter hit), so "5 per pair, 20 per
username, 20 per address" cannot be said; with the address among its parameters, a success
(AXES_RESET_ON_SUCCESS) deletes every failure from that address, the very bug we fixed here; and
it has one lockout message for every case. The rules below are a few queries on one table.

Usernames are counted as authentication reads them: the view passes the name the login form
cleaned (stripped, NFKC), and the lookup of the username is case-sensitive, so counts are too.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import LoginAttempt

USERNAME_MAX = LoginAttempt._meta.get_field("username").max_length


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in is refused before the password is checked, and for how long."""

    message: str
    retry_after_seconds: int


def _duration(seconds: int) -> str:
    if seconds < 60:
        return "a few seconds" if seconds <= 5 else f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _per(seconds: int) -> str:
    return "a minute" if seconds == 60 else f"every {_duration(seconds)}"


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _lifts_at(failure_times: list[datetime], limit: int, window: timedelta) -> datetime | None:
    """When a count of at least `limit` failures drops under it: the failures are newest first."""
    if len(failure_times) < limit:
        return None
    # Once the oldest (count - limit + 1) failures leave the window, limit - 1 remain.
    return failure_times[limit - 1] + window


def refusal_for(username: str, ip_address: str | None) -> Refusal | None:
    """The reason to refuse a sign-in as `username` from `ip_address` now, or None."""
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    recent = LoginAttempt.objects.filter(at__gte=now - window).order_by("-at")
    username = username[:USERNAME_MAX]
    pair_limit = settings.LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS
    address_limit = settings.LOGIN_THROTTLE_FAILURES_PER_ADDRESS
    username_limit = settings.LOGIN_THROTTLE_FAILURES_PER_USERNAME

    if username and ip_address:
        pair = recent.filter(username=username, ip_address=ip_address)
        times = list(pair.values_list("at", flat=True)[:pair_limit])
        if lifts_at := _lifts_at(times, pair_limit, window):
            wait = _seconds_until(lifts_at, now)
            return Refusal(
                f"Too many failed sign-ins for this username from your network. Wait {_duration(wait)} "
                "and try again, or ask your office admin to reset your password.",
                wait,
            )
    if ip_address:
        times = list(recent.filter(ip_address=ip_address).values_list("at", flat=True)[:address_limit])
        if lifts_at := _lifts_at(times, address_limit, window):
            wait = _seconds_until(lifts_at, now)
            return Refusal(
                f"Too many failed sign-ins from your network. Wait {_duration(wait)} and try again, "
                "or ask your office admin.",
                wait,
            )
    if username:
        # Past the threshold a username is slowed, not shut: one try per pause from anywhere, so
        # guessing from many addresses crawls while the agent can still get in.
        by_username = recent.filter(username=username)
        if by_username.count() >= username_limit:
            pause = settings.LOGIN_THROTTLE_USERNAME_PAUSE_SECONDS
            last_failure = by_username.values_list("at", flat=True)[0]
            if last_failure + timedelta(seconds=pause) > now:
                wait = _seconds_until(last_failure + timedelta(seconds=pause), now)
                return Refusal(
                    "This username has had many failed sign-ins from several places, so for now it "
                    f"gets one try {_per(pause)}. Wait {_duration(wait)} and try again. If those "
                    "failures were not yours, tell your office admin.",
                    wait,
                )
    return None


def record_failure(username: str, ip_address: str | None) -> None:
    LoginAttempt.objects.create(username=username[:USERNAME_MAX], ip_address=ip_address)
    LoginAttempt.objects.filter(at__lt=timezone.now() - timedelta(days=1)).delete()


def clear_failures_of(username: str, ip_address: str | None) -> None:
    """After a success: only this account's failures from this address. Its failures from other
    addresses stay, or signing in would hand a guesser elsewhere a fresh set of tries."""
    LoginAttempt.objects.filter(username=username[:USERNAME_MAX], ip_address=ip_address).delete()
