from django.apps import AppConfig


class SparkConfig(AppConfig):
    name = "spark"
    verbose_name = "Spark sync"

    def ready(self) -> None:
        from drafts import doorbell

        from . import checks, enqueue

        checks.register()

        doorbell.listen(enqueue.ring)
