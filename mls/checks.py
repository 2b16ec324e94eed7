"""Deploy checks of the Spark settings (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def register() -> None:
    checks.register(spark_credentials, checks.Tags.security, deploy=True)


def spark_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    # Outside development the sandbox's built-in token is no longer the default: say so before the
    # first push is refused, rather than sending the MLS an empty token.
    if settings.SPARK_ACCESS_TOKEN or settings.SPARK_REFRESH_TOKEN:
        return []
    return [
        checks.Warning(
            "No Spark credentials: SPARK_ACCESS_TOKEN and SPARK_REFRESH_TOKEN are both empty, so the "
            "worker cannot call the MLS.",
            hint="Set SPARK_ACCESS_TOKEN to your Spark access token (or SPARK_CLIENT_ID, "
            "SPARK_CLIENT_SECRET and SPARK_REFRESH_TOKEN for OAuth).",
            id="mls.W001",
        )
    ]
