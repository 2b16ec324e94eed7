"""Photo and Document models: names, constraints, primary, trash, history, processing."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from drafts.fields import PropertyType
from drafts.models import Draft, DraftEvent
from media_manager import tasks
from media_manager.models import (
    Document,
    DocumentPrivacy,
    MediaOrder,
    Photo,
    ProcessingState,
    clean_display_text,
    clean_file_name,
    forced_document_privacy,
    name_from_file_name,
    required_documents_for,
)
from tests.factories import DocumentFactory, DraftFactory, PhotoFactory
from tests.media_manager import samples
from tests.media_manager.media_helpers import STORED_NAME, active_order, jpeg_bytes, small_jpeg

pytestmark = pytest.mark.django_db


def _force_deferred_checks() -> None:
    # PostgreSQL checks the deferred position constraint at commit, which a test never
    # reaches; ask for it now.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# --- Names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../x.py", "x.py"),
        ("..\\..\\x.py", "x.py"),
        ("a.php\x00.jpg", "a.php.jpg"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("line\r\nbreak.jpg", "line break.jpg"),
        (".hidden.jpg", "hidden.jpg"),
        ("-rf.jpg", "rf.jpg"),
        ("", "file"),
    ],
)
def test_clean_file_name_strips_paths_and_invisible_characters(raw, expected):
    assert clean_file_name(raw) == expected


def test_clean_file_name_keeps_long_names_bounded_with_their_extension():
    cleaned = clean_file_name("a" * 300 + ".jpg")
    assert len(cleaned) == 200
    assert cleaned.endswith(".jpg")


def test_default_photo_name_comes_from_the_file_name_trimmed_to_40():
    assert name_from_file_name("IMG_0042.JPG", max_length=40, fallback="Photo") == "IMG 0042"
    assert len(name_from_file_name("x" * 90 + ".jpg", max_length=40, fallback="Photo")) == 40
    assert name_from_file_name("\u202e___.jpg", max_length=40, fallback="Photo") == "Photo"


def test_clean_display_text_collapses_whitespace_and_drops_controls():
    assert clean_display_text("  Front\u200b  porch\t\x07 ", max_length=40) == "Front porch"


# --- Constraints --------------------------------------------------------------------------


def test_a_second_primary_photo_is_refused_by_the_database(draft, agent):
    first = PhotoFactory(draft=draft, by=agent)
    second = PhotoFactory(draft=draft, by=agent)
    assert first.is_primary and not second.is_primary
    with pytest.raises(IntegrityError), transaction.atomic():
        Photo.objects.filter(pk=second.pk).update(is_primary=True)


def test_two_photos_at_one_position_are_refused_by_the_database(draft, agent):
    PhotoFactory(draft=draft, by=agent)
    second = PhotoFactory(draft=draft, by=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        Photo.objects.filter(pk=second.pk).update(position=0)
        _force_deferred_checks()


def test_a_trashed_photo_has_no_position(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        Photo.objects.filter(pk=photo.pk).update(deleted_at=timezone.now())


@pytest.mark.parametrize("name", ["", "n" * 41])
def test_photo_name_length_is_a_database_rule(draft, agent, name):
    photo = PhotoFactory(draft=draft, by=agent)
    # PostgreSQL's varchar(40) refuses it first (DataError); SQLite has the CHECK.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Photo.objects.filter(pk=photo.pk).update(name=name)


def test_caption_length_is_a_database_rule(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    Photo.objects.filter(pk=photo.pk).update(caption="c" * 1000)
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Photo.objects.filter(pk=photo.pk).update(caption="c" * 1001)


def test_document_privacy_must_be_one_of_the_mls_values(draft, agent):
    document = DocumentFactory(draft=draft, by=agent, stored=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Document.objects.filter(pk=document.pk).update(privacy="Secret")


# --- Adding, primary, trash ----------------------------------------------------------------


def test_photos_are_appended_in_order_and_the_first_is_primary(draft, agent):
    photos = [PhotoFactory(draft=draft, by=agent, original_name=f"p{i}.jpg") for i in range(3)]
    assert [p.position for p in photos] == [0, 1, 2]
    assert [p.is_primary for p in photos] == [True, False, False]
    assert MediaOrder.objects.get(draft=draft).photo_version == 4


def test_every_change_marks_the_draft_changed_and_is_recorded(draft, agent):
    seq = draft.change_seq
    photo = PhotoFactory(draft=draft, by=agent)
    draft.refresh_from_db()
    # An upload gives the MLS nothing until it is processed (which marks the draft, below);
    # a document is pushable at once.
    assert draft.change_seq == seq
    DocumentFactory(draft=draft, by=agent)
    draft.refresh_from_db()
    assert draft.change_seq > seq
    seq = draft.change_seq
    photo.update_text(name="Front porch", caption="Sunny", by=agent)
    draft.refresh_from_db()
    assert draft.change_seq > seq
    fields = set(
        DraftEvent.objects.filter(draft=draft, kind=DraftEvent.Kind.PHOTO).values_list("field", flat=True)
    )
    assert {"added", "name", "caption"} <= fields


def test_trashing_the_primary_photo_makes_the_new_first_photo_primary(draft, agent):
    a, b, c = (PhotoFactory(draft=draft, by=agent) for _ in range(3))
    b.make_primary(by=agent)
    b.move_to_trash(by=agent)
    a.refresh_from_db()
    assert a.is_primary
    b.refresh_from_db()
    assert b.position is None and not b.is_primary and b.deleted_at is not None
    assert active_order(draft) == [a.pk, c.pk]
    a.move_to_trash(by=agent)
    c.refresh_from_db()
    assert c.is_primary and c.position == 0


def test_make_primary_moves_the_flag(draft, agent):
    a, b = PhotoFactory(draft=draft, by=agent), PhotoFactory(draft=draft, by=agent)
    assert b.make_primary(by=agent)
    a.refresh_from_db()
    assert b.is_primary and not a.is_primary
    assert not b.make_primary(by=agent)


def test_restored_photos_go_last_and_do_not_take_the_primary(draft, agent):
    a, b, c = (PhotoFactory(draft=draft, by=agent) for _ in range(3))
    a.move_to_trash(by=agent)
    a.restore(by=agent)
    assert active_order(draft) == [b.pk, c.pk, a.pk]
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.is_primary and not a.is_primary


def test_restoring_into_an_empty_draft_makes_it_primary(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    photo.move_to_trash(by=agent)
    photo.restore(by=agent)
    assert photo.is_primary and photo.position == 0


def test_photo_limit_per_draft(draft, agent, settings):
    settings.PHOTO_MAX_PER_DRAFT = 2
    PhotoFactory(draft=draft, by=agent)
    PhotoFactory(draft=draft, by=agent)
    from media_manager.models import MediaLimitReached

    with pytest.raises(MediaLimitReached):
        PhotoFactory(draft=draft, by=agent)


def test_rotate_requeues_from_the_original(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    Photo.objects.filter(pk=photo.pk).update(state=ProcessingState.READY)
    photo.rotate(-1, by=agent)
    assert photo.rotation == 3
    assert photo.state == ProcessingState.UPLOADED
    assert photo.image_version == 2


# --- Documents ------------------------------------------------------------------------------


def test_forced_names_take_the_mls_privacy(draft, agent):
    assert forced_document_privacy("A", "property  DISCLOSURE") == DocumentPrivacy.HAS_EDIT
    assert forced_document_privacy("A", "Survey") is None
    document = DocumentFactory(draft=draft, by=agent, name="Property Disclosure", stored=True)
    assert document.privacy == DocumentPrivacy.HAS_EDIT
    document.update(name="Property Disclosure", privacy=DocumentPrivacy.PUBLIC, by=agent)
    assert document.privacy == DocumentPrivacy.HAS_EDIT
    document.update(name="Floor plan", privacy=DocumentPrivacy.PUBLIC, by=agent)
    assert document.privacy == DocumentPrivacy.PUBLIC


def test_the_forced_privacy_table_is_the_sandboxs(draft, agent):
    """The portal forces exactly the names the MLS metadata (the sandbox's) names, per type."""
    from sandbox import catalog

    for property_type, _label in PropertyType.choices:
        names = catalog.HAS_EDIT_NAMES[property_type]
        for name in [*names, "Property Disclosure", "Rent Roll", "Survey", "Floor Plan"]:
            expected = DocumentPrivacy.HAS_EDIT if name in names else None
            assert forced_document_privacy(property_type, name) == expected, (property_type, name)
            assert catalog.forced_privacy(name, property_type) == (expected and str(expected))
    assert forced_document_privacy("B", "rent  roll") == DocumentPrivacy.HAS_EDIT
    assert forced_document_privacy("C", "Property Disclosure") is None
    # A Rent Roll on a commercial draft is forced; on a land draft it is free.
    Draft.objects.filter(pk=draft.pk).update(property_type=PropertyType.COMMERCIAL)
    draft.refresh_from_db()
    assert (
        DocumentFactory(draft=draft, by=agent, name="Rent Roll", stored=True).privacy
        == DocumentPrivacy.HAS_EDIT
    )
    Draft.objects.filter(pk=draft.pk).update(property_type=PropertyType.LAND)
    draft.refresh_from_db()
    assert (
        DocumentFactory(draft=draft, by=agent, name="Property Disclosure", stored=True).privacy
        == DocumentPrivacy.PRIVATE
    )


def test_new_documents_are_private_by_default(draft, agent):
    assert (
        DocumentFactory(draft=draft, by=agent, name="Floor plan", stored=True).privacy
        == DocumentPrivacy.PRIVATE
    )


def test_required_documents_depend_on_type_and_age(agent):
    old_home = DraftFactory(list_agent=agent, property_type="A", year_built=1950)
    names = [status.name for status in required_documents_for(old_home, [])]
    assert names == ["Seller's Disclosure", "Lead-Based Paint Disclosure"]
    new_home = DraftFactory(list_agent=agent, property_type="A", year_built=1990)
    assert [s.name for s in required_documents_for(new_home, [])] == ["Seller's Disclosure"]
    unknown_age = DraftFactory(list_agent=agent, property_type="A", year_built=None)
    lead = required_documents_for(unknown_age, [])[1]
    assert lead.note == "if built before 1978"
    land = DraftFactory(list_agent=agent, property_type="C")
    statuses = required_documents_for(land, ["survey"])
    assert [(s.name, s.present) for s in statuses] == [("Survey", True)]


def test_required_documents_match_names_loosely(agent):
    home = DraftFactory(list_agent=agent, property_type="A", year_built=2000)
    assert required_documents_for(home, ["SELLER\u2019S  disclosure"])[0].present


# --- Processing -----------------------------------------------------------------------------


def test_processing_a_real_photo_makes_master_and_variants(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, data=jpeg_bytes(2400, 1600, seed=3))
    assert tasks.process_photo(photo.pk) == ProcessingState.READY
    photo.refresh_from_db()
    assert photo.state == ProcessingState.READY
    assert max(photo.width, photo.height) <= 2048
    assert set(photo.variants) >= {"thumb", "medium", "large"}
    for name in [photo.master.name, *photo.variants.values()]:
        assert default_storage.exists(name)
        assert STORED_NAME.match(name.rsplit("/", 1)[-1])
    assert len(photo.sha256) == 64 and photo.phash is not None
    assert photo.duplicate_of is None


def test_processing_is_idempotent(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    assert tasks.process_photo(photo.pk) == ProcessingState.READY
    photo.refresh_from_db()
    files = photo.file_names()
    assert tasks.process_photo(photo.pk) == "skipped"
    photo.refresh_from_db()
    assert photo.file_names() == files


def test_processing_marks_the_draft_changed(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    draft.refresh_from_db()
    before = draft.change_seq
    tasks.process_photo(photo.pk)
    draft.refresh_from_db()
    assert draft.change_seq == before + 1


def test_a_rotation_reaches_the_mls_in_one_push_once_processed(draft, agent):
    """Until the turned picture is processed the MLS keeps the one it has, so the rotation
    itself does not mark the draft for sync; the processing that follows marks it once."""
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    assert tasks.process_photo(photo.pk) == "ready"
    draft.refresh_from_db()
    before = draft.change_seq
    photo.refresh_from_db()
    photo.rotate(1, by=agent)
    draft.refresh_from_db()
    assert draft.change_seq == before
    assert DraftEvent.objects.filter(draft=draft, field="rotation").exists()
    assert tasks.process_photo(photo.pk) == "ready"
    draft.refresh_from_db()
    assert draft.change_seq == before + 1


def test_the_same_file_twice_is_flagged_as_a_duplicate(draft, agent):
    data = small_jpeg(seed=5)
    first = PhotoFactory(draft=draft, by=agent, data=data)
    second = PhotoFactory(draft=draft, by=agent, data=data)
    tasks.process_photo(first.pk)
    tasks.process_photo(second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.duplicate_of is None
    assert second.duplicate_of == first


def test_the_same_picture_re_saved_is_flagged_by_its_perceptual_hash(draft, agent):
    picture = samples.photo_like(1600, 1200, seed=9)
    original = samples.encode(picture, "JPEG", quality=92)
    resaved = samples.encode(picture.resize((1200, 900)), "JPEG", quality=70)
    different = small_jpeg(seed=10)
    first = PhotoFactory(draft=draft, by=agent, data=original)
    other = PhotoFactory(draft=draft, by=agent, data=different)
    second = PhotoFactory(draft=draft, by=agent, data=resaved)
    for photo in (first, other, second):
        tasks.process_photo(photo.pk)
    second.refresh_from_db()
    other.refresh_from_db()
    assert second.duplicate_of == first
    assert other.duplicate_of is None


def test_flat_pictures_of_different_colours_are_not_flagged_as_copies(draft, agent):
    # Every one-colour picture has the same perceptual hash: only the bytes may match them.
    from PIL import Image

    def flat(colour: tuple[int, int, int]) -> bytes:
        return samples.encode(Image.new("RGB", (1200, 900), colour), "JPEG", quality=85)

    green = PhotoFactory(draft=draft, by=agent, data=flat((20, 200, 60)))
    purple = PhotoFactory(draft=draft, by=agent, data=flat((70, 40, 90)))
    green_again = PhotoFactory(draft=draft, by=agent, data=flat((20, 200, 60)))
    for photo in (green, purple, green_again):
        tasks.process_photo(photo.pk)
        photo.refresh_from_db()
    assert purple.phash is None and purple.duplicate_of is None
    assert green_again.duplicate_of == green  # the same file is still a copy


def test_a_photo_the_pipeline_refuses_is_rejected_with_a_reason(draft, agent):
    broken = samples.truncated(small_jpeg(seed=2), 0.4)
    photo = PhotoFactory(draft=draft, by=agent, data=broken)
    assert tasks.process_photo(photo.pk) == "rejected"
    photo.refresh_from_db()
    assert photo.state == ProcessingState.REJECTED
    assert photo.rejection_reason


def test_output_of_a_run_overtaken_by_a_rotation_is_thrown_away(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    claimed = Photo.claim_for_processing(photo.pk)
    assert claimed is not None
    assert Photo.claim_for_processing(photo.pk) is None  # a second delivery gets nothing
    photo.rotate(1, by=agent)
    assert not claimed.finish_processing(
        image_version=claimed.image_version,
        master_name="photos/masters/x.jpg",
        variant_names={},
        width=1,
        height=1,
        sha256="",
        phash=0,
    )
    photo.refresh_from_db()
    assert photo.state == ProcessingState.UPLOADED and not photo.master


def test_claim_and_finish_leave_the_photo_as_stored_and_mark_the_draft(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    seq = Draft.objects.get(pk=draft.pk).change_seq
    claimed = Photo.claim_for_processing(photo.pk)
    assert claimed is not None
    fields = [field.attname for field in Photo._meta.concrete_fields]

    def values(instance: Photo) -> dict:
        return {name: getattr(instance, name) for name in fields}

    assert values(claimed) == values(Photo.objects.get(pk=photo.pk))
    assert claimed.state == ProcessingState.PROCESSING and claimed.processing_attempts == 1
    assert claimed.finish_processing(
        image_version=claimed.image_version,
        master_name="photos/masters/x.jpg",
        variant_names={"thumb": "photos/variants/t.jpg"},
        width=3,
        height=2,
        sha256="a" * 64,
        phash=7,
    )
    stored = Photo.objects.get(pk=photo.pk)
    # The instance holds what was written without reading it back.
    assert values(claimed) == values(stored)
    assert stored.state == ProcessingState.READY and stored.master.name == "photos/masters/x.jpg"
    assert Draft.objects.get(pk=draft.pk).change_seq == seq + 1


def test_a_trashed_photo_is_not_processed(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    photo.move_to_trash(by=agent)
    assert tasks.process_photo(photo.pk) == "skipped"


def test_stuck_photos_are_queued_again(draft, agent, django_capture_on_commit_callbacks):
    photo = PhotoFactory(draft=draft, by=agent)
    fresh = PhotoFactory(draft=draft, by=agent)
    Photo.objects.filter(pk=photo.pk).update(queued_at=timezone.now() - timedelta(minutes=2))
    dead_worker = PhotoFactory(draft=draft, by=agent)
    Photo.objects.filter(pk=dead_worker.pk).update(
        state=ProcessingState.PROCESSING, processing_started_at=timezone.now() - timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        requeued = Photo.requeue_stuck()
    assert sorted(requeued) == sorted([photo.pk, dead_worker.pk])
    assert fresh.pk not in requeued
    assert len(callbacks) == 2
    # Queued again just now: the next poll leaves them alone.
    assert Photo.requeue_stuck() == []


def test_a_photo_that_keeps_failing_is_rejected_in_the_end(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    Photo.objects.filter(pk=photo.pk).update(processing_attempts=5)
    assert Photo.claim_for_processing(photo.pk) is None
    photo.refresh_from_db()
    assert photo.state == ProcessingState.REJECTED


@pytest.mark.usefixtures("broker_down")
def test_enqueue_with_the_broker_down_returns_quickly_without_raising(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    started = time.monotonic()
    assert tasks.enqueue_processing(photo.pk) is False
    assert time.monotonic() - started < 3
