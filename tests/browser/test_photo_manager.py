"""The photo manager in a real browser (issue 18): uploads keep the order chosen whatever
order they finish in; the lightbox by keyboard; select several and delete; the page at phone,
tablet and desktop widths without overflow."""

from __future__ import annotations

import os
import time

import pytest

from listings_portal.celery import app as celery_app
from media_manager.models import Photo
from tests.factories import DocumentFactory, DraftFactory, PhotoFactory
from tests.media_manager.media_helpers import jpeg_bytes, mark_processed, small_jpeg

from .conftest import assert_no_page_problems, login

pytestmark = [pytest.mark.browser]

SHOTS_DIR = os.environ.get("PHOTO_SHOTS_DIR", "")


@pytest.fixture
def eager_celery():
    """Photos are processed inside the upload request (no worker in this test)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _screen_order(page) -> list[int]:
    return [
        int(pk)
        for pk in page.eval_on_selector_all(
            "#photo-list > [data-id]", "(items) => items.map((i) => i.dataset.id)"
        )
    ]


def _db_order(draft) -> list[int]:
    return list(Photo.objects.active().filter(draft=draft).order_by("position").values_list("pk", flat=True))


def _ready_photos(draft, count: int) -> list[Photo]:
    photos = []
    for index in range(count):
        photo = PhotoFactory(draft=draft, original_name=f"Room {index + 1}.jpg")
        photos.append(mark_processed(photo, data=jpeg_bytes(640, 480, seed=index + 1)))
    return photos


def _pump_until(page, condition, timeout: float = 30.0) -> None:
    """Let Playwright deliver events (route handlers run then) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


@pytest.mark.usefixtures("eager_celery")
def test_uploads_keep_the_order_chosen_whatever_order_they_finish(browser_page, agent, tmp_path):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
    held: dict[str, object] = {}

    def hold(route):
        body = route.request.post_data_buffer or b""
        name = next(f"IMG_410{n}" for n in range(1, 7) if f'filename="IMG_410{n}.jpg"'.encode() in body)
        held[name] = route

    page.route("**/photos/upload/", hold)
    paths = []
    for n in range(1, 7):
        path = tmp_path / f"IMG_410{n}.jpg"
        path.write_bytes(small_jpeg(seed=80 + n))
        paths.append(str(path))
    page.set_input_files("#photo-files", paths)

    def release(name: str) -> None:
        _pump_until(page, lambda: name in held)
        held.pop(name).continue_()
        finished = ".upload-item.is-accepted, .upload-item.is-warning"
        done = len(page.query_selector_all(finished)) + 1
        page.wait_for_function(
            "([selector, n]) => document.querySelectorAll(selector).length >= n", arg=[finished, done]
        )

    # Four go at once (the uploader's pool); they finish 4, 3, 1, 2, then 6 before 5.
    for name in ("IMG_4104", "IMG_4103", "IMG_4101", "IMG_4102", "IMG_4106", "IMG_4105"):
        release(name)

    page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 6")
    names = page.eval_on_selector_all(
        "#photo-list > [data-id]", "(items) => items.map((i) => i.dataset.name)"
    )
    assert names == [f"IMG 410{n}" for n in range(1, 7)]  # the name drops the underscore
    assert _screen_order(page) == _db_order(draft)
    first = Photo.objects.get(pk=_db_order(draft)[0])
    assert first.is_primary and first.original_name == "IMG_4101.jpg"
    page.wait_for_selector(f"#photo-{first.pk} .badge-primary")
    assert_no_page_problems(page)


def test_lightbox_by_keyboard_edits_name_and_caption(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    first, second, _third = _ready_photos(draft, 3)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")

    page.focus(f"#photo-{first.pk} [data-lightbox-open]")
    page.keyboard.press("Enter")
    dialog = page.locator("#photo-lightbox")
    dialog.wait_for(state="visible")
    assert dialog.get_attribute("aria-modal") == "true"
    assert page.locator("#lightbox-title").text_content() == "Photo 1 of 3 (primary)"
    assert page.input_value("#lightbox-name") == "Room 1"

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('lightbox-title').textContent === 'Photo 2 of 3'")
    assert page.input_value("#lightbox-name") == "Room 2"

    # Tab stays inside the dialog (it is modal), and reaches the caption.
    page.focus("#lightbox-caption")
    page.keyboard.type("Bright corner room")
    assert page.locator("#lightbox-caption-count").text_content() == "18 / 1000"
    # Arrows inside a text field move the caret, not the photo.
    page.keyboard.press("ArrowLeft")
    assert page.locator("#lightbox-title").text_content() == "Photo 2 of 3"

    # A name too long for the MLS is refused with the field named.
    page.fill("#lightbox-name", "")
    page.locator(".lightbox-form").get_by_role("button", name="Save").click()
    page.wait_for_function(
        "() => document.querySelector('[data-lightbox-status]').textContent.startsWith('Name:')"
    )
    assert page.get_attribute("#lightbox-name", "aria-invalid") == "true"
    page.fill("#lightbox-name", "Corner bedroom")

    # Esc saves what was typed, closes, and gives the focus back to the photo's card.
    page.focus("#lightbox-caption")
    with page.expect_response(lambda response: f"/photos/{second.pk}/" in response.url) as reply:
        page.keyboard.press("Escape")
    assert reply.value.status == 200
    dialog.wait_for(state="hidden")
    page.wait_for_function(
        "(id) => document.activeElement && document.activeElement.id === id", arg=f"photo-{second.pk}"
    )
    second.refresh_from_db()
    assert (second.name, second.caption) == ("Corner bedroom", "Bright corner room")
    # Enter on the focused card opens it again; Esc with nothing typed just closes.
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    assert page.locator("#lightbox-title").text_content() == "Photo 2 of 3"
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    page.wait_for_function(
        "(id) => document.querySelector(`#photo-${id} .photo-name`).textContent === 'Corner bedroom'",
        arg=second.pk,
    )
    assert_no_page_problems(page, ignore=("422",))


def test_select_several_and_delete_them(browser_page, agent):
    draft = DraftFactory(list_agent=agent)
    photos = _ready_photos(draft, 4)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")

    delete = page.get_by_role("button", name="Delete selected")
    assert delete.is_disabled()
    page.check(f"#photo-{photos[1].pk}-select")
    page.check(f"#photo-{photos[3].pk}-select")
    assert page.locator("[data-bulk-count]").text_content() == "2 selected"
    with page.expect_response(lambda response: "/photos/delete/" in response.url) as reply:
        delete.click()
    assert reply.value.status == 200
    page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 2")
    assert _screen_order(page) == [photos[0].pk, photos[2].pk] == _db_order(draft)
    assert Photo.objects.in_trash().filter(draft=draft).count() == 2

    # Select all, then move: the whole set keeps its order; the count resets after the grid redraws.
    page.check("[data-select-all]")
    assert page.locator("[data-bulk-count]").text_content() == "2 selected"
    page.uncheck(f"#photo-{photos[0].pk}-select")
    with page.expect_response(lambda response: "/photos/move/" in response.url) as reply:
        page.get_by_role("button", name="Move to start").click()
    assert reply.value.status == 200
    page.wait_for_function(
        "(id) => document.querySelector('#photo-list > [data-id]').dataset.id === String(id)",
        arg=photos[2].pk,
    )
    assert _db_order(draft) == [photos[2].pk, photos[0].pk]
    assert page.locator("[data-bulk-count]").text_content() == "None selected"
    assert_no_page_problems(page)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (768, 1024), (1366, 900)])
