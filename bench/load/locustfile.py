"""The users of a busy office, for bench/load/run.py (locust headless; not run by the suite).

The run script seeds the office and signs every user in ahead of time (a session cookie per
user in the plan file named by LOAD_PLAN), so the timed run spends nothing on password hashing.
Three kinds of user, in fixed numbers:

- AgentEditing: opens their draft's editor, then autosaves a field every 2-5 s, as the editor
  does when someone types and pauses, and 150 ms after each save that changed the draft
  re-reads the rules panel, as the editor's htmx does on `draft-saved`; now and then loads a
  page (the drafts list, the editor).
- AgentUploading: uploads 5 photos of 12 MP to their own draft as the photo page's uploader
  sends them: 4 at a time, asking for JSON, with the file's key and its batch, over an uplink
  of the plan's `upload_bytes_per_second` (shared by the 4; none: the loopback's speed),
  refreshing the grid after each; then stays on the page polling the grid.
- AdminReviewing: opens the review queue, a submitted draft's review page, approves it and
  publishes it to the MLS, then takes the next.

Every request also goes to LOAD_LOG (one tab-separated line each: the clock, its name, its
latency in ms, 1 or 0 for success), which run.py reads for its percentiles.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
import uuid
from pathlib import Path

import gevent.pool
from locust import HttpUser, between, events, task
from locust.runners import MasterRunner
from urllib3 import encode_multipart_formdata

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
LOG = os.environ.get("LOAD_LOG", "")
_saves_lock = threading.Lock()
_agents = itertools.count()
_uploaders = itertools.count()
_admins = itertools.count()
_review_pool = iter(PLAN["review_drafts"])
_pool_lock = threading.Lock()
VERSION = re.compile(r'name="version" value="(\d+)"')
SEEN = re.compile(r'name="seen_value" value="([^"]*)"')
# The editor re-reads its rules this long after a save (hx-trigger "draft-saved ... delay:150ms").
RULES_DELAY_SECONDS = 0.15
# The photo page refreshes its grid this long after an upload is accepted (media.js).
GRID_REFRESH_DELAY_SECONDS = 0.4
# The photo page's uploader sends this many files at once (POOL_SIZE in static/js/media.js).
UPLOADS_AT_ONCE = 4


@events.request.add_listener
def _log_request(request_type, name, response_time, response_length, exception=None, **_kwargs) -> None:
    """Every request, one line: the clock, its name, its latency in ms and whether it succeeded."""
    if not LOG:
        return
    with _saves_lock, open(LOG, "a") as log:
        log.write(f"{time.time():.3f}\t{name}\t{response_time:.2f}\t{0 if exception else 1}\n")


class PortalUser(HttpUser):
    abstract = True

    def signed_in(self, who: dict) -> None:
        self.client.cookies.set("sessionid", who["session"])
        self.client.cookies.set("csrftoken", who["csrf"])
        self.headers = {
            "X-CSRFToken": who["csrf"],
            "Referer": self.host + "/",
            "HX-Request": "true",
        }


class AgentEditing(PortalUser):
    wait_time = between(2, 5)
    fixed_count = len(PLAN["editors"])

    def on_start(self) -> None:
        me = PLAN["editors"][next(_agents) % len(PLAN["editors"])]
        self.signed_in(me)
        self.draft = me["draft"]
        self.edits = 0
        self.open_editor()

    def open_editor(self) -> None:
        with self.client.get(f"/drafts/{self.draft}/", name="page: editor", catch_response=True) as answer:
            match = VERSION.search(answer.text or "")
            if answer.status_code != 200 or not match:
                answer.failure(f"editor answered {answer.status_code}")
                return
            self.version = int(match.group(1))
            self.seen = ""

    @task(12)
    def autosave(self) -> None:
        self.edits += 1
        value = f"Well kept home close to parks and schools. Edit {self.edits} by the agent."
        changed = False
        with self.client.post(
            f"/drafts/{self.draft}/fields/public_remarks/",
            data={"value": value, "version": self.version, "seen_value": self.seen},
            headers=self.headers,
            name="autosave",
            catch_response=True,
        ) as answer:
            if answer.status_code == 200:
                self.version = int(VERSION.search(answer.text).group(1))
                seen = SEEN.search(answer.text)
                self.seen = seen.group(1) if seen else value
                changed = "draft-saved" in answer.headers.get("HX-Trigger", "")
            elif answer.status_code == 409:  # someone else changed it: take the newest version
                answer.failure("409 stale edit")
                self.open_editor()
            else:
                answer.failure(f"autosave answered {answer.status_code}")
        if answer.status_code == 200 and changed:
            self.reread_rules()

    def reread_rules(self) -> None:
        """What the editor does after a save that changed the draft: its `draft-saved` event
        makes the side panel re-read the rules 150 ms later (hx-trigger in drafts/draft_edit.html)."""
        time.sleep(RULES_DELAY_SECONDS)  # gevent's sleep under locust: the user waits, nothing blocks
        self.client.get(
            f"/drafts/{self.draft}/rules/",
            headers=self.headers,
            name="rules after save",
        )

    @task(1)
    def load_a_page(self) -> None:
        if random.random() < 0.5:
            self.client.get("/drafts/", name="page: drafts list")
        else:
            self.open_editor()


class Uplink:
    """An upload's body as it leaves an agent's computer: `bytes_per_second` at most (None: as
    fast as the loopback takes it). http.client sends a file-like body in 8 KiB reads, so the
    server receives it piece by piece, as it would over the agent's uplink."""

    def __init__(self, body: bytes, bytes_per_second: float | None) -> None:
        self.body, self.sent, self.rate = body, 0, bytes_per_second
        self.began = time.monotonic()

    def __len__(self) -> int:  # requests sends a Content-Length, as a browser does
        return len(self.body)

    def __iter__(
        self,
    ):  # what requests takes for a streamed body; http.client calls read()
        while piece := self.read(8192):
            yield piece

    def read(self, size: int = -1) -> bytes:
        size = len(self.body) - self.sent if size is None or size < 0 else size
        piece = self.body[self.sent : self.sent + size]
        self.sent += len(piece)
        if self.rate and piece:
            ahead = self.began + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # gevent's sleep: the other users go on
        return piece


