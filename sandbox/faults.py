"""Fault injection and the call journal.

Rules live in ``FaultRule`` rows (the seed and latency in ``SandboxConfig``), so every thread and process
serving the sandbox shares them. Decisions are deterministic for a given seed: the n-th request matching
rule i draws ``random.Random(f"{seed}:{i}:{n}")``, whichever process serves it; the counters are updated
under a row lock.

Kinds (``_control/faults`` body, see ``install``):

- ``server_error``: answer ``status`` (500, 502, 503 or 504; default 500) with a Spark code (500 -> 1026,
  502/503 -> 1510, 504 -> 1515; ``code`` overrides); ``"envelope": false`` sends an HTML proxy page instead.
- ``rate_limit``: code 1550 with ``status`` 429 or 503 (default: option ``rate_limit_status``) and a
  ``Retry-After`` header from ``retry_after`` (seconds or an HTTP-date string; null = no header) or
  ``retry_after_date_in`` (an HTTP-date that many seconds ahead). ``max_per_second``: only fire when the
  journal already holds that many calls in the last second (a steady limiter instead of a lottery).
- ``token_expired``: 401 / 1020.
- ``error``: any ``status``/``code``/``message`` (e.g. 400/1053, 409/1055, 403/1500, 405/1017).
- ``hang``: sleep ``hang_seconds`` (default 60), then answer normally (the change applies late).
- ``drop_after_apply``: run the request, then close the TCP connection without a response (see
  ``drop_connection``); when the server's socket cannot be found, answer 502 instead (after applying).
- ``trickle``: send the (normal) response body ``trickle_bytes`` (default 1) bytes per ``trickle_interval``
  seconds (default 1.0).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from .envelope import ApiError, failure
from .models import Call, FaultRule, SandboxConfig

logger = logging.getLogger(__name__)

KINDS = {"server_error", "rate_limit", "token_expired", "error", "hang", "drop_after_apply", "trickle"}
BEFORE = {"server_error", "rate_limit", "token_expired", "error"}  # answered instead of the request
SERVER_ERROR_CODES = {500: 1026, 502: 1510, 503: 1510, 504: 1515}
RULE_KEYS = {"kind", "probability", "routes", "methods", "times"}


class FaultSpecError(ValueError):
    pass


def settings_faults() -> dict[str, Any] | None:
    raw = settings.SPARK_SANDBOX_FAULTS
    if not raw:
        return None
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _validate_rule(index: int, rule: dict[str, Any]) -> FaultRule:
    if not isinstance(rule, dict) or rule.get("kind") not in KINDS:
        raise FaultSpecError(f"rules[{index}].kind must be one of {sorted(KINDS)}")
    probability = rule.get("probability", 1.0)
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise FaultSpecError(f"rules[{index}].probability must be between 0 and 1")
    for key in ("routes", "methods"):
        value = rule.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise FaultSpecError(f"rules[{index}].{key} must be a list of strings")
    times = rule.get("times")
    if times is not None and (not isinstance(times, int) or times < 0):
        raise FaultSpecError(f"rules[{index}].times must be a non-negative integer")
    status = rule.get("status")
    if rule["kind"] == "server_error" and status is not None and status not in SERVER_ERROR_CODES:
        raise FaultSpecError(f"rules[{index}].status must be 500, 502, 503 or 504")
    if rule["kind"] == "rate_limit" and status is not None and status not in (429, 503):
        raise FaultSpecError(f"rules[{index}].status must be 429 or 503")
    return FaultRule(
        position=index,
        kind=rule["kind"],
        probability=float(probability),
        routes=rule.get("routes"),
        methods=[m.upper() for m in rule["methods"]] if rule.get("methods") else None,
        times=times,
        params={k: v for k, v in rule.items() if k not in RULE_KEYS},
    )


def install(spec: dict[str, Any]) -> None:
    """Replace every fault rule (and the seed/latency) with ``spec``; counters restart at zero."""
    if not isinstance(spec, dict):
        raise FaultSpecError("the body must be a JSON object")
    rules = [_validate_rule(i, rule) for i, rule in enumerate(spec.get("rules") or [])]
    seed, latency = spec.get("seed", 0), spec.get("latency_ms", 0)
    if not isinstance(seed, int) or not isinstance(latency, int | float) or latency < 0:
        raise FaultSpecError("seed must be an integer and latency_ms a non-negative number")
    with transaction.atomic():
        SandboxConfig.objects.update_or_create(pk=1, defaults={"seed": seed, "latency_ms": int(latency)})
        FaultRule.objects.all().delete()
        FaultRule.objects.bulk_create(rules)


def clear() -> None:
    with transaction.atomic():
        SandboxConfig.objects.update_or_create(pk=1, defaults={"seed": 0, "latency_ms": 0})
        FaultRule.objects.all().delete()


def describe(config: SandboxConfig) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "latency_ms": config.latency_ms,
        "rules": [
            {
                "kind": rule.kind,
                "probability": rule.probability,
                "routes": rule.routes,
                "methods": rule.methods,
                "times": rule.times,
                **rule.params,
                "matched": rule.matched,
                "injected": rule.injected,
            }
            for rule in FaultRule.objects.all()
        ],
    }


@dataclass
class Decision:
    kind: str
    params: dict[str, Any]


def _applies(rule: FaultRule, route: str, method: str, opt_in: bool) -> bool:
    if rule.routes is not None and route not in rule.routes:
        return False
    if rule.routes is None and opt_in:
        return False
    if rule.methods is not None and method not in rule.methods:
        return False
    return rule.times is None or rule.injected < rule.times


def decide(config: SandboxConfig, route: str, method: str, *, opt_in: bool = False) -> Decision | None:
    """The fault (if any) for this request; consumes one draw of every matching rule up to the first hit."""
    if not getattr(config, "has_rules", True):
        return None
    for rule in FaultRule.objects.all():
        if not _applies(rule, route, method, opt_in):
            continue
        with transaction.atomic():
            locked = FaultRule.objects.select_for_update().filter(pk=rule.pk).first()
            if locked is None or not _applies(locked, route, method, opt_in):
                continue
            locked.matched += 1
            draw = random.Random(f"{config.seed}:{locked.position}:{locked.matched}").random()
            fire = draw < locked.probability and _under_rate(locked)
            if fire:
                locked.injected += 1
            locked.save(update_fields=["matched", "injected"])
        if fire:
            return Decision(locked.kind, locked.params)
    return None


def _under_rate(rule: FaultRule) -> bool:
    """For a steady limiter: True when the last second already saw ``max_per_second`` calls."""
    limit = rule.params.get("max_per_second")
    if limit is None:
        return True
    since = timezone.now() - dt.timedelta(seconds=1)
    return Call.objects.filter(at__gte=since).exclude(fault="rate_limit").count() >= limit


def sleep_latency(config: SandboxConfig) -> None:
    if config.latency_ms:
        time.sleep(config.latency_ms / 1000)


def fault_response(decision: Decision, rate_limit_status: int) -> HttpResponse:
    """The answer of a fault that replaces the request (kinds in ``BEFORE``).

    ``rate_limit_status`` is the option of that name, passed in because config.py imports this module.
    """
    params = decision.params
    if decision.kind == "server_error":
        status = params.get("status", 500)
        if params.get("envelope", True) is False:
            html = f"<html><body><h1>{status} Bad Gateway</h1></body></html>"
            response = HttpResponse(html, status=status, content_type="text/html")
            response.spark_code = None
            return response
        code = params.get("code", SERVER_ERROR_CODES[status])
        return failure(status, code, params.get("message", "The API is temporarily unavailable"))
    if decision.kind == "rate_limit":
        # 1550 is 503 in the older error table, 429 in the newer
        # (docs/spark-protocol.md#open-rate-limit-status).
        status = params.get("status") or rate_limit_status
        response = failure(status, 1550, params.get("message", "Over rate limit"))
        retry_after = params.get("retry_after")
        if params.get("retry_after_date_in") is not None:
            moment = math.ceil(time.time() + float(params["retry_after_date_in"]))
            retry_after = format_datetime(dt.datetime.fromtimestamp(moment, tz=dt.UTC), usegmt=True)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    if decision.kind == "token_expired":
        return ApiError(401, 1020, "Session token has expired").response()
    return failure(
        params.get("status", 400), params.get("code", 1053), params.get("message", "Injected error")
    )


def find_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The client connection's socket, found through the WSGI server's objects.

    gunicorn puts it in the environ; Django's own server (runserver, runsandbox, the test live server)
    reads the request from ``socket.makefile()``, which ``wsgi.input`` wraps: follow ``LimitedStream``'s
    bound ``read`` -> ``BufferedReader.raw`` (``SocketIO``) -> ``_sock``.
    """
    candidate = environ.get("gunicorn.socket")
    if isinstance(candidate, socket.socket):
        return candidate
    stream: Any = environ.get("wsgi.input")
    for _ in range(8):
        if stream is None:
            return None
        if isinstance(stream, socket.socket):
            return stream
        read = getattr(stream, "_read", None)
        if read is not None and getattr(read, "__self__", None) is not None:
            stream = read.__self__
        elif getattr(stream, "raw", None) is not None:
            stream = stream.raw
        elif getattr(stream, "_sock", None) is not None:
            stream = stream._sock
        elif getattr(stream, "stream", None) is not None:
            stream = stream.stream
        else:
            return None
    return None


