"""The request a signed-in page gets, as the type checker should see it."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from .models import User


class AuthenticatedRequest(HttpRequest):
    """A request behind `login_required`: `user` is a portal user, never anonymous, and `htmx`
    is set by django-htmx's middleware."""

    user: User
    htmx: HtmxDetails
