"""GET /health/: is the database, the broker and the remote MLS reachable?

Anyone gets liveness (``{"healthy": true}``, or 503 with false); the report of each check needs a
staff session or ``Authorization: Bearer <HEALTH_TOKEN>``. Only the report asks the remote, and
its answer is reused for HEALTH_REMOTE_CACHE_SECONDS so the endpoint cannot spend the MLS's rate
limit.
"""

import hmac
import time

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from listings_portal.celery import app as celery_app

REMOTE_CACHE_KEY = "health:remote"


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except Exception as error:
        detail, ok = f"{type(error).__name__}: {error}"[:200], False
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type


def _remote() -> str:
    # Any answer in the Spark envelope (even 401) proves the remote is up and reachable.
    response = requests.get(settings.SPARK_API_URL.rstrip("/") + "/v1/system", timeout=(2, 3))
    return f"HTTP {response.status_code}"


def _remote_cached() -> dict:
    seconds = settings.HEALTH_REMOTE_CACHE_SECONDS
    found = cache.get(REMOTE_CACHE_KEY) if seconds > 0 else None
    if found is None:
        found = _timed(_remote)
        if seconds > 0:
            cache.set(REMOTE_CACHE_KEY, found, seconds)
    return found


def may_see_details(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    expected = settings.HEALTH_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    # An empty HEALTH_TOKEN means staff only (an empty header would otherwise match it).
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(offered.strip().encode(), expected.encode())
    )


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    healthy = checks["database"]["ok"] and checks["broker"]["ok"]
    status = 200 if healthy else 503
    if not may_see_details(request):
        return JsonResponse({"healthy": healthy}, status=status)
    if request.GET.get("remote") != "0":
        checks["remote"] = _remote_cached()
    return JsonResponse({"healthy": healthy, "checks": checks}, status=status)
