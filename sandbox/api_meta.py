"""Metadata services (standard fields, property types, custom fields, field order, rooms and units
fields, rules) and the OAuth 2 token endpoints."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils.http import http_date, parse_http_date_safe

from . import catalog, meta_catalog
from .config import now, option
from .envelope import not_found, success
from .models import AccessToken, GrantCode
from .pipeline import Api

# --- metadata -----------------------------------------------------------------------------------------

NOT_MODIFIED = 304
# Characters of the body's hash used as its ETag.
ETAG_LENGTH = 32


def _last_updated() -> dt.datetime:
    """When the MLS last changed its metadata: option ``metadata_revision`` moves it a day a step,
    so a test can make the MLS change its lists."""
    published = dt.datetime.fromisoformat(catalog.LAST_UPDATED)
    return published + dt.timedelta(days=int(option("metadata_revision")))


def _is_fresh(api: Api, etag: str, modified: dt.datetime) -> bool:
    """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = api.request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags or f"W/{etag}" in tags
    since = parse_http_date_safe(api.request.headers.get("If-Modified-Since", ""))
    return since is not None and since >= int(modified.timestamp())


def conditional(api: Api, results: list[Any], **extra: Any) -> HttpResponse:
    """An answer with ``ETag`` and ``Last-Modified``, or 304 with an empty body when the client's
    validators still match (docs/spark-protocol.md#conditional-requests)."""
    modified = _last_updated()
    body = json.dumps({"Results": results, **extra, "revision": option("metadata_revision")}, sort_keys=True)
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:ETAG_LENGTH] + '"'
    if _is_fresh(api, etag, modified):
        response = HttpResponse(status=NOT_MODIFIED)
        response.spark_code = None
        response._has_been_logged = True
    else:
        response = success(results, **extra)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(modified.timestamp())
    return response


def _last_updated_iso() -> str:
    return _last_updated().strftime("%Y-%m-%dT%H:%M:%SZ")


def standardfields_list(api: Api, mls_id: str | None = None) -> HttpResponse:
    fields = {name: catalog.standard_field_json(spec) for name, spec in catalog.FIELDS.items()}
    return conditional(api, [fields], LastUpdated=_last_updated_iso())


def standardfields_get(api: Api, field_name: str) -> HttpResponse:
    spec = catalog.FIELDS.get(field_name)
    if spec is None:
        raise not_found("Standard field")
    return conditional(api, [{field_name: catalog.standard_field_json(spec, with_list=True)}])


def customfields_list(api: Api) -> HttpResponse:
    return conditional(api, meta_catalog.custom_fields_json(), LastUpdated=_last_updated_iso())


def customfields_get(api: Api, field_name: str) -> HttpResponse:
    spec = meta_catalog.CUSTOM_FIELDS.get(field_name)
    if spec is None:
        raise not_found("Custom field")
    return conditional(api, [{field_name: spec.as_json("customfields", with_list=True)}])


def fieldorder_list(api: Api) -> HttpResponse:
    return conditional(api, [{code: meta_catalog.field_order(code) for code in catalog.TYPE_CODES}])


def fieldorder_get(api: Api, property_type: str) -> HttpResponse:
    if property_type not in catalog.TYPE_CODES:
        raise not_found("Property type")
    return conditional(api, meta_catalog.field_order(property_type))


def _extra_fields(
    specs: dict[str, meta_catalog.ExtraField], resource: str, mls_id: str | None
) -> HttpResponse:
    if mls_id is not None and mls_id != catalog.MLS_ID:
        raise not_found("MLS")
    return success([{name: spec.as_json(resource) for name, spec in specs.items()}])


def _extra_field(
    specs: dict[str, meta_catalog.ExtraField], resource: str, field_name: str, mls_id: str | None
) -> HttpResponse:
    spec = specs.get(field_name)
    if spec is None or (mls_id is not None and mls_id != catalog.MLS_ID):
        raise not_found("Field")
    return success([{field_name: spec.as_json(resource, with_list=True)}])


def rooms_meta(api: Api, mls_id: str | None = None) -> HttpResponse:
    return _extra_fields(meta_catalog.ROOM_FIELDS, "rooms", mls_id)


def rooms_meta_field(api: Api, field_name: str, mls_id: str | None = None) -> HttpResponse:
    return _extra_field(meta_catalog.ROOM_FIELDS, "rooms", field_name, mls_id)


def units_meta(api: Api, mls_id: str | None = None) -> HttpResponse:
    return _extra_fields(meta_catalog.UNIT_FIELDS, "units", mls_id)


