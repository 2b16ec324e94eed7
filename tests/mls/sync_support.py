"""Fixtures and helpers of the sync tests: drafts with processed photos and documents, the
sandbox (in the live server) as the remote, a push loop that honours back-off, and the
comparison of local and remote state. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from drafts.models import Draft, ListingPart
from drafts.models.parts import sent_to_mls
from media_manager.models import Document, Photo
from mls import enqueue, push
from mls.models import DraftSync
from tests.factories import DocumentFactory, PhotoFactory
from tests.mls.worker_harness import PART_COLLECTIONS, jpeg_bytes, part_view, pdf_bytes, remote_parts_view
from tests.sandbox_support import SANDBOX_CONTROL_TOKEN, SANDBOX_TOKEN, SandboxControl


def add_photo(draft: Draft, *, by, name: str, seed: int, caption: str = "") -> Photo:
    """A photo as the media manager makes it (PhotoFactory), processed: its master in storage, ready."""
    photo = PhotoFactory(draft=draft, by=by, original_name=f"{name}.jpg", data=jpeg_bytes(seed, (400, 300)))
    finish_processing(photo, seed)
    if caption or photo.name != name:
        photo.update_text(name=name, caption=caption, by=by)
    photo.refresh_from_db()
    return photo


def finish_processing(photo: Photo, seed: int) -> None:
    claimed = Photo.claim_for_processing(photo.pk)
    assert claimed is not None
    master = jpeg_bytes(seed + 1000)
    master_name = default_storage.save(f"masters/{uuid.uuid4().hex}.jpg", ContentFile(master))
    assert claimed.finish_processing(
        image_version=claimed.image_version,
        master_name=master_name,
        variant_names={},
        width=320,
        height=240,
        sha256=hashlib.sha256(master).hexdigest(),
        phash=None,
    )


def add_document(draft: Draft, *, by, name: str, privacy: str = "Private") -> Document:
    return DocumentFactory(draft=draft, by=by, name=name, privacy=privacy, data=pdf_bytes(name))


def add_part(draft: Draft, kind: str, **values: Any) -> ListingPart:
    """A room, unit, tour or video appended to the draft's parts of its kind, as the editor
    adds one (the draft marked changed in the same transaction)."""
    with transaction.atomic():
        position = ListingPart.objects.filter(draft=draft, kind=kind).count()
        part = ListingPart.objects.create(draft=draft, kind=kind, position=position, **values)
        draft.mark_changed()
    return part


def change_part(part: ListingPart, **values: Any) -> None:
    with transaction.atomic():
        ListingPart.objects.filter(pk=part.pk).update(updated_at=timezone.now(), **values)
        part.draft.mark_changed()
    part.refresh_from_db()


def remove_part(part: ListingPart) -> None:
    with transaction.atomic():
        part.delete()
        for position, other in enumerate(ListingPart.objects.filter(draft=part.draft, kind=part.kind)):
            ListingPart.objects.filter(pk=other.pk).update(position=position)
        part.draft.mark_changed()


def reorder_parts(draft: Draft, kind: str, order: list[ListingPart]) -> None:
    with transaction.atomic():
        for position, part in enumerate(order):
            ListingPart.objects.filter(pk=part.pk).update(position=position)
        draft.mark_changed()


def local_parts_view(draft: Draft) -> dict[str, list[Any]]:
    """Per kind, the records the remote should hold for the draft's parts, in order."""
    view: dict[str, list[Any]] = {kind: [] for kind in PART_COLLECTIONS}
    parts = ListingPart.objects.filter(draft=draft).order_by("kind", "position", "pk")
    # Units left on a draft that is no longer multi family stay out of the MLS.
    for part in sent_to_mls(parts, draft.property_type):
        for _variant, attributes in part.remote_records():
            view[part.kind].append(part_view(part.kind, attributes))
    return view


def assert_parts_in_sync(listing: dict[str, Any], draft: Draft) -> None:
    """The remote's rooms, units, tours and videos equal the draft's, in order, each once, and
    each branded link paired (same GroupId) with its unbranded one."""
    assert remote_parts_view(listing) == local_parts_view(draft)
    for key in ("VirtualTours", "Videos"):
        records = listing.get(key) or []
        groups: dict[str, list[str]] = {}
        for record in records:
            groups.setdefault(record["GroupId"], []).append(record["Type"])
        branded = [record for record in records if record["Type"] == "branded"]
        for record in branded:
            # A branded record shares its group only with its own unbranded twin.
            assert sorted(groups[record["GroupId"]]) in (["branded"], ["branded", "unbranded"])
        parts = ListingPart.objects.filter(draft=draft, kind="tour" if key == "VirtualTours" else "video")
        both = sum(1 for part in parts if part.url and part.branded_url)
        paired = sum(1 for types in groups.values() if sorted(types) == ["branded", "unbranded"])
        assert paired == both, (key, groups)


@dataclass
class SyncEnv:
    control: SandboxControl
    base_url: str

    def remote(self, draft: Draft) -> dict[str, Any] | None:
        draft.refresh_from_db()
        for listing in self.control.state()["incomplete_listings"]:
            if listing["Id"] == draft.remote_id:
                return listing
        return None

    def count(self, route: str) -> int:
        return self.control.count(route)

    def calls(self) -> int:
        return sum(self.control.calls()["counts"].values())

    def fault_rules(self) -> list[dict[str, Any]]:
        return self.control._check(self.control.http.get(self.control._url("faults"), timeout=10))["rules"]

    def wait_for_hung_calls(self, timeout: float = 30.0) -> None:
        """Until every request the sandbox made hang has answered (it is journaled then): one
        still sleeping would land in the next test, in its calls and its listings."""
        hung = sum(rule["injected"] for rule in self.fault_rules() if rule["kind"] == "hang")
        deadline = time.monotonic() + timeout
        while hung and time.monotonic() < deadline:
            journal = self.control.calls()["journal"]
            if sum(1 for call in journal if call["fault"] == "hang") >= hung:
                return
            time.sleep(0.1)


