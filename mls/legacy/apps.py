from django.apps import AppConfig


class LegacySparkConfig(AppConfig):
    name = "mls.legacy"
    label = "spark"
    verbose_name = "Spark sync (migration history only)"
