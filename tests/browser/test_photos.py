"""Photos in a real browser: upload three, drag the third to the front, reload; then the
same move by keyboard (docs/reliability.md#p1-main-flows, the media part)."""

from __future__ import annotations

import pytest

from listings_portal.celery import app as celery_app
from media_manager.models import Photo
from tests.factories import DraftFactory
from tests.media_manager.media_helpers import small_jpeg

from .conftest import assert_no_page_problems, login

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


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


def _upload_three(page, tmp_path) -> list[int]:
    files = []
    for index in range(3):
        path = tmp_path / f"room-{index + 1}.jpg"
        path.write_bytes(small_jpeg(seed=40 + index))
        files.append(str(path))
    page.set_input_files("#photo-files", files)
    page.wait_for_function(
        "() => document.querySelectorAll('.upload-item.is-accepted, .upload-item.is-warning').length === 3"
    )
    page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 3")
    # Processing runs in the upload request here (eager Celery); wait for the grid to settle.
    page.wait_for_function("() => !document.querySelector('#photo-grid .state-pending')", timeout=60_000)
    return _screen_order(page)


def _drag(page, source, target) -> None:
    """A pointer drag, step by step as a hand would (Sortable's pointer fallback)."""
    box = page.locator(source).bounding_box()
    goal = page.locator(target).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 15, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(goal["x"] + 12, goal["y"] + goal["height"] / 2, steps=25)
    with page.expect_response(lambda response: "/photos/reorder/" in response.url) as reply:
        page.mouse.up()
    assert reply.value.status == 200


def _menu_action(page, photo_id: int, action: str):
    """Open the photo's menu and find one of its actions."""
    page.locator(f"#photo-{photo_id} .card-menu > summary").click()
    return page.locator(f"#photo-{photo_id} .menu-items").get_by_role("button", name=action)


def test_upload_then_reorder_by_drag_and_by_keyboard(browser_page, agent, tmp_path):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")

    first, second, third = _upload_three(page, tmp_path)
    assert _db_order(draft) == [first, second, third]
    assert page.locator(f"#photo-{first} .badge-primary").is_visible()

    # Drag the third photo to the front.
    _drag(page, f"#photo-{third} .drag-handle", f"#photo-{first} .photo-thumb")
    page.wait_for_function(
        "(id) => document.querySelector('#photo-list > [data-id]').dataset.id === String(id)", arg=third
    )
    page.reload()
    assert _screen_order(page) == [third, first, second]
    assert _db_order(draft) == [third, first, second]

    # The same with the keyboard: the last photo to the front with Alt+ArrowLeft, twice.
    card = page.locator(f"#photo-{second}")
    card.focus()
    for expected_position in (2, 1):
        with page.expect_response(lambda response: "/move/" in response.url) as reply:
            page.keyboard.press("Alt+ArrowLeft")
        assert reply.value.status == 200
        page.wait_for_function(
            "(text) => document.getElementById('live-region').textContent === text",
            arg=f"Photo {expected_position + 1} moved to position {expected_position} of 3",
        )
        # Focus follows the moved photo, so the next key press moves it again.
        page.wait_for_function(
            "(id) => document.activeElement && document.activeElement.id === id", arg=f"photo-{second}"
        )
    page.reload()
    assert _screen_order(page) == [second, third, first]
    assert _db_order(draft) == [second, third, first]
    assert_no_page_problems(page)


def test_a_dropped_upload_is_retried_and_kept_once(browser_page, agent, tmp_path):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
    attempts = []

    def drop_the_first(route):
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/photos/upload/", drop_the_first)
    path = tmp_path / "porch.jpg"
    path.write_bytes(small_jpeg(seed=60))
    page.set_input_files("#photo-files", [str(path)])
    page.wait_for_function(
        "() => document.querySelector('.upload-item.is-accepted, .upload-item.is-warning')"
    )
    assert len(attempts) == 2
    page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 1")
    page.reload()
    assert len(_screen_order(page)) == 1
    assert Photo.objects.filter(draft=draft).count() == 1
    assert_no_page_problems(page, ignore=("net::ERR_CONNECTION_RESET", "Failed to load resource"))


def test_replace_rotate_and_make_primary_in_place(browser_page, agent, tmp_path):
    draft = DraftFactory(list_agent=agent)
    page = browser_page
    login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
    first, second, _third = _upload_three(page, tmp_path)

    _menu_action(page, second, "Make primary").click()
    page.wait_for_selector(f"#photo-{second} .badge-primary")
    assert Photo.objects.get(pk=second).is_primary and not Photo.objects.get(pk=first).is_primary

    with page.expect_response(lambda response: "/rotate/" in response.url) as reply:
        _menu_action(page, first, "Rotate right").click()
    assert reply.value.status == 200
    page.wait_for_function(
        "(id) => !document.querySelector(`#photo-${id} .state-pending`)", arg=first, timeout=60_000
    )
    page.wait_for_selector(f"#photo-{first} img")
    assert Photo.objects.get(pk=first).rotation == 1

    replacement = tmp_path / "new-view.jpg"
    replacement.write_bytes(small_jpeg(seed=70))
    with page.expect_response(lambda response: "/replace/" in response.url) as reply:
        page.set_input_files(f"#photo-{second}-replace", str(replacement))
    assert reply.value.status == 200
    page.wait_for_selector(f"#photo-{second} img", timeout=60_000)
    replaced = Photo.objects.get(pk=second)
    assert replaced.image_version == 2 and replaced.position == 1 and replaced.is_primary
    assert replaced.original_name == "new-view.jpg"
    assert_no_page_problems(page)
