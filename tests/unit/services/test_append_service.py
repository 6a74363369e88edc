"""Appending (tus PATCH) as a use case: on memory records and the local disk store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.services.support import compose

from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.bootstrap import Appends
from uploadcore.domain.errors import BodyInterrupted, OffsetMismatch, PartTooLarge
from uploadcore.domain.upload import Principal, UploadStatus
from uploadcore.services.append_start import NewAppend
from uploadcore.services.records import UploadPolicy

ALICE = Principal("alice")


class CutOff(Exception):
    """The client went away mid-body (what the server sees as a disconnect)."""


@pytest.fixture
def appends(tmp_path: Path, clock: FakeClock) -> Appends:
    core = compose(UploadPolicy(), InMemoryRepository(), LocalDiskBlobStore(tmp_path), clock)
    assert core.appends is not None
    return core.appends


async def body(*chunks: bytes, then: BaseException | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if then is not None:
        raise then


def start(appends: Appends, length: int | None) -> str:
    upload, _ = appends.start(ALICE, NewAppend("a.bin", "application/octet-stream", length))
    return upload.id


@pytest.mark.parametrize("cut", [CutOff(), BodyInterrupted("no byte for 60 s")])
def test_an_append_cut_off_midway_keeps_what_arrived_and_resumes_there(
    appends: Appends, tmp_path: Path, cut: Exception
) -> None:
    file_id = start(appends, 10)

    with pytest.raises(type(cut)):
        asyncio.run(appends.append(ALICE, file_id, 0, body(b"abc", b"def", then=cut)))

    _, appending = appends.state(ALICE, file_id)
    assert appending.offset == 6
    upload, done = asyncio.run(appends.append(ALICE, file_id, 6, body(b"ghij")))
    assert done.finished
    assert upload.status is UploadStatus.COMPLETED
    assert (tmp_path / upload.storage_key).read_bytes() == b"abcdefghij"


def test_a_refused_append_keeps_nothing(appends: Appends) -> None:
    file_id = start(appends, 4)
    asyncio.run(appends.append(ALICE, file_id, 0, body(b"ab")))

    with pytest.raises(PartTooLarge):
        asyncio.run(appends.append(ALICE, file_id, 2, body(b"cd", b"e")))

    assert appends.state(ALICE, file_id)[1].offset == 2
    upload, _ = asyncio.run(appends.append(ALICE, file_id, 2, body(b"cd")))
    assert upload.status is UploadStatus.COMPLETED


def test_a_second_append_while_one_runs_is_refused_and_bytes_never_interleave(
    appends: Appends, tmp_path: Path
) -> None:
    file_id = start(appends, 6)

    async def race() -> None:
        first_chunk_written = asyncio.Event()
        go_on = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"abc"
            first_chunk_written.set()
            await go_on.wait()
            yield b"def"

        first = asyncio.create_task(appends.append(ALICE, file_id, 0, slow()))
        await first_chunk_written.wait()
        with pytest.raises(OffsetMismatch):
            await appends.append(ALICE, file_id, 0, body(b"XYZXYZ"))
        go_on.set()
        upload, _ = await first
        assert (tmp_path / upload.storage_key).read_bytes() == b"abcdef"

    asyncio.run(race())


def test_a_deferred_length_is_declared_once(appends: Appends) -> None:
    file_id = start(appends, None)
    asyncio.run(appends.append(ALICE, file_id, 0, body(b"abc")))

    upload, appending = asyncio.run(appends.append(ALICE, file_id, 3, body(b"de"), length=5))

    assert (appending.length, upload.status, upload.file_size) == (5, UploadStatus.COMPLETED, 5)
