"""The tus 1.0.0 headers: reading them into values, and the ones every answer carries."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from starlette.datastructures import Headers

from uploadcore.domain.digest import ALGORITHMS, Digest
from uploadcore.domain.errors import InvalidInput

TUS_VERSION = "1.0.0"
EXTENSIONS = (
    "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,"
    "concatenation"
)
CHECKSUM_ALGORITHMS = ",".join(sorted(ALGORITHMS))  # crc32, md5, sha1, sha256
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
TUS_PATH = "/v1/tus/"
# What a browser may send and read (CORS), tus-js-client's list.
REQUEST_HEADERS = (
    "Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length",
    "Upload-Concat", "Upload-Checksum", "X-HTTP-Method-Override", "X-Requested-With",
)  # fmt: skip
RESPONSE_HEADERS = (
    "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
    "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length", "Upload-Defer-Length",
    "Upload-Metadata", "Upload-Expires", "Upload-Concat",
)  # fmt: skip


def number(headers: Headers, name: str) -> int | None:
    """A non-negative integer header, or None when it is absent."""
    raw = headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InvalidInput(f"{name} must be a non-negative integer")
    return int(raw)


def metadata(raw: str) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs; a value may be absent."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        if not key or key in pairs or " " in encoded.strip():
            raise InvalidInput("Upload-Metadata must be `key base64value` pairs with distinct keys")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, ValueError):
            raise InvalidInput(f"Upload-Metadata {key[:40]!r} is not base64 of UTF-8") from None
    return pairs


def file_name_and_type(meta: Mapping[str, str]) -> tuple[str, str]:
    name = meta.get("filename") or meta.get("name") or "upload"
    content_type = meta.get("filetype") or meta.get("type") or "application/octet-stream"
    return name, content_type


def checksum(raw: str | None) -> Digest | None:
    """`Upload-Checksum: <algorithm> <base64>`; InvalidInput (400) for an unknown algorithm."""
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    if algorithm.lower() not in ALGORITHMS:
        raise InvalidInput(
            f"checksum algorithm {algorithm[:20]!r} is not one of {CHECKSUM_ALGORITHMS}"
        )
    try:
        value = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("Upload-Checksum must carry a base64 digest") from None
    return Digest(algorithm.lower(), value)


def final_parts(raw: str) -> list[str]:
    """The file ids of `Upload-Concat: final;<url> <url> …` (absolute or path URLs)."""
    ids = []
    for url in raw.removeprefix("final;").split():
        path = urlsplit(url).path.rstrip("/")
        head, _, file_id = path.rpartition("/")
        if not head.endswith(TUS_PATH.rstrip("/")) or not file_id:
            raise InvalidInput(f"{url[:100]!r} is not the URL of a tus upload")
        ids.append(file_id)
    return ids


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


__all__ = [
    "CHECKSUM_ALGORITHMS",
    "EXTENSIONS",
    "OFFSET_CONTENT_TYPE",
    "TUS_PATH",
    "TUS_VERSION",
    "checksum",
    "file_name_and_type",
    "final_parts",
    "http_date",
    "metadata",
    "number",
]
