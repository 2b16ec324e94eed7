"""Oversized upload bodies cost no memory: refused with the clear 413, the rest of the body
read and dropped in fixed-size chunks (bench/uploads/run.py measures it under gunicorn).

The body is the network edge, so it is the one double here: a stream that makes up a
multipart body while it is read, behind the standard library's buffered reader (as a
server's socket file is), with no newline byte in the file. Memory is Python's own peak
allocation during the request (tracemalloc): a line read of such a body holds all of it.
"""

from __future__ import annotations

import io
import tracemalloc
import uuid

import pytest
from django.urls import reverse

from media_manager.models import Photo
from tests.factories import PhotoFactory
from tests.media_manager.media_helpers import small_jpeg

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
BODY_BYTES = 60 * MiB
PEAK_BAR = 8 * MiB
FILL = b"\xa5" * (64 * 1024)  # no \n, no \r


class GeneratedBody(io.RawIOBase):
    """A multipart body with one file field of `size` bytes (or `content`), made up as it
    is read; it counts what was read."""

    def __init__(self, *, size: int = 0, content: bytes = b"", file_name: str = "big.jpg"):
        self.boundary = uuid.uuid4().hex
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode() + content
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.file_size = size
        self.length = len(self.head) + size + len(self.tail)
        self.position = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.length - self.position)
        start, end = self.position, self.position + count
        file_from, file_to = len(self.head), len(self.head) + self.file_size
        view, written = memoryview(buffer), 0

        def put(data) -> None:
            nonlocal written
            view[written : written + len(data)] = data
            written += len(data)

        if start < file_from:
            put(self.head[start : min(end, file_from)])
        for at in range(max(start, file_from), min(end, file_to), len(FILL)):
            put(FILL[: min(end, file_to) - at])  # the file's bytes, written without a copy of them all
        if end > file_to:
            put(self.tail[max(start, file_to) - file_to : end - file_to])
        self.position = end
        return count


def post_body(client, url: str, body: GeneratedBody, *, with_length: bool = True):
    """POST `body` through Django's handler in this process; (response, peak bytes allocated)."""
    environ = {
        "CONTENT_TYPE": body.content_type,
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BufferedReader(body, buffer_size=64 * 1024),
    }
    if with_length:
        environ["CONTENT_LENGTH"] = str(body.length)
    else:
        # As gunicorn hands over a chunked body: no length, and the input ends with the body.
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = client.generic("POST", url, b"", **environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return response, peak


def assert_clear_413(response, noun: str = "photo") -> None:
    assert response.status_code == 413
    assert response.json()["error"].startswith(f"This {noun} is larger than 25 MB, the most we accept.")


def test_an_oversized_photo_without_newlines_is_refused_in_little_memory(
    agent_client, draft, upload_temp_dir
):
    body = GeneratedBody(size=BODY_BYTES)
    response, peak = post_body(agent_client, reverse("media_manager:photo_upload", args=[draft.pk]), body)
    assert_clear_413(response)
    assert peak < PEAK_BAR, f"peak {peak / MiB:.0f} MB"
    assert body.position == body.length  # the rest was read (and dropped), so the client gets the answer
    assert not Photo.objects.exists()
    assert list(upload_temp_dir.iterdir()) == []


def test_a_replacement_photo_is_refused_by_its_declared_length_before_reading(
    agent_client, draft, agent, upload_temp_dir
):
    photo = PhotoFactory(draft=draft, by=agent)
    body = GeneratedBody(size=BODY_BYTES)
    url = reverse("media_manager:photo_replace", args=[draft.pk, photo.pk])
    response, peak = post_body(agent_client, url, body)
    assert_clear_413(response)
    assert peak < PEAK_BAR, f"peak {peak / MiB:.0f} MB"
    assert body.position == body.length
    photo.refresh_from_db()
    assert photo.original_size == 1  # the draft's photo is untouched


def test_an_oversized_photo_sent_chunked_is_stopped_at_the_limit(agent_client, draft, upload_temp_dir):
    body = GeneratedBody(size=BODY_BYTES)
    url = reverse("media_manager:photo_upload", args=[draft.pk])
    response, peak = post_body(agent_client, url, body, with_length=False)
    assert_clear_413(response)
    assert peak < PEAK_BAR, f"peak {peak / MiB:.0f} MB"
    assert body.position == body.length
    assert list(upload_temp_dir.iterdir()) == []


def test_a_photo_sent_chunked_is_accepted(agent_client, draft, upload_temp_dir):
    body = GeneratedBody(content=small_jpeg(), file_name="front.jpg")
    url = reverse("media_manager:photo_upload", args=[draft.pk])
    response, _ = post_body(agent_client, url, body, with_length=False)
    assert response.status_code == 201, response.content
    assert Photo.objects.get().original_name == "front.jpg"
