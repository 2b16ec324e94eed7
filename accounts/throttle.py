"""Sign-in throttling: too many failures for a username or from an address lock it out for a while."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .models import LoginAttempt


def _window_start():
    return timezone.now() - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)


def is_locked_out(username: str, ip_address: str | None) -> bool:
    recent = LoginAttempt.objects.filter(at__gte=_window_start())
    by_user = recent.filter(username__iexact=username).count() if username else 0
    by_ip = recent.filter(ip_address=ip_address).count() if ip_address else 0
    # An address gets more room than one account: an office may share one public IP.
    return by_user >= settings.LOGIN_THROTTLE_ATTEMPTS or by_ip >= settings.LOGIN_THROTTLE_ATTEMPTS * 4


def record_failure(username: str, ip_address: str | None) -> None:
    LoginAttempt.objects.create(username=username[:150], ip_address=ip_address)
    LoginAttempt.objects.filter(at__lt=timezone.now() - timedelta(days=1)).delete()


def clear(username: str, ip_address: str | None) -> None:
    LoginAttempt.objects.filter(Q(username__iexact=username) | Q(ip_address=ip_address)).delete()
