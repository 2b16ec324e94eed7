"""Issue 16's story in a real browser, with a real Celery worker behind the live server: the
editor is laid out by the MLS (its lists read from the sandbox), an agent starts a Residential
draft and chooses its sub-type and state by their names, adds two rooms, a virtual tour and a
video, and submits; the office admin approves and publishes. The live listing in the sandbox then
holds the rooms in the agent's order, the tour and the video; an open house the agent schedules
on the live listing page afterwards reaches the sandbox too.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from drafts.models import Draft, DraftStatus, ListingPart
from mls import metadata, remote
from spark.client import ListingRef
from tests.factories import AgentFactory, DocumentFactory, OfficeAdminFactory, PhotoFactory
from tests.sandbox_support import SandboxControl

from .conftest import assert_no_page_problems, login
from .test_editor import all_saved, field_confirmed
from .test_story import admin_publishes, fresh, submit, switch_user
from .worker import CeleryWorker, celery_worker_fixture  # noqa: F401  (provides `celery_worker`)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# Typed as an agent types them; the lists are chosen by their names below.
TYPED = {
    "street_number": "1420",
    "street_name": "Elm",
    "street_suffix": "St",
    "city": "Fargo",
    "postal_code": "58103",
    "year_built": "1995",
    "list_price": "325000",
    "beds_total": "3",
    "baths_total": "2",
    "baths_full": "2",
    "public_remarks": "Quiet street near the river; new roof in 2023, two blocks from the park.",
}
ROOMS = (("Kitchen", "Main", "14", "12"), ("Primary Bedroom", "Upper", "16", "13"))
TOUR = ("3D walk-through", "https://my.matterport.com/show/?m=SxQL3iGyoDo")
VIDEO = ("Neighbourhood video", "https://www.youtube.com/watch?v=dQw4w9WgXcQ")


def agent_fills_the_draft_by_names(page) -> int:
    page.goto("/drafts/")
    page.select_option("#new_property_type", "A")
    with page.expect_navigation():
        page.get_by_role("button", name="New draft").click()
    draft_id = int(re.search(r"/drafts/(\d+)/$", page.url).group(1))
    assert page.locator("#layout-notice").count() == 0, "the editor should be laid out by the MLS"
    for name, value in TYPED.items():
        page.locator(f"#id_{name}").fill(value)
    # Lists by their names, never a code: a long list is searched, a short one is a menu.
    page.locator("#id_state_or_province").fill("North Dakota")
    page.locator("#id_state_or_province").press("Tab")
    page.locator("#id_property_sub_type").select_option(label="Single Family")
    for name, value in TYPED.items():
        field_confirmed(page, name, value)
    field_confirmed(page, "state_or_province", "North Dakota")
    field_confirmed(page, "property_sub_type", "SF")
    all_saved(page)
    saved = fresh(draft_id)
    assert (saved.state_or_province, saved.property_sub_type) == ("ND", "SF")
    return draft_id


def add_room(page, name: str, level: str, length: str, width: str) -> None:
    region = page.locator("#parts-room")
    if region.locator("details.part-add").get_attribute("open") is None:
        region.locator("summary", has_text="Add a room").click()
    page.locator("#id_new-room-RoomName").select_option(label=name)
    page.locator("#id_new-room-LevelOrFloor").select_option(label=level)
    page.locator("#id_new-room-Length").fill(length)
    page.locator("#id_new-room-Width").fill(width)
    added = region.locator(".part-title").count() + 1
    region.get_by_role("button", name="Add room").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('#parts-room .part-title').length === n", arg=added
    )


def add_link(page, kind: str, noun: str, name: str, link: str) -> None:
    region = page.locator(f"#parts-{kind}")
    if region.locator("details.part-add").get_attribute("open") is None:
        region.locator("summary", has_text=f"Add a {noun}").click()
    page.fill(f"#id_new-{kind}-name", name)
    page.fill(f"#id_new-{kind}-url", link)
    region.get_by_role("button", name=f"Add {noun}").click()
    page.locator(f"#parts-{kind} .notice", has_text=f"Added {noun} {name}").wait_for()


def agent_adds_rooms_tour_and_video(page, draft_id: int) -> None:
    for room in ROOMS:
        add_room(page, *room)
    assert page.locator("#parts-room .part-title").all_inner_texts() == [room[0] for room in ROOMS]
    add_link(page, "tour", "virtual tour", *TOUR)
    add_link(page, "video", "video", *VIDEO)
    kinds = list(
        ListingPart.objects.filter(draft_id=draft_id)
        .order_by("kind", "position")
        .values_list("kind", flat=True)
    )
    assert sorted(kinds) == ["room", "room", "tour", "video"]


def admin_approves(page, admin, draft_id: int) -> None:
    switch_user(page, admin, f"/drafts/{draft_id}/review/")
    # The reviewer sees the rooms and the links before deciding.
    body = page.locator("main").inner_text()
    assert "Kitchen" in body and "Primary Bedroom" in body and TOUR[0] in body and VIDEO[0] in body
    with page.expect_navigation():
        page.locator("#review-decision").get_by_role("button", name="Approve").click()
    assert fresh(draft_id).status == DraftStatus.APPROVED


def live_parts(sandbox: SandboxControl, listing_id: str) -> dict:
    listings = [listing for listing in sandbox.state()["listings"] if listing["Id"] == listing_id]
    assert len(listings) == 1, sandbox.state()["listings"]
    return listings[0]


def agent_schedules_an_open_house(page, agent, draft: Draft, worker: CeleryWorker) -> list[dict]:
    switch_user(page, agent, f"/sync/drafts/{draft.pk}/live/")
    day = dt.date.today() + dt.timedelta(days=3)
    form = page.locator("#open-house-form")
    form.locator("input[name=date]").fill(day.isoformat())
    form.locator("input[name=start]").fill("10:00")
    form.locator("input[name=end]").fill("12:00")
    form.locator("textarea[name=comments]").fill("Coffee on the porch.")
    form.get_by_role("button", name="Schedule").click()
    page.locator("#open_houses .open-house").first.wait_for()
    # The worker pushes it; the region polls until it is in the MLS.
    api = remote.client()
    deadline = time.monotonic() + 30
    while True:
        found = api.list_open_houses(draft.live_listing_id).results
        if found:
            break
        worker.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"the open house never reached the MLS\n{worker.log_tail('worker')}")
        time.sleep(0.25)
    page.locator("#open_houses .open-house[data-state=synced]").wait_for(timeout=15_000)
    assert found[0]["Date"] == day.strftime("%m/%d/%Y")
    return found


def test_a_draft_with_rooms_and_links_goes_live_and_gets_an_open_house(
    browser_page, live_server, office, celery_worker
):
    worker = celery_worker
    sandbox = SandboxControl(f"{live_server.url}/sandbox")
    sandbox.reset()
    assert not metadata.refresh().failed  # the worker fixture points the client at this sandbox
    agent = AgentFactory(office=office, first_name="Ada", last_name="Agent")
    admin = OfficeAdminFactory(office=office, first_name="Olga", last_name="Admin")
    page = browser_page

    login(page, agent)
    draft_id = agent_fills_the_draft_by_names(page)
    agent_adds_rooms_tour_and_video(page, draft_id)
    page.locator("#readiness-gaps .gap-link[data-focus-field]").first.wait_for(state="detached")
    # Submitting waits for a photo and the Seller's Disclosure too (drafts/readiness.py); this
    # story is about the parts, so they come from the factories (real files the worker sends).
    PhotoFactory(draft=fresh(draft_id), by=agent, stored=True)
    DocumentFactory(draft=fresh(draft_id), by=agent, name="Seller's Disclosure", stored=True)
    submit(page, draft_id, "Submit for review")
    admin_approves(page, admin, draft_id)
    admin_publishes(page, draft_id, worker)
    draft = fresh(draft_id)
    assert draft.status == DraftStatus.LIVE

    listing = live_parts(sandbox, draft.live_listing_id)
    rooms = sorted(listing["Rooms"], key=lambda room: room["Order"])
    assert [(room["Fields"]["RoomName"], room["Fields"]["LevelOrFloor"]) for room in rooms] == [
        (name, level) for name, level, _length, _width in ROOMS
    ]
    assert [(tour["Name"], tour["Uri"], tour["Type"]) for tour in listing["VirtualTours"]] == [
        (*TOUR, "unbranded")
    ]
    videos = listing["Videos"]
    assert [(video["Name"], video["Type"]) for video in videos] == [(VIDEO[0], "unbranded")]
    assert "youtube.com/embed/dQw4w9WgXcQ" in videos[0]["ObjectHtml"]
    # Nothing twice on the live listing, and the incomplete listing is gone.
    assert sandbox.state()["incomplete_listings"] == []

    # The live listing page shows them as well.
    page.goto(f"/sync/drafts/{draft_id}/live/")
    live_text = page.locator("main").inner_text()
    assert "Kitchen" in live_text and TOUR[0] in live_text and VIDEO[0] in live_text

    open_houses = agent_schedules_an_open_house(page, agent, draft, worker)
    assert [(item["StartTime"], item["EndTime"], item["Comments"]) for item in open_houses] == [
        ("10:00 AM", "12:00 PM", "Coffee on the porch.")
    ]
    # Its own listing in the MLS carries it as well: one, not two.
    assert len(remote.client().list_open_houses(draft.live_listing_id).results) == 1
    assert ListingRef.for_listing(draft.live_listing_id).incomplete is False
    assert_no_page_problems(page)
