from django.apps import AppConfig


class MlsConfig(AppConfig):
    name = "mls"
    verbose_name = "MLS sync and publishing"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the models load.
        from drafts import doorbell
        from drafts import layout as drafts_layout
        from media_manager import views as media_views

        from . import checks, enqueue, metadata, tasks  # noqa: F401 (tasks: registers the Celery tasks)
        from .models import listen_open_houses
        from .templatetags.sync import media_sync_context

        checks.register()
        doorbell.listen(enqueue.ring)
        listen_open_houses(enqueue.ring_open_house)
        # The editor and the rules read the MLS's layout, lists and rules through drafts.layout.
        drafts_layout.provide(metadata)
        media_views.provide_sync_context(media_sync_context)