class AgentUploading(PortalUser):
    wait_time = between(1, 3)
    fixed_count = len(PLAN["uploaders"])

    def on_start(self) -> None:
        me = PLAN["uploaders"][next(_uploaders) % len(PLAN["uploaders"])]
        self.signed_in(me)
        self.draft = me["draft"]
        self.keys = [str(uuid.uuid4()) for _ in range(PLAN["photos_each"])]
        self.sent_all = False
        # Not all at the sign-on: each agent drops their photos at a moment of their own, after
        # the office has settled (run.py counts percentiles from then on).
        time.sleep(random.uniform(*PLAN.get("uploads_begin_within", (0, 0))))
        self.client.get(f"/drafts/{self.draft}/media/", name="page: photos")

    @task
    def upload_or_watch(self) -> None:
        if self.sent_all:
            self.refresh_grid()  # the grid polls every 2 s while photos are processing
            return
        # The photos chosen together go UPLOADS_AT_ONCE at a time (media.js's POOL_SIZE), the
        # agent's uplink shared between them.
        pool = gevent.pool.Pool(UPLOADS_AT_ONCE)
        pool.map(self.upload, range(PLAN["photos_each"]))
        self.sent_all = True

    def upload(self, index: int) -> None:
        photo = Path(PLAN["photos"][index % len(PLAN["photos"])]).read_bytes()
        # As static/js/media.js sends it: JSON asked for (the answer is the file's outcome, not
        # a redirect to the whole media page), the file's key and the batch it was chosen in.
        fields = {
            "client_key": self.keys[index],
            "batch": ",".join(self.keys),
            "file": (f"IMG_{4100 + index}.jpg", photo, "image/jpeg"),
        }
        body, content_type = encode_multipart_formdata(fields)
        rate = PLAN.get("upload_bytes_per_second") or None
        headers = {
            **self.headers,
            "Accept": "application/json",
            "Content-Type": content_type,
        }
        del headers["HX-Request"]  # an XMLHttpRequest of its own, not htmx
        with self.client.post(
            f"/drafts/{self.draft}/media/photos/upload/",
            data=Uplink(body, rate / UPLOADS_AT_ONCE if rate else None),
            headers=headers,
            name="upload 12 MP photo",
            catch_response=True,
        ) as answer:
            if answer.status_code >= 400:
                answer.failure(f"upload answered {answer.status_code}")
                return
        time.sleep(GRID_REFRESH_DELAY_SECONDS)
        self.refresh_grid()  # "photos-changed" after an accepted upload

    def refresh_grid(self) -> None:
        self.client.get(
            f"/drafts/{self.draft}/media/photos/",
            name="photo grid",
            headers=self.headers,
        )


class AdminReviewing(PortalUser):
    wait_time = between(3, 8)
    fixed_count = len(PLAN["admins"])

    def on_start(self) -> None:
        me = PLAN["admins"][next(_admins) % len(PLAN["admins"])]
        self.signed_in(me)

    @task
    def review_one(self) -> None:
        self.client.get("/drafts/review/", name="page: review queue")
        with _pool_lock:
            draft = next(_review_pool, None)
        if draft is None:
            self.client.get("/drafts/", name="page: drafts list")
            return
        self.client.get(f"/drafts/{draft}/review/", name="page: review")
        with self.client.post(
            f"/drafts/{draft}/approve/",
            headers=self.headers,
            name="approve",
            catch_response=True,
        ) as answer:
            if answer.status_code >= 500:
                answer.failure(f"approve answered {answer.status_code}")
            elif answer.status_code >= 400:
                answer.success()  # refused with a reason (not ready): counted, not an error
                return
        with self.client.post(
            f"/sync/drafts/{draft}/publish/",
            headers=self.headers,
            name="publish",
            catch_response=True,
        ) as answer:
            if answer.status_code >= 500:
                answer.failure(f"publish answered {answer.status_code}")
            else:
                answer.success()


@events.init.add_listener
def _single_process(environment, **_kwargs) -> None:
    assert not isinstance(environment.runner, MasterRunner), "run it as one process"
