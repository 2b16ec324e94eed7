from django.urls import path

from . import views

app_name = "drafts"
urlpatterns = [
    path("", views.draft_list, name="draft_list"),
    path("new/", views.draft_create, name="draft_create"),
    path("<int:pk>/", views.draft_edit, name="draft_edit"),
    path("<int:pk>/fields/<str:name>/", views.draft_field_save, name="draft_field_save"),
    path("<int:pk>/rules/", views.draft_rules, name="draft_rules"),
    path("<int:pk>/nearby/", views.draft_nearby, name="draft_nearby"),
    path("<int:pk>/history/", views.draft_history, name="draft_history"),
    path("<int:pk>/duplicate/", views.draft_duplicate, name="draft_duplicate"),
    path("<int:pk>/trash/", views.draft_trash, name="draft_trash"),
    path("<int:pk>/restore/", views.draft_restore, name="draft_restore"),
]
