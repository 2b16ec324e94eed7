from django.urls import path

from . import views

app_name = "mls"
urlpatterns = [
    path("drafts/<int:pk>/", views.draft_sync, name="draft_sync"),
    path("drafts/<int:pk>/badge/", views.draft_sync_badge, name="draft_sync_badge"),
    path("drafts/<int:pk>/retry/", views.draft_sync_retry, name="draft_sync_retry"),
    path("drafts/<int:pk>/drift/", views.draft_sync_resolve, name="draft_sync_resolve"),
    path("drafts/<int:pk>/preflight/", views.draft_preflight, name="draft_preflight"),
    path("drafts/<int:pk>/publish/", views.draft_promote, name="draft_promote"),
    path("drafts/<int:pk>/publishing/", views.promotion_status, name="promotion_status"),
    path("drafts/<int:pk>/live/", views.live_listing, name="live_listing"),
    path("drafts/<int:pk>/open-houses/", views.open_house_create, name="open_house_create"),
    path("drafts/<int:pk>/open-houses/<int:oh>/", views.open_house_edit, name="open_house_edit"),
    path("drafts/<int:pk>/open-houses/<int:oh>/cancel/", views.open_house_cancel, name="open_house_cancel"),
    path("attention/", views.needs_attention, name="needs_attention"),
    path("mls-lists/", views.mls_lists, name="mls_lists"),
    path("mls-lists/refresh/", views.mls_lists_refresh, name="mls_lists_refresh"),
]
