"""Metadata services (standard fields, property types, rules) and the OAuth 2 token endpoints."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse

from . import catalog
from .config import now, option
from .envelope import not_found, success
from .models import AccessToken, GrantCode
from .pipeline import Api

# --- metadata -----------------------------------------------------------------------------------------


def standardfields_list(api: Api, mls_id: str | None = None) -> HttpResponse:
    fields = {name: catalog.standard_field_json(spec) for name, spec in catalog.FIELDS.items()}
    return success([fields], LastUpdated=catalog.LAST_UPDATED)


def standardfields_get(api: Api, field_name: str) -> HttpResponse:
    spec = catalog.FIELDS.get(field_name)
    if spec is None:
        raise not_found("Standard field")
    return success(
        [{field_name: catalog.standard_field_json(spec, with_list=True)}], LastUpdated=catalog.LAST_UPDATED
    )


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
