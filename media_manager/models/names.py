"""Names people typed or their files carried: cleaned to show, and never used to store."""

from __future__ import annotations

import os
import re
import unicodedata
import uuid

FILE_NAME_MAX = 200

_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_display_text(text: str, *, max_length: int) -> str:
    """`text` without control, format (bidi overrides, zero-width) or unassigned characters,
    whitespace collapsed, cut to `max_length`."""
    text = unicodedata.normalize("NFC", text or "")
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES or ch.isspace()
    )
    return " ".join(kept.split())[:max_length].strip()


def clean_file_name(raw: str) -> str:
    """A file name fit to show and to offer in a download header: no path, no invisible
    characters, at most 200 characters (the extension kept)."""
    base = re.split(r"[\\/]", raw or "")[-1]
    base = clean_display_text(base, max_length=1000).lstrip(".-")
    stem, ext = os.path.splitext(base)
    if len(ext) > 10 or " " in ext:
        stem, ext = base, ""
    return (stem[: FILE_NAME_MAX - len(ext)].strip() + ext) or "file"


def name_from_file_name(raw: str, *, max_length: int, fallback: str) -> str:
    """The default Name of an upload: the file's name without extension, tidied and trimmed."""
    stem = os.path.splitext(clean_file_name(raw))[0].replace("_", " ")
    return clean_display_text(stem, max_length=max_length) or fallback


def random_storage_name(folder: str, extension: str) -> str:
    """A fresh private storage name, `folder/<32 hex>.<ext>`: nothing of the user's file name."""
    return f"{folder}/{uuid.uuid4().hex}.{extension}"
