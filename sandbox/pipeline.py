"""One path for every sandbox API request: route name, faults, header/token checks, the handler, the
``D`` envelope on every failure (404, 405 and 500 included), the journal, then drop/trickle faults.

A URL pattern maps to ``endpoint(resource, GET=handle(...), PUT=...)``; verbs without a handler answer
405 under the route ``<resource>.not_allowed``.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import faults
from .config import db_guard, load_config, now, option, release_config, use_config
from .envelope import ApiError, failure, not_allowed
from .models import AccessToken
from .representation import base_url

logger = logging.getLogger(__name__)

# Routes whose 2xx answer changed the MLS (the journal's "applied").
MUTATING = {
    "incomplete.create",
    "incomplete.update",
    "incomplete.delete",
    "incomplete.promote",
    "listings.create",
    "listings.update",
    "listings.flexmls_update",
    "photos.create",
    "photos.reorder",
    "photos.update",
    "photos.replace",
    "photos.delete",
    "photos.batch_delete",
    "photos.restore",
    "documents.reorder",
    "documents.update",
    "documents.delete",
    "openhouses.create",
    "openhouses.update",
    "openhouses.delete",
    "tickets.create",
    "uploads.photo",
    "uploads.document",
    *(
        f"{collection}.{action}"
        for collection in ("rooms", "units", "virtualtours", "videos")
        for action in ("create", "update", "delete", "reorder")
    ),
    "oauth.grant",
    "oauth.openid_token",
    "oauth.revoke",
}


class Api:
    """What a handler gets: the request, URL kwargs, the parsed body, the sandbox's base URL."""

    def __init__(self, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        self.request = request
        self.kwargs = kwargs
        self._raw: bytes | None = None
        self._json: Any = None
        self._json_error: ApiError | None = None
        self._parsed = False

    @property
    def base(self) -> str:
        return base_url(self.request)

    @property
    def query(self):
        return self.request.GET

    def raw_body(self) -> bytes:
        if self._raw is None:
            limit = option("max_body_bytes")
            # Read the stream directly: request.body would apply DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB),
            # far below a base64 photo.
            data = self.request.read(limit + 1)
            if len(data) > limit:
                raise ApiError(413, 1053, f"Request body larger than {limit} bytes")
            self._raw = data
        return self._raw

    def _parse(self) -> None:
        if self._parsed:
            return
        self._parsed = True
        content_type = self.request.content_type or ""
        try:
            raw = self.raw_body()
        except ApiError as error:
            self._json_error = error
            return
        if content_type.lower() != "application/json":
            self._json_error = ApiError(400, 1035, "Content-Type must be application/json")
            return
        try:
            self._json = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._json_error = ApiError(400, 1035, "The request body is not valid JSON")

    def peek(self) -> Any:
        """The parsed JSON body, or None when it is missing or broken (for route naming only)."""
        self._parse()
        return self._json if self._json_error is None else None

    def json(self) -> Any:
        self._parse()
        if self._json_error is not None:
            raise self._json_error
        return self._json

    def data(self) -> dict[str, Any]:
        """The ``D`` object of a Spark request body."""
        body = self.json()
        if not isinstance(body, dict) or not isinstance(body.get("D"), dict):
            raise ApiError(400, 1035, 'The body must be a JSON object {"D": {...}}')
        return body["D"]


Handler = Callable[..., HttpResponse]


@dataclass
class Handle:
    route: str | Callable[[Api], str]
    view: Handler
    auth: bool = True

    def route_for(self, api: Api) -> str:
        return self.route if isinstance(self.route, str) else self.route(api)


def handle(route: str | Callable[[Api], str], view: Handler, *, auth: bool = True) -> Handle:
    return Handle(route, view, auth)


@dataclass
class Endpoint:
    resource: str
    methods: dict[str, Handle] = field(default_factory=dict)
    # Faulted only by rules that name the route (image/document downloads).
    opt_in: bool = False


def check_credentials(request: HttpRequest) -> None:
    """400/1016 without X-SparkApi-User-Agent; 401/1000 for a bad token; 401/1020 for an expired one."""
    # Whether Spark still enforces 1016 is unconfirmed (docs/spark-protocol.md#open-user-agent-enforced).
    if option("require_user_agent") and not request.headers.get("X-SparkApi-User-Agent", "").strip():
        raise ApiError(400, 1016, "The X-SparkApi-User-Agent header is required")
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    # Bearer per the current docs; OAuth as older clients send it (docs/spark-protocol.md#request-headers).
    if scheme.lower() not in {"bearer", "oauth"} or not token:
        raise ApiError(401, 1000, "Invalid or missing access token")
    if token and hmac.compare_digest(token, settings.SPARK_SANDBOX_ACCESS_TOKEN):
        return
    issued = AccessToken.objects.filter(access_token=token, revoked=False).first()
    if issued is None:
        raise ApiError(401, 1000, "Invalid or missing access token")
    if issued.expires_at <= now():
        raise ApiError(401, 1020, "Session token has expired")


def run(api: Api, spec: Handle | None) -> HttpResponse:
    try:
        if spec is None:
            raise not_allowed()
        if spec.auth:
            check_credentials(api.request)
        return spec.view(api, **api.kwargs)
    except ApiError as error:
        return error.response()
    except Exception:
        logger.exception("sandbox handler failed: %s %s", api.request.method, api.request.path)
        return failure(500, 1026, "Internal error in the sandbox")


def dispatch(endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponse:
    started, at = time.monotonic(), timezone.now()
    faults.send_promptly(request)
    with db_guard():
        config = load_config()
    token = use_config(config)
    try:
        api = Api(request, kwargs)
        method = request.method or "GET"
        spec = endpoint.methods.get(method)
        with db_guard():
            route = spec.route_for(api) if spec else f"{endpoint.resource}.not_allowed"
            decision = faults.decide(config, route, method, opt_in=endpoint.opt_in)
        faults.sleep_latency(config)
        kind = decision.kind if decision else None
        if kind == "hang":
            time.sleep(float(decision.params.get("hang_seconds", 60)))
        with db_guard():
            if kind in faults.BEFORE:
                response = faults.fault_response(decision, option("rate_limit_status"))
            else:
                response = run(api, spec)
            applied = route in MUTATING and 200 <= response.status_code < 400
            drop = kind == "drop_after_apply" and faults.find_socket(request.META) is not None
            if kind == "drop_after_apply" and not drop:
                response = failure(502, 1510, "Bad gateway (the sandbox could not drop this connection)")
            # Journal first: a client that sees the drop may read _control/calls at once.
            faults.record(
                at=at,
                method=method,
                path=request.get_full_path(),
                route=route,
                status=response.status_code,
                code=getattr(response, "spark_code", None),
                fault=kind,
                applied=applied,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        if drop and not faults.drop_connection(request):
            logger.warning("sandbox: could not drop the connection of %s %s", method, request.path)
        if kind == "trickle":
            interval = float(decision.params.get("trickle_interval", 1.0))
            return faults.trickle(response, interval, int(decision.params.get("trickle_bytes", 1)))
        return response
    finally:
        release_config(token)


def endpoint(resource: str, *, opt_in: bool = False, **methods: Handle) -> Callable[..., HttpResponse]:
    spec = Endpoint(resource, methods, opt_in)

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return dispatch(spec, request, kwargs)

    view.endpoint = spec
    return view