def test_the_page_fits_every_width(browser_page, agent, width, height):
    draft = DraftFactory(list_agent=agent)
    _ready_photos(draft, 12)
    DocumentFactory(draft=draft, name="Seller's Property Disclosure Statement", stored=True)
    DocumentFactory(draft=draft, name="Survey of the lot with a long name", stored=True)
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
    page.wait_for_function("() => document.querySelectorAll('#photo-list img').length === 12")

    def fits() -> None:
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than the {width}px window"

    fits()
    rows = page.eval_on_selector_all(
        ".document-row", "(rows) => rows.map((r) => r.getBoundingClientRect().right)"
    )
    assert rows and max(rows) <= width
    # Touch targets: the drag handle, the tick and the menu are 44 px at least.
    for selector in (".drag-handle", ".select-box", ".menu-button"):
        box = page.locator(f"#photo-list {selector}").first.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, selector
    # Nothing sticks out of its card (the head's controls once did on a phone).
    spill = page.evaluate(
        """() => Array.from(document.querySelectorAll('#photo-list .photo-card')).flatMap((card) => {
             const edge = card.getBoundingClientRect().right;
             return Array.from(card.querySelectorAll('.photo-head > *, .photo-frame > *'))
               .filter((child) => child.getBoundingClientRect().right > edge + 0.5)
               .map((child) => child.className);
           })"""
    )
    assert spill == []
    camera = page.locator("label[for=photo-camera]")
    assert camera.is_visible() == (width < 641)
    if SHOTS_DIR:
        os.makedirs(SHOTS_DIR, exist_ok=True)
        page.screenshot(path=f"{SHOTS_DIR}/media-{width}.png", full_page=True)
    page.locator("#photo-list .card-menu > summary").nth(1).click()
    fits()
    if SHOTS_DIR:
        page.screenshot(path=f"{SHOTS_DIR}/media-{width}-menu.png")
    page.keyboard.press("Escape")
    page.locator("#photo-list [data-lightbox-open]").nth(2).click()
    page.locator("#photo-lightbox").wait_for(state="visible")
    fits()
    if SHOTS_DIR:
        page.screenshot(path=f"{SHOTS_DIR}/media-{width}-lightbox.png")
    assert_no_page_problems(page)


@pytest.mark.usefixtures("eager_celery")
def test_a_refused_file_reads_as_an_error_beside_accepted_ones(browser_page, agent, tmp_path):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
    good = tmp_path / "porch.jpg"
    good.write_bytes(small_jpeg(seed=90))
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"this is a text file, not a picture")
    page.set_input_files("#photo-files", [str(bad), str(good)])
    page.wait_for_selector(".upload-item.is-rejected")
    page.wait_for_selector(".upload-item.is-accepted, .upload-item.is-warning")
    rejected = page.locator(".upload-item.is-rejected")
    assert rejected.locator(".upload-status").text_content().startswith("Not uploaded: ")
    assert not rejected.locator("progress").is_visible()
    look = rejected.evaluate(
        "(row) => [getComputedStyle(row).backgroundColor,"
        " getComputedStyle(row.querySelector('.upload-status')).color]"
    )
    accepted = page.locator(".upload-item.is-accepted, .upload-item.is-warning").evaluate(
        "(row) => getComputedStyle(row).backgroundColor"
    )
    assert look == ["rgb(253, 232, 230)", "rgb(179, 38, 30)"] and accepted != look[0]
    page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 1")
    if SHOTS_DIR:
        page.screenshot(path=f"{SHOTS_DIR}/upload-refused.png")
    assert_no_page_problems(page, ignore=("400",))
