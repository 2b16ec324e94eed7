from django.contrib import admin

from .models import Document, MediaOrder, Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ["__str__", "draft", "position", "is_primary", "state", "remote_id", "deleted_at"]
    list_filter = ["state", "is_primary"]
    search_fields = ["name", "caption", "remote_id", "upload_token"]
    raw_id_fields = ["draft", "duplicate_of", "created_by"]
    # Order, primary and trash change only through the media page (it keeps positions gap-free).
    readonly_fields = [
        "position",
        "is_primary",
        "deleted_at",
        "upload_token",
        "client_key",
        "original",
        "master",
        "variants",
        "original_sha256",
        "sha256",
        "phash",
        "image_version",
        "state",
        "processing_attempts",
    ]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "draft", "position", "privacy", "pages", "remote_id", "deleted_at"]
    list_filter = ["privacy"]
    search_fields = ["name", "remote_id", "upload_token"]
    raw_id_fields = ["draft", "created_by"]
    readonly_fields = [
        "position",
        "deleted_at",
        "upload_token",
        "client_key",
        "file",
        "sha256",
        "pages",
        "size",
    ]


@admin.register(MediaOrder)
class MediaOrderAdmin(admin.ModelAdmin):
    list_display = ["draft", "photo_version", "document_version"]
    raw_id_fields = ["draft"]
    readonly_fields = ["photo_version", "document_version"]
