"""``manage.py runsandbox --port 8001``: the Spark sandbox alone, base URL ``http://127.0.0.1:8001``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import run
from django.core.wsgi import get_wsgi_application
from django.db import DEFAULT_DB_ALIAS
from django.urls import clear_url_caches


class Command(BaseCommand):
    help = (
        "Serve the Spark sandbox on its own (threaded WSGI server; routes at the root, no /sandbox prefix)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--migrate", action="store_true", help="apply migrations before serving")

    def handle(self, *args, host: str, port: int, migrate: bool, **options) -> None:
        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        # Same views, mounted at "/": reverse("sandbox:...") then gives root-relative URLs too.
        settings.ROOT_URLCONF = "sandbox.standalone_urls"
        clear_url_caches()
        # One database connection per client connection rather than per request (a client keeps its
        # connection alive across calls): opening a SQLite connection (functions, PRAGMAs) cost about a
        # millisecond a call. The threaded server closes a thread's connections when its client
        # connection ends (ThreadedWSGIServer.close_request); health checks stay as configured.
        settings.DATABASES[DEFAULT_DB_ALIAS]["CONN_MAX_AGE"] = None
        handler = StaticFilesHandler(get_wsgi_application())
        self.stdout.write(
            f"Spark sandbox at http://{host}:{port}/ (API base URL http://{host}:{port}); Ctrl-C stops it"
        )
        # Django's threaded dev server: one thread per connection, and the socket the drop_after_apply
        # fault closes is reachable from wsgi.input (see sandbox/faults.py).
        run(host, port, handler, ipv6=":" in host, threading=True)
