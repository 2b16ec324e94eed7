"""The session store: Django's database sessions, with the read every signed-in request makes
compiled once per connection.

Django's store reads the session with `Session.objects.get(session_key=..., expire_date__gt=now)`,
and the ORM compiled that query anew on every request (~0.8k Python calls of every signed-in
page). Here it goes through `listings_portal/compiled_get.py`, with the same filter and so the
same expiry; creating, saving, deleting and the existence check are Django's own.
"""

from __future__ import annotations

import datetime
import logging

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.db import connections, router
from django.utils import timezone

from listings_portal.compiled_get import CompiledGet, compile_get, compiled_once

# Stand-ins the read is compiled with, never executed with: no session key has a space (Django's
# keys are 32 letters and digits), and no session expires in the year 1.
_KEY_STAND_IN = "compiled_get stand-in: session key"
_EXPIRY_STAND_IN = datetime.datetime(1, 1, 1, 0, 0, 7, tzinfo=datetime.UTC)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The unexpired session of this key, or None (and the key forgotten), as Django's
        database store reads it."""
        model = self.model
        alias = router.db_for_read(model)
        compiled = compiled_once(alias, ("session by key", model), lambda: _compile(model, alias))
        if compiled is None:
            return super()._get_session_from_db()
        expire_date = model._meta.get_field("expire_date")
        connection = connections[alias]
        try:
            session = compiled.fetch(
                {
                    "key": lambda: model._meta.get_field("session_key").get_db_prep_value(
                        self.session_key, connection
                    ),
                    "expiry": lambda: expire_date.get_db_prep_value(timezone.now(), connection),
                }
            )
        except SuspiciousOperation as error:
            logging.getLogger(f"django.security.{error.__class__.__name__}").warning(str(error))
            session = None
        if session is None:
            self._session_key = None
        return session


def _compile(model, alias: str) -> CompiledGet | None:
    connection = connections[alias]
    expiry = model._meta.get_field("expire_date").get_db_prep_value(_EXPIRY_STAND_IN, connection)
    sessions = model.objects.filter(session_key=_KEY_STAND_IN, expire_date__gt=_EXPIRY_STAND_IN)
    return compile_get(sessions, alias, {_KEY_STAND_IN: "key", expiry: "expiry"})
