from django.apps import AppConfig


class MediaManagerConfig(AppConfig):
    name = "media_manager"
    verbose_name = "Photos and documents"

    def ready(self) -> None:
        # Models can be imported only once the app registry is ready, hence here.
        from drafts import review_media

        from . import processing_requests, tasks
        from .review_media import MediaForReview

        # The models ask for processing after commit; the Celery task (above them) sends it.
        processing_requests.connect(tasks.enqueue_processing_soon)
        review_media.provide(MediaForReview())
