"""Downloads: validators, conditional requests, byte ranges, and streaming from disk."""

from __future__ import annotations

import asyncio
import os
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers as RequestHeaders
from starlette.types import Message
from tests.integration.http.support import PART, Harness, Headers, Json, assert_problem

from uploadcore.entrypoints.http import download

DATA = os.urandom(2 * PART + 100)
SIZE = len(DATA)


@pytest.fixture
def file(api: Harness, alice: Headers) -> Json:
    return api.client.upload(alice, DATA)


def fetch(api: Harness, file: Json, **headers: str) -> Any:
    return api.client.download(file["url"], {k.replace("_", "-"): v for k, v in headers.items()})


# -- validators ---------------------------------------------------------------------


def test_the_etag_is_the_files_multipart_etag_quoted(api: Harness, file: Json) -> None:
    response = fetch(api, file)

    assert response.headers["etag"] == f'"{file["etag"]}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"] == "private"
    assert response.headers["x-content-type-options"] == "nosniff"
    stored = api.final_files(file["id"])[0]
    assert response.headers["last-modified"] == formatdate(stored.stat().st_mtime, usegmt=True)


# -- ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=-1", SIZE - 1, SIZE - 1),
        ("bytes=10-20", 10, 20),
        ("bytes=100-", 100, SIZE - 1),
        (f"bytes=5-{SIZE + 1000}", 5, SIZE - 1),
        (f"bytes=-{SIZE + 1000}", 0, SIZE - 1),
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
        ("BYTES=1-2", 1, 2),
    ],
)
def test_a_single_range_is_206_with_exactly_those_bytes(
    api: Harness, file: Json, header: str, start: int, end: int
) -> None:
    response = fetch(api, file, Range=header)

    assert response.status_code == 206
    assert response.content == DATA[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["etag"] == f'"{file["etag"]}"'


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"])
def test_a_range_that_asks_for_no_byte_is_416(api: Harness, file: Json, header: str) -> None:
    response = fetch(api, file, Range=header)

    assert_problem(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-9", "items=0-5", "bytes=abc", "bytes=9-3", "bytes=-", "0-5"]
)
def test_several_ranges_or_a_malformed_one_send_the_whole_file(
    api: Harness, file: Json, header: str
) -> None:
    response = fetch(api, file, Range=header)

    assert response.status_code == 200
    assert response.content == DATA


def test_any_range_of_an_empty_file_is_416(api: Harness, alice: Headers) -> None:
    empty = api.client.upload(alice, b"")

    whole = fetch(api, empty)
    assert (whole.status_code, whole.content) == (200, b"")
    for header in ("bytes=0-0", "bytes=-1", "bytes=0-"):
        response = fetch(api, empty, Range=header)
        assert_problem(response, 416, "range_not_satisfiable")
        assert response.headers["content-range"] == "bytes */0"


def test_head_ignores_the_range_and_sends_the_full_headers(api: Harness, file: Json) -> None:
    response = api.client.http.head(file["url"], headers={"Range": "bytes=0-0"})

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["etag"] == f'"{file["etag"]}"'


# -- conditional requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
)
def test_if_none_match_that_matches_is_304_without_a_body(
    api: Harness, file: Json, if_none_match: str
) -> None:
    etag = f'"{file["etag"]}"'

    response = fetch(api, file, If_None_Match=if_none_match.format(etag=etag))

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


def test_if_none_match_that_differs_sends_the_file(api: Harness, file: Json) -> None:
    response = fetch(api, file, If_None_Match='"something-else"')

    assert (response.status_code, response.content) == (200, DATA)


def test_if_modified_since_is_304_unless_the_file_is_newer(api: Harness, file: Json) -> None:
    last_modified = fetch(api, file).headers["last-modified"]
    earlier = formatdate(parsedate_to_datetime(last_modified).timestamp() - 60, usegmt=True)

    assert fetch(api, file, If_Modified_Since=last_modified).status_code == 304
    assert fetch(api, file, If_Modified_Since=earlier).status_code == 200
    assert fetch(api, file, If_Modified_Since="not a date").status_code == 200


def test_if_none_match_wins_over_if_modified_since(api: Harness, file: Json) -> None:
    last_modified = fetch(api, file).headers["last-modified"]

    response = fetch(api, file, If_None_Match='"other"', If_Modified_Since=last_modified)

    assert response.status_code == 200


def test_if_range_with_the_current_etag_sends_the_range(api: Harness, file: Json) -> None:
    response = fetch(api, file, Range="bytes=0-9", If_Range=f'"{file["etag"]}"')

    assert (response.status_code, response.content) == (206, DATA[:10])


@pytest.mark.parametrize(
    "if_range", ['"stale-etag"', 'W/"{etag}"', "Mon, 01 Jan 2001 00:00:00 GMT"]
)
def test_if_range_that_does_not_match_sends_the_whole_file(
    api: Harness, file: Json, if_range: str
) -> None:
    response = fetch(api, file, Range="bytes=0-9", If_Range=if_range.format(etag=file["etag"]))

    assert (response.status_code, response.content) == (200, DATA)


def test_if_range_with_the_last_modified_date_sends_the_range(api: Harness, file: Json) -> None:
    last_modified = fetch(api, file).headers["last-modified"]

    response = fetch(api, file, Range="bytes=-3", If_Range=last_modified)

    assert (response.status_code, response.content) == (206, DATA[-3:])


def test_if_match_that_fails_is_412(api: Harness, file: Json) -> None:
    assert_problem(fetch(api, file, If_Match='"other"'), 412, "precondition_failed")
    assert fetch(api, file, If_Match=f'"{file["etag"]}"').status_code == 200


def test_if_unmodified_since_before_the_file_is_412(api: Harness, file: Json) -> None:
    response = fetch(api, file, If_Unmodified_Since="Mon, 01 Jan 2001 00:00:00 GMT")

    assert_problem(response, 412, "precondition_failed")


# -- streaming ---------------------------------------------------------------------------


def test_a_download_is_sent_in_chunks_and_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big"
    data = os.urandom(3 * download.CHUNK_SIZE + 17)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    stored = download.Stored(len(data), path.stat().st_mtime, '"e"')
    response = download.respond(fd, stored, "GET", RequestHeaders({}), {})
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(3600)  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "asgi": {"spec_version": "2.4"}}
    asyncio.run(response(scope, receive, send))

    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert b"".join(bodies) == data
    assert len(bodies) == 4
    assert max(map(len, bodies)) == download.CHUNK_SIZE
    assert not open_on(fd, path), "the file descriptor was left open"


def open_on(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except OSError:
        return False


def test_a_download_over_a_real_socket_is_byte_exact(live_server: Harness) -> None:
    alice = live_server.user("alice")
    data = os.urandom(600 * 1024 + 5)
    file = live_server.client.upload(alice, data, part_size=300 * 1024)

    response = live_server.client.download(file["url"])
    partial = live_server.client.download(file["url"], {"Range": "bytes=262140-262150"})

    assert response.content == data
    assert partial.content == data[262140:262151]
