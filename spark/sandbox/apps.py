from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "spark.sandbox"
    label = "sandbox"
    verbose_name = "Spark sandbox (local MLS emulator)"