@pytest.fixture
def memory_broker():
    """Task messages go to kombu's in-memory transport: these tests drive pushes themselves."""
    from listings_portal.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "memory://"
    app._pool = None
    yield
    app.conf.broker_url = old
    app._pool = None


@pytest.fixture
def own_doorbell() -> Iterator[enqueue.Doorbell]:
    """The sync doorbell rung for one test only, its thread publishing through a Celery app of
    its own to the in-memory broker. The process-wide doorbell's thread publishes through the
    project app, whose pools `memory_broker` swaps under it: a publish caught by the swap could
    leave that thread stuck, and a later test waiting on it time out."""
    from celery import Celery

    app = Celery("sync-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = "memory://"
    app.conf.broker_transport_options = {}
    bell = enqueue.doorbell_for(app, retry_pause=0.2)
    with enqueue.using(bell):
        yield bell
    bell.flush(timeout=5)
    app.close()


@pytest.fixture
def sync_env(sandbox_live_server, settings, tmp_path, memory_broker) -> SyncEnv:
    live_server = sandbox_live_server
    settings.SPARK_SANDBOX_CONTROL_ENABLED = True
    settings.SPARK_SANDBOX_CONTROL_TOKEN = SANDBOX_CONTROL_TOKEN
    settings.SPARK_API_URL = f"{live_server.url}/sandbox"
    settings.SPARK_ACCESS_TOKEN = SANDBOX_TOKEN
    settings.SPARK_READ_TIMEOUT = 2.0
    settings.SPARK_CONNECT_TIMEOUT = 2.0
    settings.SPARK_RATE_LIMIT_PER_SECOND = 1000.0
    settings.SYNC_REDIS_URL = ""
    settings.VAR_DIR = tmp_path
    settings.SYNC_BACKOFF_BASE_SECONDS = 0.05
    settings.SYNC_BACKOFF_CAP_SECONDS = 0.5
    settings.SYNC_AMBIGUOUS_SETTLE_SECONDS = 3.0
    settings.SYNC_LEASE_SECONDS = 30.0
    settings.SYNC_ORDER_SETTLE_SECONDS = 0.3
    settings.SYNC_EDIT_SETTLE_SECONDS = 0.3
    settings.SYNC_ENQUEUE_ENABLED = False
    control = SandboxControl(settings.SPARK_API_URL)
    control.reset()
    env = SyncEnv(control, settings.SPARK_API_URL)
    yield env
    env.wait_for_hung_calls()
    control.clear_faults()


def drain(draft: Draft | int, *, timeout: float = 30.0) -> list[push.Outcome]:
    """Push until nothing is left to do, waiting out back-off as a worker would."""
    draft_id = draft if isinstance(draft, int) else draft.pk
    outcomes: list[push.Outcome] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = push.push_draft(draft_id)
        outcomes.append(outcome)
        finished = outcome in (push.Outcome.SYNCED, push.Outcome.NOTHING) and not push.needs_push(draft_id)
        if finished or outcome in (push.Outcome.FAILED, push.Outcome.ATTENTION, push.Outcome.GONE):
            if isinstance(draft, Draft):
                draft.refresh_from_db()
            return outcomes
        if outcome in (push.Outcome.SYNCED, push.Outcome.NOTHING):
            continue
        row = DraftSync.objects.get(pk=draft_id)
        if row.next_attempt_at is not None:
            wait = (row.next_attempt_at - timezone.now()).total_seconds()
            time.sleep(min(max(wait, 0.0), 5.0) + 0.01)
    raise AssertionError(f"draft {draft_id} did not settle within {timeout}s: {outcomes[-5:]}")


def local_view(draft: Draft) -> dict[str, Any]:
    """What the remote should hold for `draft`, in the shape of the sandbox's state dump."""
    draft.refresh_from_db()
    photos = Photo.objects.active().filter(draft=draft).order_by("position")
    documents = Document.objects.active().filter(draft=draft).order_by("position")
    return {
        "fields": draft.spark_fields(),
        "photos": [(p.name, p.caption, p.is_primary, p.sha256, p.upload_token.hex) for p in photos],
        "documents": [(d.name, d.privacy, d.sha256, d.upload_token.hex) for d in documents],
    }


def remote_view(listing: dict[str, Any]) -> dict[str, Any]:
    photos = sorted(listing["Photos"], key=lambda p: p["Order"])
    documents = sorted(listing["Documents"], key=lambda d: d["Order"])
    return {
        "fields": listing["StandardFields"],
        "photos": [
            (p["Name"], p["Caption"], p["Primary"], p["sha256"], p["FileName"].split(".")[0]) for p in photos
        ],
        "documents": [(d["Name"], d["Privacy"], d["sha256"], d["FileName"].split(".")[0]) for d in documents],
    }


def assert_in_sync(env: SyncEnv, draft: Draft) -> None:
    """Remote == local: fields, photos (order, names, captions, primary, bytes), documents
    (order, names, privacy, bytes); exactly one remote listing for the draft."""
    listing = env.remote(draft)
    assert listing is not None, "no remote listing"
    local, remote = local_view(draft), remote_view(listing)
    for name, value in local["fields"].items():
        if name == "CustomFields":
            continue
        assert remote["fields"].get(name) == value, (name, remote["fields"].get(name), value)
    assert remote["photos"] == local["photos"]
    assert remote["documents"] == local["documents"]
    assert_parts_in_sync(listing, draft)
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.confirmed_seq == draft.change_seq
    assert row.display_state(draft.change_seq) == "synced"
