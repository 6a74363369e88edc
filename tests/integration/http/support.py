"""What the HTTP tests share: a client that knows the steps of an upload, and checks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

Headers = dict[str, str]
Json = dict[str, Any]

PART = 1024  # the tests' MIN_PART_SIZE
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def split(data: bytes, part_size: int) -> list[bytes]:
    """The planned parts of `data`; a zero-byte file is one empty part."""
    return [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    """A body as an iterator, so the client streams it (chunked transfer encoding)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def request_for(data: bytes, part_size: int = PART, **extra: object) -> Json:
    """An initiate body planning `data` in parts of `part_size`."""
    return {
        "file_name": "data.bin",
        "file_size": len(data),
        "file_content_type": "application/octet-stream",
        "num_parts": len(split(data, part_size)),
        "part_size": max(part_size, 1),
        **extra,
    }


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def with_token(url: str, token: str) -> str:
    return url.split("?", 1)[0] + "?token=" + token


def assert_problem(response: httpx2.Response, status: int, code: str) -> Json:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: Json = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["type"], str)
    assert "Traceback" not in response.text
    return body


def metric(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include `labels`, in a Prometheus text scrape."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def error_fields(response: httpx2.Response) -> set[str]:
    """The fields a 400 validation_error names in its `errors` list."""
    body = assert_problem(response, 400, "validation_error")
    assert all(set(error) == {"field", "message"} for error in body["errors"]), body
    return {error["field"] for error in body["errors"]}


@dataclass(frozen=True)
class Started:
    """An initiated upload, and the parts planned for its data."""

    file_id: str
    upload_id: str
    urls: dict[int, str]
    chunks: list[bytes]
    body: Json

    def refs(self) -> list[Json]:
        """The completion list, with the etags of the planned chunks."""
        return [{"part_number": n, "etag": md5_hex(c)} for n, c in enumerate(self.chunks, 1)]


class UploadClient:
    """The upload API through an httpx2 client (a TestClient or a real connection)."""

    def __init__(self, http: httpx2.Client) -> None:
        self.http = http

    def initiate(self, headers: Headers, body: object) -> httpx2.Response:
        return self.http.post("/v1/files/uploads/", headers=headers, json=body)

    def start(
        self, headers: Headers, data: bytes, part_size: int = PART, **extra: object
    ) -> Started:
        response = self.initiate(headers, request_for(data, part_size, **extra))
        assert response.status_code == 201, response.text
        body: Json = response.json()
        urls = {u["part_number"]: u["url"] for u in body["presigned_urls"]}
        return Started(
            body["file_obj"]["id"], body["upload_id"], urls, split(data, part_size), body
        )

    def put_part(
        self, url: str, body: bytes | Iterable[bytes], headers: Headers | None = None
    ) -> httpx2.Response:
        return self.http.put(url, content=body, headers=headers)

    def put_parts(self, started: Started) -> list[Json]:
        """Upload every planned chunk; returns the completion list the responses give."""
        refs = []
        for number, chunk in enumerate(started.chunks, 1):
            response = self.put_part(started.urls[number], chunk)
            assert response.status_code == 200, response.text
            refs.append(response.json())
        return refs

    def state(self, headers: Headers, file_id: str) -> httpx2.Response:
        return self.http.get(f"/v1/files/uploads/{file_id}/", headers=headers)

    def complete(self, headers: Headers, file_id: str, parts: object) -> httpx2.Response:
        return self.http.post(
            f"/v1/files/uploads/{file_id}/complete/", headers=headers, json={"parts": parts}
        )

    def abort(self, headers: Headers, file_id: str) -> httpx2.Response:
        return self.http.delete(f"/v1/files/uploads/{file_id}/", headers=headers)

    def upload(self, headers: Headers, data: bytes, part_size: int = PART, **extra: object) -> Json:
        """Initiate, upload every part and complete; returns the completed file."""
        started = self.start(headers, data, part_size, **extra)
        refs = self.put_parts(started)
        response = self.complete(headers, started.file_id, refs)
        assert response.status_code == 200, response.text
        file: Json = response.json()
        return file

    def download(self, url: str, headers: Headers | None = None) -> httpx2.Response:
        return self.http.get(url, headers=headers)


@dataclass
class Harness:
    """The real app on SQLite and local disk, a client for it, and its moving clock."""

    settings: Settings
    core: Uploadcore
    clock: FakeClock
    client: UploadClient

    def user(self, name: str, *, admin: bool = False) -> Headers:
        """Create a user; returns the headers that authenticate as them."""
        new = create_user(self.core.users, name, admin, self.clock.now())
        return {"Authorization": f"Bearer {new.api_key}"}

    @property
    def media_root(self) -> Path:
        return self.settings.media_root

    def temp_dir(self, upload_id: str) -> Path:
        return self.media_root / "temp_uploads" / upload_id

    def final_files(self, file_id: str) -> list[Path]:
        """Every file under MEDIA_ROOT/files whose name mentions the file id."""
        root = self.media_root / "files"
        return sorted(p for p in root.rglob(f"*{file_id}*") if p.is_file())


# Builds the app with some settings replaced: `make_api(upload_expires_in=timedelta(minutes=30))`.
MakeApi = Callable[..., Harness]
