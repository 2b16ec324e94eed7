"""Mounted by the portal at ``sandbox/``: the API base URL is then ``http://host/sandbox``."""

from .routes import urlpatterns

app_name = "sandbox"

__all__ = ["app_name", "urlpatterns"]
