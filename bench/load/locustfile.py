"""The users of a busy office, for bench/load/run.py (locust headless; not run by the suite).

The run script seeds the office and signs every user in ahead of time (a session cookie per
user in the plan file named by LOAD_PLAN), so the timed run spends nothing on password hashing.
Three kinds of user, in fixed numbers:

- AgentEditing: opens their draft's editor, then autosaves a field every 2-5 s, as the editor
  does when someone types and pauses, and 150 ms after each save that changed the draft
  re-reads the rules panel, as the editor's htmx does on `draft-saved`; now and then loads a
  page (the drafts list, the editor).
- AgentUploading: uploads 5 photos of 12 MP to their own draft, one after another, as the
  photo page does, then stays on the page polling the grid.
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
from pathlib import Path

from locust import HttpUser, between, events, task
from locust.runners import MasterRunner

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
        self.headers = {"X-CSRFToken": who["csrf"], "Referer": self.host + "/", "HX-Request": "true"}


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
        self.client.get(f"/drafts/{self.draft}/rules/", headers=self.headers, name="rules after save")

    @task(1)
    def load_a_page(self) -> None:
        if random.random() < 0.5:
            self.client.get("/drafts/", name="page: drafts list")
        else:
            self.open_editor()


class AgentUploading(PortalUser):
    wait_time = between(1, 3)
    fixed_count = len(PLAN["uploaders"])

    def on_start(self) -> None:
        me = PLAN["uploaders"][next(_uploaders) % len(PLAN["uploaders"])]
        self.signed_in(me)
        self.draft = me["draft"]
        self.sent = 0
        self.client.get(f"/drafts/{self.draft}/media/", name="page: photos")

    @task
    def upload_or_watch(self) -> None:
        if self.sent >= PLAN["photos_each"]:
            self.client.get(
                f"/drafts/{self.draft}/media/photos/", name="photo grid poll", headers=self.headers
            )
            return
        photo = PLAN["photos"][self.sent % len(PLAN["photos"])]
        self.sent += 1
        with open(photo, "rb") as body:
            files = {"file": (f"IMG_{4100 + self.sent}.jpg", body, "image/jpeg")}
            with self.client.post(
                f"/drafts/{self.draft}/media/photos/upload/",
                files=files,
                headers=self.headers,
                name="upload 12 MP photo",
                catch_response=True,
            ) as answer:
                if answer.status_code >= 400:
                    answer.failure(f"upload answered {answer.status_code}")


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
            f"/drafts/{draft}/approve/", headers=self.headers, name="approve", catch_response=True
        ) as answer:
            if answer.status_code >= 500:
                answer.failure(f"approve answered {answer.status_code}")
            elif answer.status_code >= 400:
                answer.success()  # refused with a reason (not ready): counted, not an error
                return
        with self.client.post(
            f"/sync/drafts/{draft}/publish/", headers=self.headers, name="publish", catch_response=True
        ) as answer:
            if answer.status_code >= 500:
                answer.failure(f"publish answered {answer.status_code}")
            else:
                answer.success()


@events.init.add_listener
def _single_process(environment, **_kwargs) -> None:
    assert not isinstance(environment.runner, MasterRunner), "run it as one process"
