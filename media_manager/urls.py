from django.urls import path

from . import document_views, photo_views, views

app_name = "media_manager"

_photo = "drafts/<int:pk>/media/photos/<int:photo_id>/"
_document = "drafts/<int:pk>/media/documents/<int:document_id>/"

urlpatterns = [
    path("drafts/<int:pk>/media/", views.draft_media, name="draft_media"),
    # Photos
    path("drafts/<int:pk>/media/photos/", photo_views.photo_grid, name="photo_grid"),
    path("drafts/<int:pk>/media/photos/upload/", photo_views.photo_upload, name="photo_upload"),
    path("drafts/<int:pk>/media/photos/reorder/", photo_views.photo_reorder, name="photo_reorder"),
    path("drafts/<int:pk>/media/photos/delete/", photo_views.photo_bulk_delete, name="photo_bulk_delete"),
    path("drafts/<int:pk>/media/photos/move/", photo_views.photo_bulk_move, name="photo_bulk_move"),
    path(
        "drafts/<int:pk>/media/photos/download/", photo_views.photo_bulk_download, name="photo_bulk_download"
    ),
    path(_photo, photo_views.photo_update, name="photo_update"),
    path(_photo + "move/", photo_views.photo_move, name="photo_move"),
    path(_photo + "primary/", photo_views.photo_make_primary, name="photo_make_primary"),
    path(_photo + "rotate/", photo_views.photo_rotate, name="photo_rotate"),
    path(_photo + "replace/", photo_views.photo_replace, name="photo_replace"),
    path(_photo + "delete/", photo_views.photo_delete, name="photo_delete"),
    path(_photo + "restore/", photo_views.photo_restore, name="photo_restore"),
    path(_photo + "files/<slug:kind>/", photo_views.photo_file, name="photo_file"),
    # Documents
    path("drafts/<int:pk>/media/documents/", document_views.document_list, name="document_list"),
    path("drafts/<int:pk>/media/documents/upload/", document_views.document_upload, name="document_upload"),
    path(
        "drafts/<int:pk>/media/documents/reorder/", document_views.document_reorder, name="document_reorder"
    ),
    path(_document, document_views.document_update, name="document_update"),
    path(_document + "move/", document_views.document_move, name="document_move"),
    path(_document + "delete/", document_views.document_delete, name="document_delete"),
    path(_document + "restore/", document_views.document_restore, name="document_restore"),
    path(_document + "file/", document_views.document_file, name="document_file"),
]
