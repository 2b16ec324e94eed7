"""What changed since the last review: fields, photos and documents between two snapshots."""

import pytest

from drafts.models import DraftStatus, ListingPart, ReviewSnapshot
from drafts.review import changes_since_last_review, diff_states
from media_manager.models import DocumentPrivacy, MediaOrder, Photo
from tests.factories import DocumentFactory, PhotoFactory

from .conftest import make_complete


def state(draft) -> dict:
    return ReviewSnapshot.state_of(draft)


@pytest.fixture
def reviewed(cast):
    """A draft with three photos and two documents, reviewed once (changes requested)."""
    draft = cast.draft
    photos = [
        PhotoFactory(draft=draft, by=cast.agent, original_name=f"{name}.jpg")
        for name in ("front", "kitchen", "yard")
    ]
    documents = [DocumentFactory(draft=draft, by=cast.agent, name=name) for name in ("Survey", "Floor plan")]
    make_complete(draft)
    draft.submit(by=cast.agent)
    draft.request_changes(by=cast.office_admin, reason="Some things.")
    return {"draft": draft, "photos": photos, "documents": documents, "cast": cast}


def test_never_reviewed_means_no_baseline(cast):
    make_complete(cast.draft).submit(by=cast.agent)

    diff = changes_since_last_review(cast.draft)

    assert diff.baseline is None and not diff


def test_nothing_changed(reviewed):
    diff = changes_since_last_review(reviewed["draft"])

    assert diff.baseline is not None and diff.baseline.kind == "changes_requested"
    assert not diff and diff.fields == []


