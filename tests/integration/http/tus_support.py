"""Raw tus requests for the protocol tests."""

from __future__ import annotations

import base64

import httpx2
from tests.integration.http.support import Headers

TUS = "/v1/tus/"
OCTETS = "application/offset+octet-stream"


def tus(headers: Headers, **extra: str) -> Headers:
    return {**headers, "Tus-Resumable": "1.0.0", **extra}


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(http: httpx2.Client, headers: Headers, length: int | None = None, **extra: str) -> str:
    """Create an upload; returns its path."""
    sized = {"Upload-Length": str(length)} if length is not None else {"Upload-Defer-Length": "1"}
    response = http.post(TUS, headers=tus(headers, **sized, **extra))
    assert response.status_code == 201, response.text
    return "/v1/tus/" + response.headers["location"].rsplit("/", 1)[1]


def patch(
    http: httpx2.Client, headers: Headers, path: str, offset: int, data: bytes, **extra: str
) -> httpx2.Response:
    chunk = tus(headers, **{"Content-Type": OCTETS, "Upload-Offset": str(offset)}, **extra)
    return http.patch(path, headers=chunk, content=data)