def units_meta_field(api: Api, field_name: str, mls_id: str | None = None) -> HttpResponse:
    return _extra_field(meta_catalog.UNIT_FIELDS, "units", field_name, mls_id)


def propertytypes_list(api: Api, mls_id: str | None = None) -> HttpResponse:
    return success(catalog.PROPERTY_TYPES)


def propertytypes_all(api: Api) -> HttpResponse:
    return success(catalog.ALL_PROPERTY_TYPES)


def rules_meta(api: Api) -> HttpResponse:
    return success([catalog.RULES_META])


def rules_list(api: Api, property_type: str) -> HttpResponse:
    if property_type not in catalog.TYPE_CODES:
        raise not_found("Property type")
    return success([rule.as_json(property_type) for rule in catalog.rules_for(property_type)])


# --- OAuth 2 (docs/spark-protocol.md#oauth2-grant-and-refresh) -----------------------------------------


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _oauth_answer(status: int, body: dict[str, Any]) -> HttpResponse:
    # Token endpoints answer bare JSON, not the D envelope (docs/spark-protocol.md#oauth2-grant-and-refresh).
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response.spark_code = None
    return response


def _grant_params(api: Api) -> dict[str, Any]:
    """JSON (what the docs and the Ruby gem send) or a form body (what some OIDC clients send)."""
    request = api.request
    if (request.content_type or "").lower() == "application/json":
        try:
            body = json.loads(api.raw_body().decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise OAuthError(400, "invalid_request", "The body is not valid JSON") from None
        if not isinstance(body, dict):
            raise OAuthError(400, "invalid_request", "The body must be a JSON object")
        params = dict(body)
    else:
        params = {key: request.POST.get(key) for key in request.POST}
    # client_secret_basic (OIDC discovery lists it).
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            client_id, _, secret = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "Bad Basic credentials") from None
        params.setdefault("client_id", client_id)
        params.setdefault("client_secret", secret)
    return params


def _issue() -> dict[str, Any]:
    ttl = int(settings.SPARK_SANDBOX_TOKEN_TTL)
    token = AccessToken.objects.create(
        access_token=secrets.token_hex(16),
        refresh_token=secrets.token_hex(16),
        expires_at=now() + dt.timedelta(seconds=ttl),
    )
    return {"access_token": token.access_token, "refresh_token": token.refresh_token, "expires_in": ttl}


def _grant(params: dict[str, Any]) -> dict[str, Any]:
    if (
        params.get("client_id") != settings.SPARK_SANDBOX_CLIENT_ID
        or params.get("client_secret") != settings.SPARK_SANDBOX_CLIENT_SECRET
    ):
        raise OAuthError(401, "invalid_client", "Unknown client_id or wrong client_secret")
    grant_type = params.get("grant_type")
    if grant_type == "authorization_code":
        code, redirect_uri = params.get("code"), params.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError(400, "invalid_request", "code and redirect_uri are required")
        try:
            with transaction.atomic():
                GrantCode.objects.create(code=str(code))
        except IntegrityError:
            raise OAuthError(400, "invalid_grant", "This authorization code was already used") from None
        return _issue()
    if grant_type == "refresh_token":
        refresh = params.get("refresh_token")
        token = AccessToken.objects.filter(refresh_token=refresh or "", revoked=False).first()
        if token is None or (token.refresh_used and option("rotate_refresh_tokens")):
            raise OAuthError(400, "invalid_grant", "Unknown, used or revoked refresh_token")
        if option("rotate_refresh_tokens"):
            # Rotation is unconfirmed (docs/spark-protocol.md#open-token-rotation).
            claimed = AccessToken.objects.filter(pk=token.pk, refresh_used=False).update(refresh_used=True)
            if claimed != 1:
                raise OAuthError(400, "invalid_grant", "Unknown, used or revoked refresh_token")
        return _issue()
    raise OAuthError(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")


def oauth_grant(api: Api) -> HttpResponse:
    try:
        return _oauth_answer(200, _grant(_grant_params(api)))
    except OAuthError as error:
        return _oauth_answer(error.status, {"error": error.error, "error_description": error.description})


def oauth_openid_token(api: Api) -> HttpResponse:
    try:
        body = _grant(_grant_params(api))
    except OAuthError as error:
        return _oauth_answer(error.status, {"error": error.error, "error_description": error.description})
    return _oauth_answer(200, {**body, "token_type": "Bearer"})


def oauth_revoke(api: Api, token: str) -> HttpResponse:
    """Kills the access token and its refresh token (docs/spark-protocol.md#token-revocation)."""
    if AccessToken.objects.filter(access_token=token).update(revoked=True) != 1:
        raise not_found("Token")
    return success()
