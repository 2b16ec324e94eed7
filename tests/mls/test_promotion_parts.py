"""Publishing carries the draft's rooms, units, virtual tours and videos to the live listing
(step PARTS, mls/publishing_parts.py): in order, each once, a branded link paired with its
unbranded one; a lost create answer is adopted from the live list, not sent twice; a refused
part fails the job with words that name it."""

from __future__ import annotations

import pytest

from mls import publishing
from mls.models import Promotion, PromotionPart, PromotionState
from tests.mls.sync_support import add_part, assert_parts_in_sync, drain
from tests.mls.test_promotion import approved, assert_live_equals_draft, publish, reviewer  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def with_parts(approved):  # noqa: F811
    add_part(approved, "room", fields={"RoomName": "Kitchen", "LevelOrFloor": "Main"})
    add_part(approved, "room", fields={"RoomName": "Office", "RoomFeature": ["Fireplace", "Hardwood Floor"]})
    add_part(approved, "tour", name="Walk", url="https://tours.example/1", branded_url="https://b.example/1")
    add_part(
        approved, "video", name="Drone", url="https://vimeo.com/123456", caption="Above", privacy="Public"
    )
    approved.refresh_from_db()
    return approved


def test_publishing_carries_the_parts_to_the_live_listing(sync_env, with_parts, reviewer):  # noqa: F811
    drain(with_parts)
    publishing.start(with_parts, by=reviewer)
    assert publish(with_parts)[-1] == "live", Promotion.objects.get(pk=with_parts.pk).error_message
    listing = assert_live_equals_draft(sync_env, with_parts)
    assert_parts_in_sync(listing, with_parts)
    job = Promotion.objects.get(pk=with_parts.pk)
    assert "parts" in [entry["step"] for entry in job.log]
    assert PromotionPart.objects.filter(promotion=job).exclude(remote_id="").count() == 5
    # Incomplete listing then live one: each record created once on each.
    assert sync_env.count("rooms.create") == 4
    assert sync_env.count("virtualtours.create") == 4


def test_a_lost_answer_while_adding_parts_is_adopted_not_duplicated(sync_env, with_parts, reviewer):  # noqa: F811
    drain(with_parts)
    creates = sync_env.count("rooms.create"), sync_env.count("virtualtours.create")
    sync_env.control.faults(
        {"kind": "drop_after_apply", "routes": ["rooms.create", "virtualtours.create"], "times": 2},
        {"kind": "server_error", "status": 502, "routes": ["videos.create", "rooms.reorder"], "times": 1},
    )
    publishing.start(with_parts, by=reviewer)
    assert publish(with_parts, timeout=60)[-1] == "live", Promotion.objects.get(
        pk=with_parts.pk
    ).error_message
    sync_env.control.clear_faults()
    listing = assert_live_equals_draft(sync_env, with_parts)
    assert_parts_in_sync(listing, with_parts)
    assert sync_env.count("rooms.create") - creates[0] == 2
    assert sync_env.count("virtualtours.create") - creates[1] == 2


def test_a_refused_part_fails_the_job_naming_it(sync_env, with_parts, reviewer):  # noqa: F811
    add_part(with_parts, "room", fields={"RoomName": "Garage"})
    publishing.start(with_parts, by=reviewer)
    assert publish(with_parts)[-1] == "failed"
    job = Promotion.objects.get(pk=with_parts.pk)
    assert job.state == PromotionState.FAILED
    assert job.error_message.startswith("The MLS refused Room 3 (Garage): "), job.error_message
    # The parts before it are on the live listing, once; a retry would resume from there.
    assert PromotionPart.objects.filter(promotion=job, kind="room").exclude(remote_id="").count() == 2


def test_a_unit_left_on_a_residential_draft_is_not_published(sync_env, with_parts, reviewer):  # noqa: F811
    # Added while the draft was multi family, kept after its type changed: not the MLS's.
    add_part(with_parts, "unit", fields={"unit_nbr": "Studio"})
    drain(with_parts)
    publishing.start(with_parts, by=reviewer)
    assert publish(with_parts)[-1] == "live", Promotion.objects.get(pk=with_parts.pk).error_message
    listing = assert_live_equals_draft(sync_env, with_parts)
    assert not listing.get("Units")
    assert_parts_in_sync(listing, with_parts)
    assert sync_env.count("units.create") == 0
