"""Part bodies longer than planned, bodies that stall, and a 10,000-part upload.

The socket tests speak HTTP/1.1 by hand to real uvicorn, so they see what a
client sees: whether the server answers before the body is over, and whether
it then closes the connection.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import timedelta

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send
from tests.integration.http.support import PART, assert_problem, md5_hex, request_for
from tests.integration.security.conftest import BODY_TIMEOUT, Hostile, Live

from uploadcore.entrypoints.http.problems import MAX_DETAIL
from uploadcore.entrypoints.http.timeouts import BodyTimeoutMiddleware
from uploadcore.settings import Settings, SettingsError

DATA = os.urandom(2 * PART)
OVERSIZED = 64 * 1024 * 1024  # what the client claims it would send


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one answer (the body by its Content-Length)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection without answering: {raw!r}"
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        body += sock.recv(65536)
    return int(status_line.split()[1]), headers, body


def closes(sock: socket.socket) -> bool:
    """Whether the server closes its side (False if it has not within the socket's timeout)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def part_request(live: Live, url: str, headers: str) -> bytes:
    path = url.split(str(live.port), 1)[1]
    return f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode()


def nothing_kept(hostile: Hostile, file_id: str, upload_id: str) -> None:
    assert hostile.api.client.state(hostile.alice, file_id).json()["parts"] == []
    assert list(hostile.api.temp_dir(upload_id).iterdir()) == []


def test_a_part_declared_longer_than_planned_is_413_before_its_body_is_sent(
    live: Live,
) -> None:
    hostile = live.hostile
    started = hostile.alice_upload(DATA)

    with live.connect() as sock:
        sock.sendall(part_request(live, started.urls[1], f"Content-Length: {OVERSIZED}\r\n"))
        status, headers, body = read_answer(sock)  # not one byte of the body was sent

        assert status == 413
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["code"] == "part_size_mismatch"
        assert closes(sock)
    nothing_kept(hostile, started.file_id, started.upload_id)


def test_a_streamed_part_longer_than_planned_is_413_before_the_client_finishes(
    live: Live,
) -> None:
    hostile = live.hostile
    started = hostile.alice_upload(DATA)
    # A little more than planned, of a body that would go on for 64 MiB: then wait. In one
    # write: sent piece by piece, the server may answer and close between two pieces.
    chunks = [b"400\r\n" + os.urandom(1024) + b"\r\n" for _ in range(PART // 1024 + 9)]
    sent = 1024 * len(chunks)

    with live.connect() as sock:
        sock.sendall(part_request(live, started.urls[1], "Transfer-Encoding: chunked\r\n"))
        sock.sendall(b"".join(chunks))
        status, _headers, body = read_answer(sock)

        assert status == 413, body
        assert json.loads(body)["code"] == "part_size_mismatch"
        assert sent < OVERSIZED
        assert closes(sock)
    nothing_kept(hostile, started.file_id, started.upload_id)


def test_a_part_body_that_stalls_is_cut_off_with_408_and_nothing_is_kept(live: Live) -> None:
    hostile = live.hostile
    started = hostile.alice_upload(DATA)

    with live.connect() as sock:
        sock.sendall(part_request(live, started.urls[1], f"Content-Length: {PART}\r\n"))
        sock.sendall(started.chunks[0][:100])  # then nothing more
        # Meanwhile the server serves everyone else.
        other = hostile.api.client.put_part(started.urls[2], started.chunks[1])
        status, headers, body = read_answer(sock)

        assert other.status_code == 200, other.text
        assert status == 408
        assert headers["connection"] == "close"
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["code"] == "request_timeout"
        assert closes(sock)
    state = hostile.api.client.state(hostile.alice, started.file_id).json()
    assert [p["part_number"] for p in state["parts"]] == [2]
    assert not list(hostile.api.temp_dir(started.upload_id).glob(".tmp-*"))


def test_a_json_body_that_stalls_is_cut_off_with_408(live: Live) -> None:
    hostile = live.hostile
    head = (
        "POST /v1/files/uploads/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {hostile.alice['Authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
    )

    with live.connect() as sock:
        sock.sendall(head.encode())
        status, _headers, body = read_answer(sock)

        assert status == 408
        assert json.loads(body)["code"] == "request_timeout"
        assert closes(sock)
    listing = hostile.http.get("/v1/files/?upload_status=all", headers=hostile.alice)
    assert listing.json()["results"] == []


def test_a_slow_but_steady_part_body_is_not_cut_off(live: Live) -> None:
    """The timeout bounds the silence between pieces, not the whole body."""
    hostile = live.hostile
    started = hostile.alice_upload(DATA)
    pieces = 8
    pause = BODY_TIMEOUT.total_seconds() / 5  # the body takes 8/5 of the timeout in all

    with live.connect() as sock:
        sock.sendall(part_request(live, started.urls[1], f"Content-Length: {PART}\r\n"))
        chunk = PART // pieces
        for start in range(0, PART, chunk):
            sock.sendall(started.chunks[0][start : start + chunk])
            time.sleep(pause)
        status, _, body = read_answer(sock)

    assert status == 200, body
    assert json.loads(body)["etag"] == md5_hex(started.chunks[0])


# -- 10,000 parts ----------------------------------------------------------------------------

MAX_PARTS = 10_000


def test_a_10000_part_upload_initiates_with_an_answer_of_reasonable_size(
    hostile: Hostile,
) -> None:
    body = request_for(b"", PART) | {"file_size": MAX_PARTS * PART, "num_parts": MAX_PARTS}

    response = hostile.api.client.initiate(hostile.alice, body)

    assert response.status_code == 201, response.text
    urls = response.json()["presigned_urls"]
    assert [u["part_number"] for u in urls] == list(range(1, MAX_PARTS + 1))
    assert len(response.content) < MAX_PARTS * 400  # one URL a part, nothing more
    file_id = response.json()["file_obj"]["id"]
    state = hostile.api.client.state(hostile.alice, file_id)
    assert state.json()["num_parts"] == MAX_PARTS
    assert len(state.content) < 4096


def test_completing_a_10000_part_upload_with_nothing_uploaded_is_a_short_400(
    hostile: Hostile,
) -> None:
    body = request_for(b"", PART) | {"file_size": MAX_PARTS * PART, "num_parts": MAX_PARTS}
    file_id = hostile.api.client.initiate(hostile.alice, body).json()["file_obj"]["id"]
    every_other = [{"part_number": n, "etag": "0" * 32} for n in range(1, MAX_PARTS + 1, 2)]
    every = [{"part_number": n, "etag": "0" * 32} for n in range(1, MAX_PARTS + 1)]

    for parts in (every_other, every):
        response = hostile.api.client.complete(hostile.alice, file_id, parts)
        problem = assert_problem(response, 400, "parts_incomplete")
        assert len(problem["detail"]) <= MAX_DETAIL
    refreshed = hostile.http.post(
        f"/v1/files/uploads/{file_id}/presigned-urls/", headers=hostile.alice
    )
    assert len(refreshed.json()["presigned_urls"]) == MAX_PARTS


@pytest.mark.parametrize("num_parts", [MAX_PARTS + 1, 10**9])
def test_more_parts_than_allowed_is_400(hostile: Hostile, num_parts: int) -> None:
    body = request_for(b"", PART) | {"file_size": num_parts * PART, "num_parts": num_parts}

    response = hostile.api.client.initiate(hostile.alice, body)

    assert response.status_code in (400, 413), response.text


# -- the timeout's own rules -----------------------------------------------------------------


def test_body_read_timeout_is_a_setting() -> None:
    settings = Settings.from_env({"UPLOADCORE_BODY_READ_TIMEOUT": "90s"})

    assert settings.body_read_timeout == timedelta(seconds=90)
    assert Settings().body_read_timeout == timedelta(seconds=60)
    with pytest.raises(SettingsError, match="UPLOADCORE_BODY_READ_TIMEOUT"):
        Settings.from_env({"UPLOADCORE_BODY_READ_TIMEOUT": "soon"})


@pytest.mark.parametrize(
    "headers",
    [[(b"content-length", b"2")], []],
    ids=["after-the-body", "without-a-body"],
)
def test_once_there_is_no_body_left_receive_waits_as_long_as_it_likes(
    headers: list[tuple[bytes, bytes]],
) -> None:
    """A download listens for the client going away for as long as it streams."""
    timeout = 0.05
    waited: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the body, if any
        with anyio.move_on_after(timeout * 4):
            await receive()  # a disconnect that never comes
        waited.append("no timeout")

    messages = [{"type": "http.request", "body": b"ok", "more_body": False}]

    async def client() -> Message:
        if messages:
            return messages.pop()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "headers": headers}
    anyio.run(BodyTimeoutMiddleware(app, timeout), scope, client, send)

    assert waited == ["no timeout"]
