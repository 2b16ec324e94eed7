"""The embedded Celery broker: kombu's SQLAlchemy transport on an SQLite file, made safe for
several processes and for a worker that dies.

Kombu's filesystem transport reads a message file that may still be half written (kombu
#1551: the worker dies on a JSONDecodeError). Here every publish is one SQLite transaction.
What the stock SQLAlchemy transport lacks, and this subclass adds:

* WAL and a busy timeout, so producers (web threads, beat, workers) wait for the write lock
  instead of failing with "database is locked";
* a visibility timeout as on Redis: a message taken by a worker that was killed before its
  ack (SIGKILL, a power cut) is handed out again after `visibility_timeout` seconds; the
  stock transport only marks it invisible and never returns it;
* an acked or dropped message is deleted (the stock one keeps every row), and a message put
  back (reject with requeue, restore at shutdown) is made visible again in place, not copied.

URL: ``portal-sqlite+sqlite:////abs/path/broker.sqlite3``; the scheme is registered with kombu
when this module is imported (listings_portal/celery.py does), since kombu takes no import
path from a URL. Transport options: ``visibility_timeout``, ``polling_interval``, ``busy_timeout``.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import threading
import time
from json import loads
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, event, or_, text
from sqlalchemy.orm import sessionmaker

SCHEME = "portal-sqlite"
DEFAULT_VISIBILITY_TIMEOUT = 900.0
DEFAULT_BUSY_TIMEOUT = 15.0
# An idle queue is looked at in full at least this often (see `Channel._nothing_new`): only a
# message whose visibility timeout (900 s) ran out needs it, so ten seconds later is no loss,
# and an idle worker then makes its two ORM queries per queue every 10 s instead of every second.
FULL_LOOK_EVERY_SECONDS = 10.0
# The queues of one poll are looked at within microseconds of each other: one read of
# data_version serves them all (a commit after it opens the gate on the next poll).
GATE_READ_REUSE_SECONDS = 0.005
_ENGINES_LOCK = threading.Lock()
# Per process: a forked worker child must not reuse its parent's SQLite connections.
_engines: dict[tuple[int, str], tuple] = {}


def _engine_for(url: str, busy_timeout: float):
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer; NORMAL is durable against a process crash.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class Channel(kombu_sqlalchemy.Channel):
    def __init__(self, connection, **kwargs) -> None:
        options = connection.client.transport_options
        self.visibility_timeout = float(options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT))
        self.busy_timeout = float(options.get("busy_timeout", DEFAULT_BUSY_TIMEOUT))
        # delivery tag -> row, for the messages this channel handed out and not yet settled.
        self._rows: dict[str, int] = {}
        self._settled: list[int] = []
        # The poll gate (`_nothing_new`): (pid, connection); queue -> (data_version, when) of
        # its last look that found it empty; the look under way.
        self._gate: tuple[int, sqlite3.Connection] | None = None
        self._gate_read: tuple[int, float] | None = None  # (data_version, when read)
        self._empty: dict[str, tuple[int, float]] = {}
        self._looking: tuple[str, int, float] | None = None
        self._broker_file = str(connection.client.hostname).split("sqlite:///", 1)[1]
        self._queue_ids: dict[str, int] = {}
        super().__init__(connection, **kwargs)

    def _open(self):
        url = self.connection.client.hostname
        key = (os.getpid(), url)
        with _ENGINES_LOCK:
            if key not in _engines:
                engine = _engine_for(url, self.busy_timeout)
                kombu_sqlalchemy.metadata.create_all(engine)
                _engines[key] = engine, sessionmaker(bind=engine)
        return _engines[key]

    def _nothing_new(self, queue) -> bool:
        """True when the last look at `queue` found nothing and no connection has committed
        to the broker file since (SQLite's data_version, read on a connection of our own that
        never writes), so an idle worker's poll (20 a second) costs one PRAGMA for all its
        queues instead of two ORM queries each. Every FULL_LOOK_EVERY_SECONDS the queue is
        looked at anyway: a message whose visibility timeout ran out becomes deliverable
        without any commit."""
        if self._gate is None or self._gate[0] != os.getpid():
            self._gate = (os.getpid(), sqlite3.connect(self._broker_file, check_same_thread=False))
            self._empty = {}
            self._gate_read = None
        now = time.monotonic()
        if self._gate_read is None or now - self._gate_read[1] >= GATE_READ_REUSE_SECONDS:
            self._gate_read = (self._gate[1].execute("PRAGMA data_version").fetchone()[0], now)
        version = self._gate_read[0]
        seen = self._empty.get(queue)
        if seen is not None and seen[0] == version and now - seen[1] < FULL_LOOK_EVERY_SECONDS:
            return True
        self._looking = (queue, version, now)
        return False

    def _queue_id(self, queue) -> int:
        """The queue's row id, read once per channel. Kombu reads the queue's row on every look,
        and once more after each commit expires it: two queries of a busy worker's every poll.
        A queue's row is never deleted (a purge deletes its messages only), so its id holds."""
        found = self._queue_ids.get(queue)
        if found is None:
            found = self._queue_ids[queue] = int(self._get_or_create(queue).id)  # type: ignore[attr-defined]
        return found

    def _get(self, queue):
        if not self._settled and self._nothing_new(queue):
            raise Empty()
        looking, self._looking = self._looking, None
        queue_id = self._queue_id(queue)
        message = self.message_cls
        session = self.session
        taken_before = datetime.datetime.now() - datetime.timedelta(seconds=self.visibility_timeout)
        deliverable = (
            session.query(message)
            .filter(message.queue_id == queue_id)
            .filter(or_(message.visible != False, message.sent_at < taken_before))  # noqa: E712
            .order_by(message.id)
            .limit(1)
        )
        # An idle worker polls often: it looks without the write lock first (WAL readers never
        # block a writer), and takes the lock only when there is something to take.
        if not self._settled and deliverable.first() is None:
            session.commit()
            if looking is not None and looking[0] == queue:
                self._empty[queue] = (looking[1], looking[2])
            raise Empty()
        session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            self._delete_settled()
            row = deliverable.first()
            if row is None:
                raise Empty()
            row.visible = False
            row.sent_at = datetime.datetime.now()  # when it was taken: the visibility clock
            payload = loads(bytes_to_str(row.payload))
            self._rows[payload["properties"]["delivery_tag"]] = row.id
            return payload
        finally:
            session.commit()

    def _delete_settled(self) -> None:
        # Acks may come from other threads than the consuming one: they only queue the row,
        # the consuming thread deletes it inside its next transaction.
        settled, self._settled = self._settled, []
        if settled:
            message = self.message_cls
            self.session.query(message).filter(message.id.in_(settled)).delete(synchronize_session=False)

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple)
        self._settle(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue)
        if not requeue:
            self._settle(delivery_tag)

    def _settle(self, delivery_tag) -> None:
        row = self._rows.pop(delivery_tag, None)
        if row is not None:
            self._settled.append(row)

    def _restore(self, message):
        row = self._rows.pop(message.delivery_tag, None)
        if row is None:
            return super()._restore(message)
        model = self.message_cls
        try:
            self.session.query(model).filter(model.id == row).update(
                {model.visible: True, model.sent_at: None}, synchronize_session=False
            )
            self.session.commit()
        except Exception:
            # Left invisible: the visibility timeout hands it out again.
            self.session.rollback()
            raise

    def close(self):
        if not self.closed and self._settled and self._session is not None:
            try:
                self._delete_settled()
                self.session.commit()
            except Exception:
                self.session.rollback()  # the rows come back after the visibility timeout
        super().close()


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
