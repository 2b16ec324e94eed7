from django.apps import AppConfig


class SparkConfig(AppConfig):
    name = "spark"
    verbose_name = "Spark sync"

    def ready(self) -> None:
        from drafts import doorbell

        from . import enqueue

        doorbell.listen(enqueue.ring)
