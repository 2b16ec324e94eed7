"""Read the MLS's metadata now (what beat does daily): `manage.py refresh_mls_metadata`.

`make run` seeds before its web server starts, while the sandbox it emulates the MLS with is
mounted in that very server: with `--serve-sandbox` (and only when SPARK_API_URL points at
this portal's own /sandbox/), the command serves the app on a free local port for the read.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandParser

from mls import metadata, remote
from spark.client import SparkClient


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


@contextlib.contextmanager
def _own_sandbox() -> Iterator[SparkClient]:
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadedServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-for-refresh", daemon=True)
    thread.start()
    try:
        yield remote.client_from_settings(base_url=f"http://127.0.0.1:{server.server_port}/sandbox")
    finally:
        server.shutdown()
        server.server_close()


def sandbox_is_this_portal() -> bool:
    own = settings.PORTAL_BASE_URL.rstrip("/") + "/sandbox"
    return bool(settings.SPARK_SANDBOX_ENABLED) and settings.SPARK_API_URL.rstrip("/") == own


class Command(BaseCommand):
    help = "Read the MLS's fields, lists, layout and listing rules now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--serve-sandbox",
            action="store_true",
            help="Serve this portal's own sandbox while reading (before the web server runs).",
        )

    def handle(self, *args: Any, serve_sandbox: bool = False, **options: Any) -> None:
        if serve_sandbox and sandbox_is_this_portal():
            with _own_sandbox() as api:
                report = metadata.refresh(api=api)
        else:
            report = metadata.refresh()
        self.stdout.write(
            f"The MLS's lists: {report.changed} changed, {report.unchanged} unchanged, "
            f"{len(report.failed)} could not be read."
        )
        for failure in report.failed[:5]:
            self.stdout.write(f"  {failure}")
