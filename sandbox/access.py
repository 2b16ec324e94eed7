"""Who may use the sandbox's page and its ``_control/`` interface (the API keeps its Bearer tokens).

A signed-in staff user, whose unsafe requests need the CSRF token like any session's; or a script
or test harness with ``SPARK_SANDBOX_CONTROL_TOKEN`` in the ``X-Sandbox-Control-Token`` header,
which needs no CSRF token since no cookie authenticates it. Only Django itself is used here: the
sandbox is to become an app of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.views.decorators.csrf import csrf_exempt, csrf_protect

CONTROL_TOKEN_HEADER = "X-Sandbox-Control-Token"

View = Callable[..., HttpResponse]


def has_control_token(request: HttpRequest) -> bool:
    expected = settings.SPARK_SANDBOX_CONTROL_TOKEN
    offered = request.headers.get(CONTROL_TOKEN_HEADER, "")
    # An empty setting turns token access off (an empty header would otherwise match it).
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())


def is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def refuse(request: HttpRequest, *, page: bool) -> HttpResponse:
    """The page sends an anonymous visitor to sign in where a login page exists; else a plain 403."""
    if page and not getattr(getattr(request, "user", None), "is_authenticated", False):
        try:
            login_url = resolve_url(settings.LOGIN_URL)
        except NoReverseMatch:  # runsandbox serves no login page
            login_url = None
        if login_url:
            return redirect_to_login(request.get_full_path(), login_url)
    message = (
        "The Spark sandbox's page and control interface need a signed-in staff user "
        f"or the {CONTROL_TOKEN_HEADER} header with SPARK_SANDBOX_CONTROL_TOKEN."
    )
    if page:
        return HttpResponseForbidden(message, content_type="text/plain")
    return JsonResponse({"error": message}, status=403)  # _control/ speaks JSON


def staff_or_control_token(view: View, *, page: bool = False) -> View:
    session_view = csrf_protect(view)

    @csrf_exempt
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if has_control_token(request):
            return view(request, *args, **kwargs)
        if is_staff(request):
            return session_view(request, *args, **kwargs)
        return refuse(request, page=page)

    guarded.__name__ = getattr(view, "__name__", "guarded")
    guarded.__doc__ = view.__doc__
    return guarded
