import os

from celery import Celery
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "listings_portal.settings")

app = Celery("listings_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task options: the database unreachable (a restart, a failover) before a task holds anything
# runs the task again in a few seconds rather than waiting for a periodic sweep. After each task
# the worker's Django fixup closes a connection that broke, so the retry starts on a fresh one.
RETRY_WHEN_DATABASE_IS_GONE = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 6,
}
