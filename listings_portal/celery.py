import os
from typing import TypedDict

from celery import Celery, signals
from django.db import InterfaceError, OperationalError, close_old_connections

from listings_portal.lib import sqlite_broker  # noqa: F401  (registers the embedded broker's URL scheme)
from listings_portal.lib.profiling import start_task_profile, stop_task_profile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "listings_portal.settings")

app = Celery("listings_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fix-up closes every database connection before and after each task, so a
# worker would open one per task (on PostgreSQL a new server process each time). A task is
# treated like a request instead: Django's own check keeps a connection for CONN_MAX_AGE and
# closes one that broke or outlived it. The fix-up closes only after this many tasks.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000


@signals.worker_ready.connect
def _tell_the_supervisor(**_kwargs) -> None:
    # `make run` prints the address and the logins once the worker is up (lib/supervisor.py).
    ready_file = os.environ.get("PORTAL_WORKER_READY_FILE")
    if ready_file:
        with open(ready_file, "w") as marker:
            marker.write(str(os.getpid()))


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(task=None, **_kwargs) -> None:
    # An eager task runs inside its caller (a test's transaction): leave its connection be.
    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()


@signals.task_prerun.connect
def _profile_task_start(task_id=None, **_kwargs) -> None:
    start_task_profile(task_id or "")  # a no-op unless PORTAL_PROFILE_DIR is set (benchmarks)


@signals.task_postrun.connect
def _profile_task_stop(task_id=None, task=None, **_kwargs) -> None:
    stop_task_profile(task_id or "", getattr(task, "name", "task"))


# Task options: the database unreachable (a restart, a failover) before a task holds anything
# runs the task again in a few seconds rather than waiting for a periodic sweep. After each task
# a connection that broke is closed (above), so the retry starts on a fresh one.
class TaskRetryOptions(TypedDict):
    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


RETRY_WHEN_DATABASE_IS_GONE: TaskRetryOptions = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 6,
}
