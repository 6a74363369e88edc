"""Serving a stored file over HTTP: validators, conditional requests, one byte range.

RFC 9110 sections 13 and 14, for a representation that never changes once
it exists. The choices where the RFC leaves room (written down in the
OpenAPI description too):

- `ETag` is the file's S3-style multipart etag, quoted (a strong validator,
  the same S3 gives); `Last-Modified` is when the file was assembled.
- `If-Match` / `If-Unmodified-Since` that fail answer 412; `If-None-Match` /
  `If-Modified-Since` that match answer 304.
- `Range` is honoured for GET only (HEAD answers as a full GET would), for a
  single `bytes` range; several ranges, other units or a malformed header are
  ignored and the whole file is sent (as S3 does). An unsatisfiable range is
  416 with `Content-Range: bytes */SIZE`. `If-Range` that does not match
  strongly sends the whole file.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from uploadcore.entrypoints.http.problems import problem

CHUNK_SIZE = 256 * 1024  # one thread hop per chunk; large enough that the hops cost little
_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)
_BEYOND = 10**18  # past the end of any file


def _position(digits: str) -> int:
    """A byte position; any 19+ digits are past the end (int() refuses 4,300+ digits)."""
    return int(digits) if len(digits) < 19 else _BEYOND


@dataclass(frozen=True)
class Stored:
    """What the response needs to know about the stored file."""

    size: int
    mtime: float
    etag: str  # quoted

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)

    def validators(self) -> dict[str, str]:
        return {"ETag": self.etag, "Last-Modified": self.last_modified}


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque-tag) pairs of an entity-tag list; None for `*`."""
    if header.strip() == "*":
        return None
    return [(bool(m.group(1)), m.group(2)) for m in _ETAG.finditer(header)]


def _matches(header: str, etag: str, *, weak: bool) -> bool:
    tags = _tags(header)
    if tags is None:
        return True
    opaque = etag.strip('"')
    return any(tag == opaque and (weak or not is_weak) for is_weak, tag in tags)


def _seconds(header: str) -> float | None:
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def precondition(headers: Headers, stored: Stored, method: str) -> int | None:
    """412 or 304 when a condition says so (RFC 9110 13.2.2), else None."""
    if "if-match" in headers:
        if not _matches(headers["if-match"], stored.etag, weak=False):
            return 412
    elif "if-unmodified-since" in headers:
        since = _seconds(headers["if-unmodified-since"])
        if since is not None and int(stored.mtime) > since:
            return 412
    if "if-none-match" in headers:
        if _matches(headers["if-none-match"], stored.etag, weak=True):
            return 304 if method in ("GET", "HEAD") else 412
    elif "if-modified-since" in headers and method in ("GET", "HEAD"):
        since = _seconds(headers["if-modified-since"])
        if since is not None and int(stored.mtime) <= since:
            return 304
    return None


def byte_range(headers: Headers, stored: Stored) -> tuple[int, int] | None:
    """The (start, end) inclusive range to send, or None for the whole file.

    Raises RangeNotSatisfiable for a single range that starts past the end.
    """
    raw = headers.get("range")
    if raw is None or not _if_range_holds(headers.get("if-range"), stored):
        return None
    found = _RANGE.fullmatch(raw.strip())
    if found is None:
        return None  # several ranges, another unit, or malformed: send it all
    first, last = found.groups()
    if not first:
        if not last:
            return None
        suffix = _position(last)
        if suffix == 0 or stored.size == 0:
            raise RangeNotSatisfiable
        return max(stored.size - suffix, 0), stored.size - 1
    start = _position(first)
    end = stored.size - 1 if not last else min(_position(last), stored.size - 1)
    if last and _position(last) < start:
        return None  # an invalid range-spec is ignored, like a malformed header
    if start >= stored.size:
        raise RangeNotSatisfiable
    return start, end


def _if_range_holds(header: str | None, stored: Stored) -> bool:
    if header is None:
        return True
    if header.strip().startswith(('"', "W/")):
        return _matches(header, stored.etag, weak=False)
    moment = _seconds(header)
    return moment is not None and moment == int(stored.mtime)


class RangeNotSatisfiable(Exception):
    pass


def respond(
    fd: int, stored: Stored, method: str, headers: Headers, extra: dict[str, str]
) -> Response:
    """The response for a GET or HEAD of the open file `fd`; it closes `fd` in every case."""
    common = stored.validators() | {"Cache-Control": "private", "Accept-Ranges": "bytes"}
    try:
        status = precondition(headers, stored, method)
        if status == 304:
            os.close(fd)
            return Response(status_code=304, headers=common)
        if status == 412:
            os.close(fd)
            return problem(412, "precondition_failed", "Precondition failed", _why_412(headers))
        span = byte_range(headers, stored) if method == "GET" else None
    except RangeNotSatisfiable:
        os.close(fd)
        response = problem(
            416,
            "range_not_satisfiable",
            "Range not satisfiable",
            f"the file has {stored.size} bytes; the range asks for none of them",
        )
        response.headers.update(common | {"Content-Range": f"bytes */{stored.size}"})
        return response
    headers_out = common | extra
    if span is None:
        return FileStream(fd, 0, stored.size, 200, headers_out, send_body=method != "HEAD")
    start, end = span
    headers_out["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
    return FileStream(fd, start, end - start + 1, 206, headers_out)


def _why_412(headers: Headers) -> str:
    if "if-match" in headers or "if-none-match" in headers:
        return "the file's ETag does not satisfy the request's conditions"
    return "the file was modified after the If-Unmodified-Since date"


class FileStream(StreamingResponse):
    """Sends `length` bytes of an open file from `start`, then closes it, whatever happens.

    Reads happen on worker threads, a chunk at a time: the file is never in memory whole.
    """

    def __init__(
        self,
        fd: int,
        start: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
        *,
        send_body: bool = True,
    ) -> None:
        self._fd, self._start, self._length, self._send_body = fd, start, length, send_body
        super().__init__(_nothing(), status_code, headers | {"Content-Length": str(length)})

    async def stream_response(self, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            offset, remaining = self._start, self._length if self._send_body else 0
            while remaining:
                chunk = await anyio.to_thread.run_sync(
                    os.pread, self._fd, min(CHUNK_SIZE, remaining), offset
                )
                if not chunk:
                    raise OSError(f"the file ended {remaining} bytes early")
                offset += len(chunk)
                remaining -= len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                )
            if not self._send_body or not self._length:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            os.close(self._fd)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator
