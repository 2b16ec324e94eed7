"""Receiving files: a streaming upload handler with a per-file byte limit, and the file
moves around it (temp file -> private storage, storage -> local path for the pipeline).

Uploads never sit whole in memory: every file streams to a temp file (hashed on the way),
and the handler stops as soon as one passes its limit, deleting what it wrote. The view
must install the handler before anything reads the body (see `install_limited_handler`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

# Multipart boundaries and the small form fields around one file.
MULTIPART_SLACK_BYTES = 64 * 1024


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
            raise StopUpload(connection_reset=False)
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


def install_limited_handler(request: HttpRequest, *, max_bytes: int) -> None:
    """Use the limited handler for this request. Call before request.POST/FILES is read
    (so the view is csrf_exempt and checks CSRF itself afterwards, as Django documents)."""
    request.oversize_upload = None
    request.upload_handlers = [LimitedTemporaryFileUploadHandler(request, max_bytes=max_bytes)]


def body_surely_too_large(request: HttpRequest, *, max_bytes: int) -> bool:
    """True when the declared body cannot fit even the most files a request may carry."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    most_files = settings.DATA_UPLOAD_MAX_NUMBER_FILES or 1
    return length > max_bytes * most_files + MULTIPART_SLACK_BYTES


def close_uploaded_files(request: HttpRequest) -> None:
    """Close (and so delete) every temp file of this request now, not at the response's end."""
    files = getattr(request, "_files", None)
    if not files:
        return
    for uploaded in files.values():
        with contextlib.suppress(OSError):
            uploaded.close()


def save_private(uploaded, storage_name: str) -> str:
    """Copy an uploaded (temp) file into private storage under `storage_name`; the name used."""
    uploaded.seek(0)
    return default_storage.save(storage_name, File(uploaded, name=os.path.basename(storage_name)))


@contextlib.contextmanager
def local_path(storage_name: str) -> Iterator[str]:
    """A local file path holding the stored file: the storage's own path when it has one
    (filesystem), else a temp copy deleted afterwards (S3)."""
    try:
        path = default_storage.path(storage_name)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    suffix = os.path.splitext(storage_name)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        with default_storage.open(storage_name, "rb") as source:
            shutil.copyfileobj(source, copy, 1024 * 1024)
        copy.flush()
        yield copy.name