def send_promptly(request: HttpRequest) -> None:
    """Set TCP_NODELAY on the client connection.

    wsgiref (Django's dev and test servers) writes the headers and the body with two send() calls; with
    Nagle's algorithm on, the body then waits for the client's delayed ACK, about 40 ms per request.
    """
    sock = find_socket(request.META)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def drop_connection(request: HttpRequest) -> bool:
    """Shut the client's TCP connection both ways (it sees EOF, no status line). False if impossible.

    The server then fails to write the response (a broken pipe, which Django's server and gunicorn
    treat as a client gone away) and closes the socket.
    """
    sock = find_socket(request.META)
    if sock is None:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def trickle(response: HttpResponse, interval: float, chunk: int) -> StreamingHttpResponse:
    body = response.content

    def drip() -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            if start:
                time.sleep(interval)
            yield body[start : start + chunk]

    streaming = StreamingHttpResponse(drip(), status=response.status_code)
    for header, value in response.items():
        streaming[header] = value
    streaming["Content-Length"] = str(len(body))
    return streaming


JOURNAL_FIELDS = ("at", "method", "path", "route", "status", "code", "fault", "applied", "duration_ms")


@functools.cache
def _journal_sql() -> str:
    # Written out because every API request runs it (a third cheaper than ``Call.objects.create``); the
    # values still go through each field's own conversion (``get_db_prep_save``).
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Call._meta.get_field(name).column) for name in JOURNAL_FIELDS)
    placeholders = ", ".join(["%s"] * len(JOURNAL_FIELDS))
    return f"INSERT INTO {quote(Call._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def record(
    *,
    at: dt.datetime,
    method: str,
    path: str,
    route: str,
    status: int | None,
    code: int | None,
    fault: str | None,
    applied: bool,
    duration_ms: float,
) -> None:
    """Add one journal entry (a ``Call`` row)."""
    values = {
        "at": at,
        "method": method,
        "path": path[:500],
        "route": route,
        "status": status,
        "code": code,
        "fault": fault,
        "applied": applied,
        "duration_ms": duration_ms,
    }
    fields = [Call._meta.get_field(name) for name in JOURNAL_FIELDS]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_journal_sql(), params)


def journal(since: int | None = None, route: str | None = None) -> dict[str, Any]:
    counts = dict(Call.objects.order_by().values("route").annotate(n=Count("id")).values_list("route", "n"))
    entries = Call.objects.all()
    if since is not None:
        entries = entries.filter(id__gt=since)
    if route:
        entries = entries.filter(route=route)
    return {
        "counts": counts,
        "journal": [
            {
                "id": call.id,
                "at": call.at.isoformat(),
                "method": call.method,
                "path": call.path,
                "route": call.route,
                "status": call.status,
                "code": call.code,
                "fault": call.fault,
                "applied": call.applied,
                "duration_ms": round(call.duration_ms, 1),
            }
            for call in entries
        ],
    }
