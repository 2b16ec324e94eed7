"""Receiving files: a streaming upload handler with a per-file byte limit, and the file
move into private storage (storage_io.py reads it back).

Uploads never sit whole in memory: every file streams to a temp file (hashed on the way),
and the handler stops as soon as one passes its limit, deleting what it wrote. The view
must install the handler before anything reads the body (see `install_limited_handler`).

A refused body is read to its end in fixed-size chunks and dropped (`discard_body`), never
line by line: a line read of a body without newline bytes holds all of it in memory (Django's
own `exhaust(request)` does that, so the handler stops the parser without it).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

# Multipart boundaries and the small form fields around one file.
MULTIPART_SLACK_BYTES = 64 * 1024
# What a refused body is read and dropped by: memory stays at one chunk, whatever its size.
DISCARD_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class OversizeUpload:
    file_name: str
    limit: int


class LimitedTemporaryFileUploadHandler(FileUploadHandler):
    """Streams each file to a temp file, hashing it; stops reading the upload once a file
    passes `max_bytes` and records that on `request.oversize_upload`.

    The temp file gets a fixed name (the user's file name may be 300 characters or carry
    anything); `uploaded.name` is the browser's name, already stripped of any path by Django.
    """

    # Read the body in 1 MiB pieces, not Django's 64 KiB: a 7.6 MB photo is then ~8 turns of
    # the multipart parser, not ~120, and gunicorn's reader (which receives up to 1 MiB at a
    # time) hands each piece over without copying what it received ahead again per piece.
    chunk_size = 1024 * 1024

    def __init__(self, request: HttpRequest, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.hasher = hashlib.sha256()

    def new_file(
        self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None
    ):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.received = 0
        self.hasher = hashlib.sha256()
        self.file = TemporaryUploadedFile(
            "upload", self.content_type, 0, self.charset, self.content_type_extra
        )
        self.file.name = self.file_name

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.request.oversize_upload = OversizeUpload(self.file_name or "", self.max_bytes)
            self.file.close()  # a NamedTemporaryFile: closing deletes it
            # connection_reset: the parser must not read the rest itself (it reads by lines);
            # the view answers, then discards the rest in chunks.
            raise StopUpload(connection_reset=True)
        self.hasher.update(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> TemporaryUploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.hasher.hexdigest()
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            with contextlib.suppress(OSError):
                self.file.close()


class BodyTooLarge(MultiPartParserError):
    """A body sent without Content-Length went on past the most an upload may be. A parser
    error, so Django marks the form data unreadable and never parses it again."""


class _TerminatedInput:
    """The request stream of a body sent without Content-Length (chunked), for servers whose
    wsgi.input ends where the body does: read in the sizes asked, never past `most_bytes`."""

    def __init__(self, stream, most_bytes: int):
        self.stream = stream
        self.most_bytes = most_bytes
        self.received = 0

    def _bounded(self, size: int | None) -> int:
        room = self.most_bytes + 1 - self.received
        return room if size is None or size < 0 else min(size, room)

    def _count(self, data: bytes) -> bytes:
        self.received += len(data)
        if self.received > self.most_bytes:
            raise BodyTooLarge("The upload is larger than any we accept.")
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        return self._count(self.stream.read(self._bounded(size)))

    def readline(self, size: int | None = -1, /) -> bytes:
        return self._count(self.stream.readline(self._bounded(size)))


def most_upload_bytes(max_bytes: int, *, most_files: int | None = None) -> int:
    """The largest body a request of at most `most_files` files of `max_bytes` each can be."""
    if most_files is None:
        most_files = settings.DATA_UPLOAD_MAX_NUMBER_FILES or 1
    return max_bytes * most_files + MULTIPART_SLACK_BYTES


def install_limited_handler(request: HttpRequest, *, max_bytes: int, most_bytes: int) -> None:
    """Use the limited handler for this request. Call before request.POST/FILES is read
    (so the view is csrf_exempt and checks CSRF itself afterwards, as Django documents).

    A body without Content-Length (chunked) reads as empty to Django; when the server says
    its input ends with the body (wsgi.input_terminated, as gunicorn does), it is read
    instead, and refused (`BodyTooLarge`) past `most_bytes`."""
    request.oversize_upload = None
    request.upload_handlers = [LimitedTemporaryFileUploadHandler(request, max_bytes=max_bytes)]
    environ = request.META
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
        # Django's request reads its body through `_stream`, bounded by the declared length,
        # and its parser skips a body declared empty: both are given what the server knows.
        request._stream = _TerminatedInput(environ["wsgi.input"], most_bytes)
        environ["CONTENT_LENGTH"] = str(most_bytes)  # the most it may be; the stream knows its end


def declared_length(request: HttpRequest) -> int | None:
    """The body's Content-Length, or None when it has none (chunked) or a broken one."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def discard_body(request: HttpRequest) -> None:
    """Read what is left of a refused body and drop it, one chunk at a time, so the client
    gets the answer: a server that closes a connection with the body still coming resets
    it, and the browser shows a dropped connection instead. A body declared larger than
    any upload may be is left unread (no form sends that much)."""
    length = declared_length(request)
    largest = most_upload_bytes(max(settings.PHOTO_MAX_BYTES, settings.DOCUMENT_MAX_BYTES))
    if length is not None and length > largest:
        return
    with contextlib.suppress(OSError, BodyTooLarge):
        while request.read(DISCARD_CHUNK_BYTES):
            pass


def close_uploaded_files(request: HttpRequest) -> None:
    """Close (and so delete) every temp file of this request now, not at the response's end."""
    files = getattr(request, "_files", None)
    if not files:
        return
    for uploaded in files.values():
        with contextlib.suppress(OSError):
            uploaded.close()


logger = logging.getLogger(__name__)

STORE_UNAVAILABLE = (
    "could not be stored just now: the file store did not answer. Nothing was saved; "
    "please upload it again in a minute."
)


class StoreUnavailable(Exception):
    """The private file store (the disk, or the S3 bucket past one machine) refused or did not
    answer a save; `reason` is what the uploader is told."""

    reason = STORE_UNAVAILABLE


def save_private(uploaded, storage_name: str) -> str:
    """Put an uploaded (temp) file into private storage under `storage_name`; the name used.

    On a local disk the temp file is moved there (a rename when FILE_UPLOAD_TEMP_DIR is on the
    same file system) instead of copying its megabytes; closing the upload afterwards finds
    nothing to delete. Other storages (S3) get a plain File, so the browser's declared
    content type never reaches the stored object.

    Raises StoreUnavailable when the store fails (a full disk, a bucket that is down or refuses
    us): the upload is answered in words instead of a 500, and nothing half-saved is kept."""
    uploaded.seek(0)
    try:
        if isinstance(default_storage, FileSystemStorage) and hasattr(uploaded, "temporary_file_path"):
            return default_storage.save(storage_name, uploaded)
        return default_storage.save(storage_name, File(uploaded, name=os.path.basename(storage_name)))
    except Exception as error:  # boto3's errors are not imported unless S3 is on
        logger.exception("could not store %s", storage_name)
        with contextlib.suppress(Exception):
            default_storage.delete(storage_name)
        raise StoreUnavailable(STORE_UNAVAILABLE) from error
