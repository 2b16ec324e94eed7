"""media_manager/storage_io.py on the filesystem storage, and process_photo when storing its
outputs fails (the S3 side runs against a real S3 server: tests/mls/test_media_on_s3.py)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from media_manager import storage_io, tasks
from media_manager.models import Photo, ProcessingState
from tests.factories import PhotoFactory
from tests.media_manager.media_helpers import stored_files

pytestmark = pytest.mark.django_db


def test_with_the_filesystem_the_stored_file_is_its_own_local_copy(media_root):
    name = default_storage.save("photos/originals/probe.jpg", ContentFile(b"bytes"))
    assert storage_io.keeps_local_files()
    with storage_io.local_copy(name) as path:
        assert path == str(media_root / name)
    assert (media_root / name).exists()  # the stored file, not a copy to delete
    assert storage_io.read_bytes(name) == b"bytes"
    handle, size = storage_io.open_stream(name)
    with handle:
        assert (handle.read(), size) == (b"bytes", None)  # FileResponse measures a file itself


def test_a_missing_file_is_file_not_found_everywhere(media_root):
    with pytest.raises(FileNotFoundError), storage_io.local_copy("photos/originals/gone.jpg"):
        pass
    with pytest.raises(FileNotFoundError):
        storage_io.read_bytes("photos/originals/gone.jpg")
    with pytest.raises(FileNotFoundError):
        storage_io.open_stream("photos/originals/gone.jpg")


@pytest.mark.parametrize("blocked", ["photos/masters", "photos/variants"])
def test_outputs_that_cannot_be_stored_leave_nothing_and_queue_the_photo_again(
    draft, agent, media_root, blocked
):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    # A file where the folder should be: the save fails as a full disk or an unreachable bucket would.
    (media_root / blocked).parent.mkdir(parents=True, exist_ok=True)
    (media_root / blocked).write_bytes(b"")

    assert tasks.process_photo(photo.pk) == "failed"
    photo.refresh_from_db()
    assert photo.state == ProcessingState.UPLOADED  # the stuck-photo sweep sends it again
    assert not photo.master and photo.variants == {}
    # Only the original and the blocking file: a master saved before a variant failed is gone.
    assert sorted(path.relative_to(media_root).as_posix() for path in stored_files(media_root)) == sorted(
        [photo.original.name, blocked]
    )

    (media_root / blocked).unlink()
    assert tasks.process_photo(photo.pk) == ProcessingState.READY
    assert Photo.objects.get(pk=photo.pk).state == ProcessingState.READY
