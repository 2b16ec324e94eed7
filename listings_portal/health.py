"""GET /health/: is the database, the broker and the remote MLS reachable?"""

import time

import requests
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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
    from listings_portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type


def _remote() -> str:
    # Any answer in the Spark envelope (even 401) proves the remote is up and reachable.
    response = requests.get(settings.SPARK_API_URL.rstrip("/") + "/v1/system", timeout=(2, 3))
    return f"HTTP {response.status_code}"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    if request.GET.get("remote") != "0":
        checks["remote"] = _timed(_remote)
    healthy = checks["database"]["ok"] and checks["broker"]["ok"]
    return JsonResponse({"healthy": healthy, "checks": checks}, status=200 if healthy else 503)
