"""Uploads filled by appending (tus) write the same events as any other, once each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.unit.services.support import compose

from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.memory import FakeClock, InMemoryRepository
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.append import Concat
from uploadcore.domain.events import EventType
from uploadcore.domain.upload import Principal
from uploadcore.services.append_start import NewAppend
from uploadcore.services.records import UploadPolicy

ALICE = Principal("alice")
CREATED, COMPLETED, ABORTED = (
    EventType.UPLOAD_CREATED,
    EventType.UPLOAD_COMPLETED,
    EventType.UPLOAD_ABORTED,
)


@pytest.fixture
def repo() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
def core(repo: InMemoryRepository, tmp_path: Path, clock: FakeClock) -> Uploadcore:
    return compose(UploadPolicy(), repo, LocalDiskBlobStore(tmp_path), clock)


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def types(repo: InMemoryRepository, file_id: str) -> list[EventType]:
    """The events of one file, oldest first."""
    found = reversed(repo.events(None, None, 10_000))
    return [r.event.type for r in found if r.event.file_id == file_id]


def appended(core: Uploadcore, data: bytes, concat: Concat = Concat.NONE) -> str:
    assert core.appends is not None
    upload, _ = core.appends.start(
        ALICE, NewAppend("a.bin", "application/octet-stream", len(data), concat=concat)
    )
    half = len(data) // 2
    asyncio.run(core.appends.append(ALICE, upload.id, 0, body(data[:half])))
    asyncio.run(core.appends.append(ALICE, upload.id, half, body(data[half:])))
    return upload.id


def test_a_tus_upload_writes_created_then_completed_once(
    core: Uploadcore, repo: InMemoryRepository
) -> None:
    file_id = appended(core, b"hello, tus")

    assert types(repo, file_id) == [CREATED, COMPLETED]


def test_a_terminated_tus_upload_writes_created_then_aborted(
    core: Uploadcore, repo: InMemoryRepository
) -> None:
    assert core.appends is not None
    upload, _ = core.appends.start(ALICE, NewAppend("a.bin", "text/plain", 10))

    core.abort(ALICE, upload.id)

    assert types(repo, upload.id) == [CREATED, ABORTED]


def test_partials_are_no_files_and_write_nothing_their_final_writes_both(
    core: Uploadcore, repo: InMemoryRepository
) -> None:
    assert core.appends is not None
    partials = [appended(core, data, Concat.PARTIAL) for data in (b"first ", b"second")]

    final, _ = core.appends.concatenate(ALICE, partials, "joined.txt", "text/plain")

    assert [types(repo, p) for p in partials] == [[], []]
    assert types(repo, final.id) == [CREATED, COMPLETED]
