"""The review page and the live listing page in a real browser, at a phone's and a desk's width:
no horizontal overflow (long values wrap), the live gallery's larger view by keyboard, the
review page's one Comment control a row. Screenshots go to $SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drafts.models import Draft, DraftStatus
from mls import publishing
from tests.drafts.conftest import add_required_media
from tests.factories import DraftFactory, OfficeAdminFactory
from tests.mls.sync_support import add_document, add_photo, memory_broker, sync_env  # noqa: F401 (fixtures)

from .conftest import assert_no_page_problems, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
# A value with no place to break, as an MLS id or a pasted link can be.
UNBROKEN = "Sunny-corner-lot-with-a-very-long-description-that-has-no-spaces-at-all-" * 4


# The elements reaching past the window's right edge (or scrolling wider than it), for a report.
WIDER_THAN_THE_WINDOW = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > innerWidth + 1 || el.scrollWidth > innerWidth + 1)
  .slice(0, 8)
  .map((el) => `${el.tagName}.${el.className}#${el.id} ${Math.round(el.getBoundingClientRect().right)}`)"""


def overflow(page) -> int:
    """How many pixels the document is wider than the window (0: none); the offenders are
    printed, for a failure's report."""
    print("wider than the window:", page.evaluate(WIDER_THAN_THE_WINDOW))
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def shoot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


@pytest.fixture
def reviewer(office):
    return OfficeAdminFactory(office=office)


@pytest.fixture
def live_draft(sync_env, agent, reviewer):  # noqa: F811
    draft = DraftFactory(
        list_agent=agent,
        beds_total=3,
        baths_total=2,
        building_area_total=1850,
        year_built=1990,
        public_remarks=UNBROKEN,
        street_name="Longstreetnamewithoutanybreaksforthetest",
    )
    type(agent).objects.filter(pk=agent.pk).update(preferred_phone="701-555-0142", email="pat@example.com")
    for seed, name in enumerate(("Porch", "Den", "Kitchen"), start=7):
        add_photo(draft, by=agent, name=name, seed=seed, caption=f"{name} in the afternoon light")
    add_document(draft, by=agent, name="Disclosure", privacy="Private")
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    publishing.start(draft, by=reviewer)
    assert publishing.run(draft.pk) == "live"
    return draft


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390", "1366"])
def test_the_live_page_fits_and_its_gallery_opens_by_keyboard(browser_page, live_draft, agent, viewport):
    page = browser_page
    page.set_viewport_size(viewport)
    login(page, agent)
    page.goto(_live_url(live_draft))

    assert page.locator("#live-photos [data-gallery-thumb]").count() == 3
    assert page.locator("#live-agent").inner_text().count("701-555-0142") == 1
    page.wait_for_function("() => [...document.images].every((image) => image.complete)")
    assert overflow(page) <= 0
    shoot(page, f"live-{viewport['width']}")

    # A thumbnail shows its photo above; the big photo opens the larger view.
    page.locator("#live-photos [data-gallery-thumb]").nth(1).click()
    assert "Photo 2 of 3: Den" in page.locator("[data-gallery-caption]").inner_text()
    page.focus("[data-gallery-open]")
    page.keyboard.press("Enter")
    dialog = page.locator("[data-gallery-lightbox]")
    assert dialog.evaluate("(d) => d.open")
    assert "Den" in page.locator("[data-lightbox-caption]").inner_text()
    page.keyboard.press("ArrowRight")
    assert "Photo 3 of 3: Kitchen" in page.locator("[data-lightbox-caption]").inner_text()
    page.wait_for_function("() => document.querySelector('[data-lightbox-image]').complete")
    shoot(page, f"live-lightbox-{viewport['width']}")
    page.keyboard.press("Escape")
    assert not dialog.evaluate("(d) => d.open")
    assert_no_page_problems(page)


def _live_url(draft) -> str:
    from django.urls import reverse

    return reverse("mls:live_listing", args=[draft.pk])


@pytest.fixture
def resubmitted(sync_env, agent, reviewer):  # noqa: F811
    """Reviewed once (changes requested), then a photo rotated and a document added."""
    draft = DraftFactory(list_agent=agent, public_remarks=UNBROKEN, beds_total=3, baths_total=2, baths_full=2)
    photos = [
        add_photo(draft, by=agent, name=name, seed=seed)
        for seed, name in enumerate(("Front", "Kitchen"), start=3)
    ]
    add_required_media(draft)  # the documents its type asks for: nothing is missing
    draft.submit(by=agent)
    draft.request_changes(by=reviewer, reason="Turn the kitchen photo the right way up.")
    photos[1].rotate(1, by=agent)
    add_document(draft, by=agent, name="Lead-based paint disclosure")
    draft.refresh_from_db()
    draft.submit(by=agent)
    return draft


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390", "1366"])
def test_the_review_page_fits_and_shows_what_changed(browser_page, resubmitted, reviewer, viewport):
    from django.urls import reverse

    page = browser_page
    page.set_viewport_size(viewport)
    login(page, reviewer)
    page.goto(reverse("drafts:draft_review", args=[resubmitted.pk]))

    changes = page.locator("#review-changes").inner_text()
    assert "Photo 2 (Kitchen): rotated a quarter turn right" in changes
    assert "Lead-based paint disclosure: added" in changes
    assert page.get_by_text("Add a comment").count() == 0
    assert overflow(page) <= 0
    shoot(page, f"review-{viewport['width']}")

    # The empty fields open from their one line; a Comment control opens its form.
    page.locator(".empty-fields > summary").first.click()
    toggle = page.locator(".review-field .comment-toggle").first
    assert float(toggle.evaluate("(t) => getComputedStyle(t).opacity")) == 0  # until hovered or focused
    toggle.focus()
    page.wait_for_function("(t) => getComputedStyle(t).opacity === '1'", arg=toggle.element_handle())
    toggle.click()
    assert page.locator(".review-field .comment-form[open] textarea").first.is_visible()
    assert overflow(page) <= 0
    shoot(page, f"review-open-{viewport['width']}")
    assert_no_page_problems(page)
