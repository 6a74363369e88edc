"""Every state change writes exactly one event in its own unit of work; hooks run after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.integration.contracts.test_repository import race
from tests.unit.services.test_upload_service import ALICE, REQUEST, World

from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.errors import InvalidState, PartMissing, Rejected
from uploadcore.domain.events import Event, EventType, file_representation
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.entrypoints.http.schemas import file_json
from uploadcore.services.initiate import NewUpload

CREATED, COMPLETED = EventType.UPLOAD_CREATED, EventType.UPLOAD_COMPLETED
ABORTED, FAILED = EventType.UPLOAD_ABORTED, EventType.UPLOAD_FAILED


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock)


def events(world: World, file_id: str | None = None) -> list[Event]:
    """The outbox's events, oldest first (of one file when given)."""
    found = [r.event for r in reversed(world.repo.events(None, None, 10_000))]
    return [e for e in found if file_id in (None, e.file_id)]


def types(world: World, upload: Upload) -> list[EventType]:
    return [e.type for e in events(world, upload.id)]


def uploaded(world: World) -> tuple[Upload, list[object]]:
    upload = world.initiate().upload
    return upload, list(world.send_all(upload))


def test_initiate_writes_upload_created_with_the_file_as_clients_see_it(world: World) -> None:
    upload = world.initiate().upload

    [event] = events(world)
    assert (event.type, event.file_id, event.id[:4]) == (CREATED, upload.id, "evt_")
    assert event.data == file_representation(upload)
    assert event.data["upload_status"] == "uploading"
    assert {**event.data, "url": None} == file_json(upload, None)


def test_a_completion_writes_one_upload_completed_and_a_repeat_writes_none(world: World) -> None:
    upload, refs = uploaded(world)

    done = world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]
    world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]

    assert types(world, upload) == [CREATED, COMPLETED]
    assert events(world, upload.id)[-1].data == file_representation(done)
    assert events(world, upload.id)[-1].data["etag"] == done.etag


def test_eight_racing_completions_write_one_upload_completed(world: World) -> None:
    upload, refs = uploaded(world)

    race(8, lambda _: world.core.complete(ALICE, upload.id, refs))  # type: ignore[arg-type]

    assert types(world, upload) == [CREATED, COMPLETED]


def test_completions_racing_aborts_write_one_terminal_event_the_winners(world: World) -> None:
    for _ in range(10):
        upload, refs = uploaded(world)

        def complete_or_abort(i: int, upload: Upload = upload, refs: object = refs) -> None:
            try:
                if i % 2:
                    world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]
                else:
                    world.core.abort(ALICE, upload.id)
            except InvalidState:
                pass  # the other side won

        race(8, complete_or_abort)

        final = world.status(upload)
        assert types(world, upload) == [
            CREATED,
            COMPLETED if final is UploadStatus.COMPLETED else ABORTED,
        ]


def test_an_abort_writes_upload_aborted_once(world: World) -> None:
    upload = world.initiate().upload

    world.core.abort(ALICE, upload.id)
    world.core.abort(ALICE, upload.id)

    assert types(world, upload) == [CREATED, ABORTED]
    assert events(world, upload.id)[-1].data["upload_status"] == "aborted"


def test_an_admin_abort_writes_upload_aborted(world: World) -> None:
    upload = world.initiate().upload

    world.core.force_abort(upload.id)

    assert types(world, upload) == [CREATED, ABORTED]


def test_a_part_lost_from_storage_writes_upload_failed(world: World) -> None:
    upload, refs = uploaded(world)
    world.store.parts[upload.upload_id].clear()

    with pytest.raises(PartMissing):
        world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]

    assert types(world, upload) == [CREATED, FAILED]


def test_a_metadata_change_writes_file_updated_and_an_empty_one_nothing(world: World) -> None:
    upload = world.initiate().upload

    world.core.update_file(ALICE, upload.id, MetadataUpdate.checked({"file_name": "b.txt"}))
    world.core.update_file(ALICE, upload.id, MetadataUpdate.checked({}))

    assert types(world, upload) == [CREATED, EventType.FILE_UPDATED]
    assert events(world, upload.id)[-1].data["file_name"] == "b.txt"


def test_deleting_an_upload_in_progress_writes_upload_aborted_then_file_deleted(
    world: World,
) -> None:
    upload = world.initiate().upload

    world.core.delete_file(ALICE, upload.id)

    assert types(world, upload) == [CREATED, ABORTED, EventType.FILE_DELETED]


def test_racing_deletions_of_a_file_write_one_file_deleted(world: World) -> None:
    upload, refs = uploaded(world)
    world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]
    world.store.delete = lambda upload: None  # type: ignore[method-assign]
    world.repo.remove = lambda file_id: False  # type: ignore[method-assign]  # keep the record

    race(8, lambda _: world.core.delete_file(ALICE, upload.id))

    assert types(world, upload) == [CREATED, COMPLETED, EventType.FILE_DELETED]


def test_gc_writes_one_upload_aborted_per_upload_it_aborts(world: World, clock: FakeClock) -> None:
    expired = [world.initiate().upload for _ in range(3)]
    clock.advance(timedelta(days=2))
    fresh = world.initiate().upload

    report = world.core.gc(timedelta(days=7)).collect()

    assert report.expired == 3
    for upload in expired:
        assert types(world, upload) == [CREATED, ABORTED]
    assert types(world, fresh) == [CREATED]
    assert world.core.gc(timedelta(days=7)).collect().expired == 0
    assert len(events(world)) == 7


def test_handlers_run_after_commit_for_their_type_only(world: World) -> None:
    seen: list[tuple[EventType, UploadStatus | None]] = []

    def on_completed(event: Event) -> None:
        stored = world.repo.get(event.file_id)  # the change is visible: it committed
        seen.append((event.type, None if stored is None else stored.status))

    world.core.on("upload.completed", on_completed)
    upload, refs = uploaded(world)
    world.core.complete(ALICE, upload.id, refs)  # type: ignore[arg-type]

    assert seen == [(COMPLETED, UploadStatus.COMPLETED)]


def test_a_failing_handler_changes_nothing_for_the_caller(world: World) -> None:
    every: list[EventType] = []

    def broken(event: Event) -> None:
        raise RuntimeError("handler bug")

    world.core.on(None, broken)
    world.core.on(None, lambda event: every.append(event.type))

    upload = world.initiate().upload

    assert every == [CREATED]
    assert world.status(upload) is UploadStatus.UPLOADING


def test_before_initiate_can_reject_an_upload_with_a_reason(world: World) -> None:
    asked: list[tuple[str, str]] = []

    def no_executables(principal: Principal, request: NewUpload) -> str | None:
        asked.append((principal.name, request.file_name))
        return "executables are not accepted" if request.file_name.endswith(".exe") else None

    world.core.before_initiate(no_executables)

    with pytest.raises(Rejected, match="executables are not accepted") as rejected:
        world.initiate(NewUpload("setup.exe", 10, "application/octet-stream", 3, 4))
    assert rejected.value.code == "rejected"
    assert world.initiate(REQUEST).upload.file_name == "notes.txt"
    assert asked == [("alice", "setup.exe"), ("alice", "notes.txt")]
    assert [e.data["file_name"] for e in events(world)] == ["notes.txt"]
