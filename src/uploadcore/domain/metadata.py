"""Checks on the descriptive fields of a file: name, content type, parent."""

from __future__ import annotations

import re
import unicodedata

from uploadcore.domain.errors import FieldError, InvalidInput

MAX_TEXT = 255
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_PARAM = rf"\s*;\s*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\")"
_MIME = re.compile(rf"{_TOKEN}/{_TOKEN}(?:{_PARAM})*")
# Bidirectional overrides and isolates let a name display as something it is not.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Control, surrogate, and line/paragraph separator categories: none belong in a one-line name.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=(FieldError(field, message),))


def check_text(field: str, value: str) -> str:
    """A short single-line display string: 1-255 characters, no control characters."""
    if not 1 <= len(value) <= MAX_TEXT:
        raise invalid(field, f"must be 1 to {MAX_TEXT} characters, got {len(value)}")
    for ch in value:
        if ch in _BIDI or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            raise invalid(field, f"must not contain the control character U+{ord(ch):04X}")
    return value


def check_file_name(value: str) -> str:
    """A display name, never a path: no slashes, not `.` or `..`."""
    check_text("file_name", value)
    if "/" in value or "\\" in value or value.strip() in (".", ".."):
        raise invalid("file_name", "is a display name and must not be a path")
    return value


def check_content_type(value: str, field: str = "file_content_type") -> str:
    """A `type/subtype` MIME type, optionally with parameters."""
    if len(value) > MAX_TEXT or not _MIME.fullmatch(value):
        raise invalid(field, "must be a MIME type such as application/octet-stream")
    return value
