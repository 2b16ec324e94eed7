from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .health import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="drafts:draft_list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    path("drafts/", include("drafts.urls")),
    path("sync/", include("mls.urls")),
    path("", include("media_manager.urls")),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
]

if settings.SPARK_SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
