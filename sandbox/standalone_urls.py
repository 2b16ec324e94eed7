"""URLconf of ``manage.py runsandbox``: the same routes at the root (base URL ``http://127.0.0.1:8001``)."""

from django.urls import include, path

urlpatterns = [path("", include("sandbox.urls"))]
