"""Checks on the descriptive fields of a file: name, content type, parent."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote

from uploadcore.domain.errors import FieldError, InvalidInput
from uploadcore.domain.upload import Upload

MAX_TEXT = 255
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
# The type goes back out in a Content-Type header, so only what RFC 9110 8.3.1 allows:
# OWS is spaces and tabs (not `\s`, which takes CR and LF), and a quoted value is
# printable ASCII (a header carries latin-1 at most; obs-text is obsolete).
_PARAM = rf"[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"[\x20\x21\x23-\x5b\x5d-\x7e]*\")"
_MIME = re.compile(rf"{_TOKEN}/{_TOKEN}(?:{_PARAM})*")
# Bidirectional overrides and isolates let a name display as something it is not.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Control, surrogate, and line/paragraph separator categories: none belong in a one-line name.
_KINDS = {
    "Cc": "a control character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=(FieldError(field, message),))


def check_text(field: str, value: str) -> str:
    """A short single-line display string: 1-255 characters, nothing invisible or misleading."""
    if not 1 <= len(value) <= MAX_TEXT:
        raise invalid(field, f"must be 1 to {MAX_TEXT} characters, got {len(value)}")
    for ch in value:
        kind = "a bidirectional control" if ch in _BIDI else _KINDS.get(unicodedata.category(ch))
        if kind is not None:
            raise invalid(field, f"must not contain U+{ord(ch):04X} ({kind})")
    return value


def content_disposition(file_name: str) -> str:
    """RFC 6266: a plain-ASCII `filename` every client reads, plus `filename*` for the rest.

    The fallback drops what some clients mangle inside a quoted string (`"`, `\\`, `%`),
    the path separators `/` and `\\` (a naive client must not take a name for a path),
    and every control character, so the header never carries CR or LF. `filename*`
    percent-encodes every one of them, so it is exact and still a single token.
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%/' else "_" for c in file_name)
    header = f'attachment; filename="{fallback}"'
    if fallback != file_name:
        header += f"; filename*=UTF-8''{quote(file_name, safe='')}"
    return header


FALLBACK_CONTENT_TYPE = "application/octet-stream"


def header_content_type(stored: str) -> str:
    """The `Content-Type` to send for a stored file: its own, if it is a valid MIME type.

    Initiate refuses anything else, but a stored value may predate that check or
    come from another writer of the database: whatever it holds, CR, LF or other
    bytes never reach a response header.
    """
    if len(stored) > MAX_TEXT or not _MIME.fullmatch(stored):
        return FALLBACK_CONTENT_TYPE
    return stored


def check_file_name(value: str) -> str:
    """A display name, kept exactly as given: any text `check_text` accepts.

    `/` and `\\` are ordinary characters here (a folder upload names a file
    `photos/2024/a.jpg`; a Linux file may be called `back\\slash.txt`): a name
    never chooses where bytes are stored, and reaches a header only through
    `content_disposition`.
    """
    return check_text("file_name", value)


def check_content_type(value: str, field: str = "file_content_type") -> str:
    """A `type/subtype` MIME type, optionally with parameters."""
    if len(value) > MAX_TEXT or not _MIME.fullmatch(value):
        raise invalid(field, "must be a MIME type such as application/octet-stream")
    return value


EDITABLE = ("file_name", "parent_content_type", "parent_object_id")


@dataclass(frozen=True)
class MetadataUpdate:
    """New values for some of a file's editable fields; the fields not named keep theirs.

    Build one with `checked`, which holds the values to the rules of initiate.
    The parent fields may be cleared (None); a file always keeps a name.
    """

    changes: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def checked(cls, changes: Mapping[str, str | None]) -> MetadataUpdate:
        for field, value in changes.items():
            if field not in EDITABLE:
                raise invalid(field, f"cannot be changed; only {', '.join(EDITABLE)} can")
            if field == "file_name":
                if value is None:
                    raise invalid(field, "cannot be removed")
                check_file_name(value)
            elif value is not None:
                check_text(field, value)
        return cls(tuple((f, changes[f]) for f in EDITABLE if f in changes))

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.changes)

    def apply(self, upload: Upload, now: datetime) -> Upload:
        """The upload with the new values, modified `now` (unchanged if nothing changes)."""
        if not self.changes:
            return upload
        return replace(upload, modified=now, **self.as_dict())  # type: ignore[arg-type]
