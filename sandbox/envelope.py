"""The ``D`` envelope and the error every sandbox view raises (docs/spark-protocol.md#response-envelope)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

JSON = "application/json; charset=utf-8"


class ApiError(Exception):
    """A failure answered as ``{"D": {"Success": false, "Code": ..., "Message": ...}}``."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> HttpResponse:
        return failure(self.status, self.code, self.message, **self.extra)


def envelope(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps({"D": body}), status=status, content_type=JSON)
    response.spark_code = None if body.get("Success", True) else body.get("Code")
    # Spark errors are ordinary answers here; the pipeline logs real failures itself.
    response._has_been_logged = True
    return response


def success(results: list[Any] | None = None, status: int = 200, **extra: Any) -> HttpResponse:
    body: dict[str, Any] = {"Success": True}
    if results is not None:
        body["Results"] = results
    body.update(extra)
    return envelope(body, status)


def failure(status: int, code: int, message: str, **extra: Any) -> HttpResponse:
    return envelope({"Success": False, "Code": code, "Message": message, **extra}, status)


def not_found(what: str = "Resource") -> ApiError:
    return ApiError(404, 404, f"{what} not found")


def not_allowed() -> ApiError:
    return ApiError(405, 405, "Method not allowed")


def missing(parameter: str) -> ApiError:
    return ApiError(400, 1050, f"Required parameter missing: {parameter}")


def invalid(message: str, **extra: Any) -> ApiError:
    return ApiError(400, 1053, message, **extra)
