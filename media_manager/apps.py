from django.apps import AppConfig


class MediaManagerConfig(AppConfig):
    name = "media_manager"
    verbose_name = "Photos and documents"
