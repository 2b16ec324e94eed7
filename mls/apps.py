from django.apps import AppConfig


class MlsConfig(AppConfig):
    name = "mls"
    verbose_name = "MLS sync and publishing"

    def ready(self) -> None:
        # Imported here: the app registry must be ready before the models load.
        from drafts import doorbell
        from media_manager import views as media_views

        from . import checks, enqueue, tasks  # noqa: F401 (tasks: registers the Celery tasks enqueue sends)
        from .models import listen_open_houses
        from .templatetags.sync import media_sync_context

        checks.register()
        doorbell.listen(enqueue.ring)
        listen_open_houses(enqueue.ring_open_house)
        media_views.provide_sync_context(media_sync_context)
