from django.urls import path

from . import part_views, review_views, views

app_name = "drafts"
urlpatterns = [
    path("", views.draft_list, name="draft_list"),
    path("new/", views.draft_create, name="draft_create"),
    path("<int:pk>/", views.draft_edit, name="draft_edit"),
    path("<int:pk>/fields/<str:name>/", views.draft_field_save, name="draft_field_save"),
    path("<int:pk>/rules/", views.draft_rules, name="draft_rules"),
    path("<int:pk>/nearby/", views.draft_nearby, name="draft_nearby"),
    path("<int:pk>/history/", views.draft_history, name="draft_history"),
    path("<int:pk>/frame/", views.draft_frame, name="draft_frame"),
    path("<int:pk>/duplicate/", views.draft_duplicate, name="draft_duplicate"),
    path("<int:pk>/trash/", views.draft_trash, name="draft_trash"),
    path("<int:pk>/restore/", views.draft_restore, name="draft_restore"),
    # Rooms, units, virtual tours and videos
    path("<int:pk>/parts/<str:kind>/", part_views.part_list, name="part_list"),
    path("<int:pk>/parts/<str:kind>/new/", part_views.part_create, name="part_create"),
    path("<int:pk>/parts/<str:kind>/reorder/", part_views.part_reorder, name="part_reorder"),
    path("<int:pk>/parts/<str:kind>/states/", part_views.part_states, name="part_states"),
    path("<int:pk>/part/<int:part_id>/edit/", part_views.part_edit, name="part_edit"),
    path("<int:pk>/part/<int:part_id>/delete/", part_views.part_delete, name="part_delete"),
    path("<int:pk>/part/<int:part_id>/move/", part_views.part_move, name="part_move"),
    # Review
    path("review/", review_views.review_queue, name="review_queue"),
    path("<int:pk>/review/", review_views.draft_review, name="draft_review"),
    path("<int:pk>/submit/", review_views.draft_submit, name="draft_submit"),
    path("<int:pk>/withdraw/", review_views.draft_withdraw, name="draft_withdraw"),
    path("<int:pk>/approve/", review_views.draft_approve, name="draft_approve"),
    path("<int:pk>/request-changes/", review_views.draft_request_changes, name="draft_request_changes"),
    path("<int:pk>/comments/", review_views.review_comment_create, name="review_comment_create"),
    path(
        "<int:pk>/comments/<int:comment_id>/resolve/",
        review_views.review_comment_resolve,
        name="review_comment_resolve",
    ),
]
