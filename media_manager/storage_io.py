"""Private files between storage and this machine: a local copy for code that reads a path
(the photo pipeline and its isolation), the bytes for the push, a stream for the file views.

With the filesystem storage the stored file is its own local copy. With S3 (MEDIA_S3_BUCKET)
the web and worker processes share no disk, so nothing here asks for a storage path: the
original is downloaded to a temp file around the pipeline and deleted afterwards, and reads
stream from the bucket (docs/architecture.md#media-storage-past-one-machine).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage

COPY_CHUNK_BYTES = 1024 * 1024


def keeps_local_files(storage: Storage | None = None) -> bool:
    """True when the storage's files are on this machine's disk (a path may be handed out)."""
    return isinstance(storage if storage is not None else default_storage, FileSystemStorage)


def _s3_object(storage: Storage, name: str) -> Any | None:
    """The boto3 Object of a stored file when `storage` is S3, else None. Nothing is asked
    of the bucket yet: each read below is one request (a missing key fails in it)."""
    if keeps_local_files(storage):
        return None
    # Imported here: boto3 is loaded only by processes that use S3.
    from storages.backends.s3 import S3Storage

    if not isinstance(storage, S3Storage):
        return None
    key = posixpath.join(storage.location, name) if storage.location else name
    return storage.bucket.Object(key)


def _missing_as_not_found(error: Exception, name: str) -> Exception:
    """An object deleted between its HEAD and its GET reads as any missing file."""
    response = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 404 or response.get("Error", {}).get("Code") == "NoSuchKey":
        return FileNotFoundError(f"File does not exist: {name}")
    return error


@contextlib.contextmanager
def local_copy(storage_name: str) -> Iterator[str]:
    """A local path holding the stored file for the duration of the block: the file itself
    with the filesystem storage, else a temp copy (FILE_UPLOAD_TEMP_DIR) deleted afterwards.
    Raises FileNotFoundError when the file is not stored."""
    storage = default_storage
    if keeps_local_files(storage):
        path = storage.path(storage_name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"File does not exist: {storage_name}")
        yield path
        return
    suffix = os.path.splitext(storage_name)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        s3_object = _s3_object(storage, storage_name)
        if s3_object is not None:
            try:
                s3_object.download_fileobj(copy)
            except Exception as error:
                raise _missing_as_not_found(error, storage_name) from error
        else:
            with storage.open(storage_name, "rb") as source:
                shutil.copyfileobj(source, copy, COPY_CHUNK_BYTES)
        copy.flush()
        yield copy.name


def read_bytes(storage_name: str) -> bytes:
    """The whole stored file (the push sends it in one body)."""
    s3_object = _s3_object(default_storage, storage_name)
    if s3_object is None:
        with default_storage.open(storage_name, "rb") as handle:
            data: bytes = handle.read()
        return data
    try:
        data = s3_object.get()["Body"].read()
    except Exception as error:
        raise _missing_as_not_found(error, storage_name) from error
    return data


def open_stream(storage_name: str) -> tuple[IO[bytes], int | None]:
    """A readable handle on the stored file and its size when the handle cannot tell it, for
    a streaming response: from S3 the object's body as it arrives, never a whole copy in the
    web process. The caller closes the handle (FileResponse does). FileNotFoundError if absent."""
    s3_object = _s3_object(default_storage, storage_name)
    if s3_object is None:
        return default_storage.open(storage_name, "rb"), None
    try:
        answer = s3_object.get()
    except Exception as error:
        raise _missing_as_not_found(error, storage_name) from error
    return answer["Body"], int(answer["ContentLength"])