def test_field_changes_old_to_new(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    draft.save_field("city", "Moorhead", by=cast.agent, seen_version=draft.version, seen_value="Fargo")
    draft.refresh_from_db()
    draft.save_field("list_price", "265000", by=cast.agent, seen_version=draft.version, seen_value="250000")
    draft.refresh_from_db()
    draft.save_field(
        "co_list_agent", None, by=cast.agent, seen_version=draft.version, seen_value=cast.co_agent.pk
    )
    draft.refresh_from_db()

    diff = changes_since_last_review(draft)

    assert [(c.name, c.label, c.old, c.new) for c in diff.fields] == [
        ("city", "City", "Fargo", "Moorhead"),
        ("list_price", "List price", "$250,000", "$265,000"),
        ("co_list_agent", "Co-listing agent", str(cast.co_agent), "(empty)"),
    ]
    assert set(diff.changed_fields) == {"city", "list_price", "co_list_agent"}


def test_equal_values_in_other_spellings_are_not_changes():
    old = {"fields": {"list_price": "250000.00", "city": "", "beds_total": None}}
    new = {"fields": {"list_price": "250000", "city": None, "beds_total": None}}

    assert not diff_states(old, new)


def test_photos_added_removed_renamed_and_recaptioned(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    front, kitchen, yard = reviewed["photos"]
    kitchen.update_text(name="Kitchen island", caption="New quartz counters", by=cast.agent)
    yard.move_to_trash(by=cast.agent)
    porch = PhotoFactory(draft=draft, by=cast.agent, original_name="porch.jpg")

    diff = changes_since_last_review(draft)

    assert [item["id"] for item in diff.photos.added] == [porch.pk]
    assert [item["name"] for item in diff.photos.removed] == ["yard"]
    assert diff.photos.changed[kitchen.pk].notes == ["renamed from “kitchen”", "caption changed"]
    assert front.pk not in diff.photos.changed
    assert not diff.photos.reordered  # a removal shifts positions; nobody moved anything


def test_photos_reordered_and_primary(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    front, kitchen, yard = reviewed["photos"]
    Photo.reorder(
        draft,
        [yard.pk, front.pk, kitchen.pk],
        seen_version=MediaOrder.versions(draft).photo_version,
        by=cast.agent,
    )
    yard.make_primary(by=cast.agent)

    diff = changes_since_last_review(draft)

    assert diff.photos.reordered
    assert diff.photos.changed[yard.pk].notes == ["now the primary photo", "moved from photo 3 to 1"]
    assert diff.photos.changed[front.pk].notes == ["moved from photo 1 to 2"]
    assert diff.photos.changed[kitchen.pk].notes == ["moved from photo 2 to 3"]
    assert not diff.photos.added and not diff.photos.removed


def test_documents_privacy_renamed_added_removed(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    survey, plan = reviewed["documents"]
    survey.update(name="Survey", privacy=DocumentPrivacy.PUBLIC, by=cast.agent)
    plan.move_to_trash(by=cast.agent)
    added = DocumentFactory(draft=draft, by=cast.agent, name="Inspection report")

    diff = changes_since_last_review(draft)

    assert diff.documents.changed[survey.pk].notes == ["privacy Private → Public"]
    assert [item["name"] for item in diff.documents.removed] == ["Floor plan"]
    assert [item["id"] for item in diff.documents.added] == [added.pk]


def test_the_baseline_is_the_latest_decision_not_the_latest_submission(reviewed):
    """Edits made after the resubmission are still changes since the last review."""
    draft, cast = reviewed["draft"], reviewed["cast"]
    draft.save_field("city", "Moorhead", by=cast.agent, seen_version=draft.version, seen_value="Fargo")
    draft.refresh_from_db()
    draft.submit(by=cast.agent)

    diff = changes_since_last_review(draft)

    assert draft.status == DraftStatus.SUBMITTED
    assert diff.baseline.kind == "changes_requested"
    assert [change.name for change in diff.fields] == ["city"]


def test_the_review_page_shows_document_privacy_changes(reviewed, client):
    draft, cast = reviewed["draft"], reviewed["cast"]
    survey, _ = reviewed["documents"]
    survey.update(name="Survey", privacy=DocumentPrivacy.PUBLIC, by=cast.agent)
    draft.refresh_from_db()
    draft.submit(by=cast.agent)
    client.force_login(cast.office_admin)

    from django.urls import reverse

    body = client.get(reverse("drafts:draft_review", args=[draft.pk])).content.decode()

    assert f'is-changed" id="review-document-{survey.pk}"' in body
    assert "Privacy Private → Public" in body


# --- Rooms, units, virtual tours and videos ---------------------------------------------------


def room(name: str, level: str) -> dict:
    return {"fields": {"RoomName": name, "LevelOrFloor": level}}


@pytest.fixture
def with_parts(cast):
    """Three rooms and a video, reviewed once (changes requested)."""
    draft, agent = cast.draft, cast.agent
    rooms = [
        ListingPart.objects.add(draft, "room", by=agent, **room(name, level))
        for name, level in (("Living Room", "Main"), ("Kitchen", "Main"), ("Bedroom", "Upper"))
    ]
    video = ListingPart.objects.add(
        draft, "video", by=agent, name="Neighbourhood", url="https://vimeo.com/76979871", privacy=""
    )
    make_complete(draft)
    draft.submit(by=agent)
    draft.request_changes(by=cast.office_admin, reason="Rooms.")
    return {"draft": draft, "rooms": rooms, "video": video, "agent": agent}


def part_lines(draft) -> list[str]:
    return [change.text for change in changes_since_last_review(draft).parts.changes]


def test_the_snapshot_keeps_parts_in_their_order(with_parts):
    parts = ReviewSnapshot.last_decision(with_parts["draft"]).data["parts"]

    assert [(part["kind"], part["title"]) for part in parts] == [
        ("room", "Living Room"),
        ("room", "Kitchen"),
        ("room", "Bedroom"),
        ("video", "Neighbourhood"),
    ]
    assert parts[1]["fields"] == {"RoomName": "Kitchen", "LevelOrFloor": "Main"}
    assert parts[3]["url"] == "https://vimeo.com/76979871"


def test_parts_unchanged_say_nothing(with_parts):
    diff = changes_since_last_review(with_parts["draft"])

    assert not diff.parts and not diff


def test_parts_added_removed_and_changed_in_plain_words(with_parts):
    draft, agent = with_parts["draft"], with_parts["agent"]
    _, kitchen, bedroom = with_parts["rooms"]
    kitchen.edit(by=agent, **room("Kitchen", "Upper"))
    bedroom.remove(by=agent)
    ListingPart.objects.add(
        draft, "tour", by=agent, name="3D walk-through", url="https://my.matterport.com/show/?m=SxQL3iGyoDo"
    )
    video = with_parts["video"]
    video.refresh_from_db()
    video.edit(by=agent, name="Island Park", privacy="Public")

    diff = changes_since_last_review(draft)

    # Without the MLS's room fields (never read here) the attributes go by their own names.
    assert part_lines(draft) == [
        "Room 2 Kitchen: LevelOrFloor Main → Upper",
        "Room removed: Bedroom",
        "Virtual tour added: 3D walk-through",
        "Video 1 Island Park: Name Neighbourhood → Island Park; Privacy The MLS's default → Public",
    ]
    tour = draft.parts.get(kind="tour")
    assert diff.parts.changed_ids == {kitchen.pk, video.pk, tour.pk}
    assert bool(diff)


def test_parts_reordered(with_parts):
    draft, agent = with_parts["draft"], with_parts["agent"]
    living, kitchen, bedroom = with_parts["rooms"]
    ListingPart.objects.reorder(draft, "room", [bedroom.pk, living.pk, kitchen.pk], by=agent)

    assert part_lines(draft) == [
        "Room 1 Bedroom: moved from room 3 to 1",
        "Room 2 Living Room: moved from room 1 to 2",
        "Room 3 Kitchen: moved from room 2 to 3",
    ]


def test_a_removal_is_not_a_move(with_parts):
    draft, agent = with_parts["draft"], with_parts["agent"]
    with_parts["rooms"][0].remove(by=agent)

    assert part_lines(draft) == ["Room removed: Living Room"]


def test_a_baseline_taken_before_parts_were_recorded_compares_none(with_parts):
    """Snapshots written before parts were kept have no "parts": no error, no invented changes."""
    draft = with_parts["draft"]
    baseline = ReviewSnapshot.last_decision(draft)
    old = {key: value for key, value in baseline.data.items() if key != "parts"}
    ReviewSnapshot.objects.filter(pk=baseline.pk).update(data=old)

    diff = changes_since_last_review(draft)

    assert diff.baseline is not None and not diff
    assert diff.parts.not_recorded and diff.parts.changes == []


def test_the_review_page_lists_part_changes_with_links(with_parts, client):
    draft, agent = with_parts["draft"], with_parts["agent"]
    kitchen = with_parts["rooms"][1]
    kitchen.edit(by=agent, **room("Kitchen", "Upper"))
    draft.refresh_from_db()
    draft.submit(by=agent)
    client.force_login(ReviewSnapshot.last_decision(draft).taken_by)

    from django.urls import reverse

    body = client.get(reverse("drafts:draft_review", args=[draft.pk])).content.decode()

    assert f'<a href="#review-part-{kitchen.pk}">Room 2 Kitchen: LevelOrFloor Main → Upper</a>' in body
    assert f'id="review-part-{kitchen.pk}"' in body
    # The page's own list marks the changed part as the diff does, and only it.
    assert f'<li class="part-item is-changed" id="review-part-{kitchen.pk}">' in body
    assert body.count('class="part-item is-changed"') == 1


def test_the_review_page_reads_a_baseline_without_parts(with_parts, client):
    draft, agent = with_parts["draft"], with_parts["agent"]
    baseline = ReviewSnapshot.last_decision(draft)
    ReviewSnapshot.objects.filter(pk=baseline.pk).update(
        data={key: value for key, value in baseline.data.items() if key != "parts"}
    )
    with_parts["rooms"][0].remove(by=agent)
    draft.refresh_from_db()
    draft.submit(by=agent)
    client.force_login(baseline.taken_by)

    from django.urls import reverse

    response = client.get(reverse("drafts:draft_review", args=[draft.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "were not recorded at that decision" in body
    assert "Room removed" not in body


# --- The picture itself: rotations and replacements; documents uploaded again -----------------


def test_a_rotation_since_the_review_is_a_change(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    front, kitchen, _ = reviewed["photos"]
    kitchen.rotate(1, by=cast.agent)
    front.rotate(-1, by=cast.agent)

    diff = changes_since_last_review(draft)

    assert diff.photos.changed[kitchen.pk].notes == ["rotated a quarter turn right"]
    assert diff.photos.changed[kitchen.pk].number == 2
    assert diff.photos.changed[front.pk].notes == ["rotated a quarter turn left"]


def test_turned_and_turned_back_is_still_said(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    kitchen = reviewed["photos"][1]
    kitchen.rotate(1, by=cast.agent)
    kitchen.rotate(-1, by=cast.agent)

    diff = changes_since_last_review(draft)

    assert diff.photos.changed[kitchen.pk].notes == ["rotated, then turned back"]


def replace(photo, by, name: str, sha256: str) -> None:
    photo.replace_original(
        by=by,
        original_name=name,
        stored_name=f"photos/originals/{sha256}.jpg",
        original_format="jpg",
        original_size=10,
        original_sha256=sha256,
        width=None,
        height=None,
    )


def test_a_replaced_picture_is_a_change(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    yard = reviewed["photos"][2]
    replace(yard, cast.agent, "yard-in-summer.jpg", "b" * 64)

    diff = changes_since_last_review(draft)

    assert diff.photos.changed[yard.pk].notes == ["picture replaced (was “yard.jpg”)"]
    assert not diff.photos.added and not diff.photos.removed


def test_a_baseline_without_picture_fields_reads_rotations_from_history(reviewed):
    """Snapshots taken before the picture was recorded: the history's events speak for them."""
    draft, cast = reviewed["draft"], reviewed["cast"]
    front, kitchen, yard = reviewed["photos"]
    baseline = ReviewSnapshot.last_decision(draft)
    for row in baseline.data["photos"]:
        for key in ("rotation", "image_version", "file", "sha256"):
            del row[key]
    ReviewSnapshot.objects.filter(pk=baseline.pk).update(data=baseline.data)
    kitchen.rotate(1, by=cast.agent)
    kitchen.rotate(1, by=cast.agent)
    replace(yard, cast.agent, "yard-2.jpg", "c" * 64)

    diff = changes_since_last_review(draft)

    assert diff.photos.changed[kitchen.pk].notes == ["turned upside down"]
    assert diff.photos.changed[yard.pk].notes == ["picture replaced (was “yard.jpg”)"]
    assert front.pk not in diff.photos.changed


def test_a_document_added_and_one_uploaded_again(reviewed):
    draft, cast = reviewed["draft"], reviewed["cast"]
    survey, _ = reviewed["documents"]
    survey.move_to_trash(by=cast.agent)
    again = DocumentFactory(draft=draft, by=cast.agent, name="Survey")
    added = DocumentFactory(draft=draft, by=cast.agent, name="Lead-based paint disclosure")

    diff = changes_since_last_review(draft)

    assert [item["id"] for item in diff.documents.added] == [added.pk]
    assert [(pair.old["id"], pair.new["id"]) for pair in diff.documents.replaced] == [(survey.pk, again.pk)]
    assert not diff.documents.removed


def test_the_review_page_lists_picture_changes_by_number_and_name(reviewed, client):
    draft, cast = reviewed["draft"], reviewed["cast"]
    kitchen = reviewed["photos"][1]
    kitchen.rotate(1, by=cast.agent)
    DocumentFactory(draft=draft, by=cast.agent, name="Lead-based paint disclosure")
    client.force_login(cast.office_admin)

    page = client.get(f"/drafts/{draft.pk}/review/").content.decode()

    changes = page.split('id="review-changes"')[1].split("</section>")[0]
    assert (
        f'<a href="#review-photo-{kitchen.pk}">Photo 2 (kitchen)</a>: rotated a quarter turn right' in changes
    )
    assert "Lead-based paint disclosure</a>: added" in changes
