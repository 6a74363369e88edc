"""Racing requests against real uvicorn: the compare-and-set transitions hold."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import httpx2
import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Json,
    Started,
    chunked,
    md5_hex,
)

DATA = os.urandom(6 * PART + 123)

Call = Callable[[httpx2.AsyncClient], Awaitable[httpx2.Response]]


def run_together(server: Harness, *calls: Call) -> list[httpx2.Response]:
    """Send every request at once, each on its own connection; answers in call order."""

    async def main() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(
            base_url=server.client.http.base_url,
            timeout=60,
            trust_env=False,
            limits=httpx2.Limits(max_connections=len(calls)),
        ) as client:
            return list(await asyncio.gather(*(call(client) for call in calls)))

    return asyncio.run(main())


def put(url: str, body: bytes) -> Call:
    return lambda client: client.put(url, content=body)


def complete(started: Started, headers: Headers) -> Call:
    path = f"/v1/files/uploads/{started.file_id}/complete/"
    return lambda client: client.post(path, headers=headers, json={"parts": started.refs()})


def abort(started: Started, headers: Headers) -> Call:
    return lambda client: client.delete(f"/v1/files/uploads/{started.file_id}/", headers=headers)


def put_every_part(started: Started) -> list[Call]:
    return [put(started.urls[n], chunk) for n, chunk in enumerate(started.chunks, 1)]


@pytest.fixture
def alice(live_server: Harness) -> Headers:
    return live_server.user("alice")


@pytest.fixture
def uploaded(live_server: Harness, alice: Headers) -> Started:
    """An upload of DATA with every part received."""
    started = live_server.client.start(alice, DATA)
    live_server.client.put_parts(started)
    return started


def test_the_live_server_serves_a_whole_upload(live_server: Harness, alice: Headers) -> None:
    file = live_server.client.upload(alice, DATA)

    assert file["url"].startswith(str(live_server.client.http.base_url).rstrip("/"))
    assert live_server.client.download(file["url"]).content == DATA


def test_a_part_streamed_in_chunks_over_a_real_connection_is_stored_whole(
    live_server: Harness, alice: Headers
) -> None:
    data = os.urandom(3 * PART)
    started = live_server.client.start(alice, data, part_size=len(data))

    response = live_server.client.put_part(started.urls[1], chunked(data, 97))

    assert response.status_code == 200, response.text
    assert response.json()["etag"] == md5_hex(data)
    file = live_server.client.complete(alice, started.file_id, [response.json()]).json()
    assert live_server.client.download(file["url"]).content == data


def test_a_streamed_part_one_byte_long_is_refused_over_a_real_connection(
    live_server: Harness, alice: Headers
) -> None:
    started = live_server.client.start(alice, DATA)

    response = live_server.client.put_part(started.urls[1], chunked(DATA[: PART + 1], 100))

    assert response.status_code == 413
    assert live_server.client.state(alice, started.file_id).json()["parts"] == []


def test_eight_concurrent_completes_all_answer_the_same_file(
    live_server: Harness, alice: Headers, uploaded: Started
) -> None:
    responses = run_together(live_server, *[complete(uploaded, alice)] * 8)

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    files: list[Json] = [r.json() for r in responses]
    assert {f["id"] for f in files} == {uploaded.file_id}
    assert len({f["etag"] for f in files}) == 1
    assert {f["upload_status"] for f in files} == {"completed"}
    [final] = live_server.final_files(uploaded.file_id)
    assert final.read_bytes() == DATA
    for file in files:
        assert live_server.client.download(file["url"]).content == DATA
    assert not live_server.temp_dir(uploaded.upload_id).exists()


def test_parts_uploaded_concurrently_are_all_kept(live_server: Harness, alice: Headers) -> None:
    started = live_server.client.start(alice, DATA)

    responses = run_together(live_server, *put_every_part(started))

    assert [r.status_code for r in responses] == [200] * len(started.urls)
    state = live_server.client.state(alice, started.file_id).json()
    assert [p["part_number"] for p in state["parts"]] == list(started.urls)
    assert [p["etag"] for p in state["parts"]] == [md5_hex(c) for c in started.chunks]
    file = live_server.client.complete(alice, started.file_id, started.refs()).json()
    assert live_server.client.download(file["url"]).content == DATA


def test_the_same_part_uploaded_concurrently_keeps_one_whole_version(
    live_server: Harness, alice: Headers
) -> None:
    started = live_server.client.start(alice, DATA)
    versions = [os.urandom(PART) for _ in range(6)]

    responses = run_together(live_server, *(put(started.urls[1], v) for v in versions))

    assert [r.status_code for r in responses] == [200] * len(versions)
    [part] = live_server.client.state(alice, started.file_id).json()["parts"]
    winner = next(v for v in versions if md5_hex(v) == part["etag"])
    for number, chunk in enumerate(started.chunks[1:], 2):
        live_server.client.put_part(started.urls[number], chunk)
    refs = [{"part_number": 1, "etag": part["etag"]}, *started.refs()[1:]]
    file = live_server.client.complete(alice, started.file_id, refs).json()
    assert live_server.client.download(file["url"]).content == winner + DATA[PART:]


@pytest.mark.parametrize("size", [10, 6 * PART + 123])
@pytest.mark.parametrize("abort_first", [False, True], ids=["complete-first", "abort-first"])
def test_a_race_of_complete_and_abort_has_exactly_one_winner(
    live_server: Harness, alice: Headers, size: int, abort_first: bool
) -> None:
    """Either the file is complete with the right bytes, or aborted with no file: never both.

    (Abort usually wins, as completion has more to do: that is the harder case,
    where the finished assembly must be thrown away.)
    """
    data = os.urandom(size)
    started = live_server.client.start(alice, data, part_size=PART if size > PART else max(size, 1))
    live_server.client.put_parts(started)
    calls = [complete(started, alice), abort(started, alice)]

    if abort_first:
        aborted, completed = run_together(live_server, *reversed(calls))
    else:
        completed, aborted = run_together(live_server, *calls)

    status = live_server.client.state(alice, started.file_id).json()["upload_status"]
    assert not live_server.temp_dir(started.upload_id).exists()
    if status == "completed":
        assert (completed.status_code, aborted.status_code) == (200, 409)
        [final] = live_server.final_files(started.file_id)
        assert final.read_bytes() == data
        assert live_server.client.download(completed.json()["url"]).content == data
    else:
        assert status == "aborted"
        assert (completed.status_code, aborted.status_code) == (409, 204)
        assert live_server.final_files(started.file_id) == []
        assert not any(live_server.media_root.joinpath("files").rglob(".tmp-*"))


@pytest.mark.parametrize("abort_first", [False, True], ids=["part-first", "abort-first"])
def test_parts_racing_an_abort_leave_nothing_behind(
    live_server: Harness, alice: Headers, abort_first: bool
) -> None:
    started = live_server.client.start(alice, DATA)
    parts = put_every_part(started)
    calls = [abort(started, alice), *parts] if abort_first else [*parts, abort(started, alice)]

    answers = run_together(live_server, *calls)
    aborted, uploaded = (answers[0], answers[1:]) if abort_first else (answers[-1], answers[:-1])

    assert aborted.status_code == 204
    assert {r.status_code for r in uploaded} <= {200, 409}, [r.text for r in uploaded]
    assert live_server.client.state(alice, started.file_id).json()["upload_status"] == "aborted"
    assert not live_server.temp_dir(started.upload_id).exists()
    assert live_server.final_files(started.file_id) == []
