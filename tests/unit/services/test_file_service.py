"""FileService over the in-memory adapters: listing, cursors, metadata, deletion."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from tests.unit.services.test_upload_service import (
    ADMIN,
    ALICE,
    BOB,
    REQUEST,
    Flaky,
    World,
    Wrapped,
)

from uploadcore.adapters.memory import FakeClock, InMemoryBlobStore
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import (
    InvalidInput,
    NotOwner,
    StorageUnavailable,
    UploadNotFound,
)
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload
from uploadcore.services.listing import FileQuery


@dataclass
class Files:
    """A World with the file use cases on top of its upload service."""

    world: World

    @property
    def files(self) -> Uploadcore:
        return self.world.core

    def completed(self, owner: Principal = ALICE) -> Upload:
        upload = self.world.initiate(owner=owner).upload
        refs = self.world.send_all(upload)
        return self.world.core.complete(owner, upload.id, refs)

    def listed(self, principal: Principal, **query: object) -> list[str]:
        page = self.files.list_files(principal, FileQuery(**query))  # type: ignore[arg-type]
        return [u.id for u in page.files]


@pytest.fixture
def files(clock: FakeClock) -> Files:
    return Files(World(clock))


# -- listing ------------------------------------------------------------------


def test_a_user_lists_only_their_own_completed_files_newest_first(
    files: Files, clock: FakeClock
) -> None:
    first = files.completed()
    clock.advance(1)
    second = files.completed()
    files.completed(owner=BOB)
    files.world.initiate()  # still uploading

    assert files.listed(ALICE) == [second.id, first.id]


def test_an_admin_lists_everyones_files_or_narrows_to_one_owner(files: Files) -> None:
    mine, bobs = files.completed(), files.completed(owner=BOB)

    assert set(files.listed(ADMIN)) == {mine.id, bobs.id}
    assert files.listed(ADMIN, owner="bob") == [bobs.id]


def test_a_user_naming_another_owner_is_refused_but_may_name_themself(files: Files) -> None:
    mine = files.completed()

    with pytest.raises(NotOwner):
        files.listed(ALICE, owner="bob")
    assert files.listed(ALICE, owner="alice") == [mine.id]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 1001},
        {"upload_status": "done"},
        {"parent_content_type": "blog.post"},
        {"parent_object_id": "42"},
    ],
)
def test_a_bad_listing_query_is_invalid_input(files: Files, query: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        files.listed(ALICE, **query)


def test_pages_chain_through_cursors_to_a_last_page_without_one(
    files: Files, clock: FakeClock
) -> None:
    made = []
    for _ in range(5):
        made.append(files.completed().id)
        clock.advance(1)
    seen, cursor = [], None
    while True:
        page = files.files.list_files(ALICE, FileQuery(limit=2, cursor=cursor))
        seen += [u.id for u in page.files]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == made[::-1]


def test_a_page_that_ends_exactly_at_the_last_file_has_no_next_cursor(files: Files) -> None:
    files.completed()
    files.completed()

    assert files.files.list_files(ALICE, FileQuery(limit=2)).next_cursor is None


def first_cursor(files: Files, principal: Principal = ALICE, **query: object) -> str:
    files.completed(owner=principal)
    files.completed(owner=principal)
    cursor = files.files.list_files(principal, FileQuery(limit=1, **query)).next_cursor  # type: ignore[arg-type]
    assert cursor is not None
    return cursor


def test_a_cursor_is_useless_to_another_user(files: Files) -> None:
    cursor = first_cursor(files)

    with pytest.raises(InvalidInput, match="another user"):
        files.files.list_files(BOB, FileQuery(limit=1, cursor=cursor))


def test_a_cursor_is_useless_with_other_filters(files: Files) -> None:
    cursor = first_cursor(files)

    with pytest.raises(InvalidInput, match="other filters"):
        files.files.list_files(ALICE, FileQuery(upload_status="all", cursor=cursor))


def test_a_tampered_cursor_is_invalid_input(files: Files) -> None:
    cursor = first_cursor(files)
    tampered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")

    with pytest.raises(InvalidInput, match="not issued by this service"):
        files.files.list_files(ALICE, FileQuery(cursor=tampered))


# -- metadata -----------------------------------------------------------------


def test_update_metadata_changes_the_name_and_moves_modified(
    files: Files, clock: FakeClock
) -> None:
    upload = files.completed()
    clock.advance(60)

    updated = files.files.update_file(
        ALICE, upload.id, MetadataUpdate.checked({"file_name": "new.txt"})
    )

    assert (updated.file_name, updated.modified) == ("new.txt", clock.now())
    assert updated.etag == upload.etag


def test_update_metadata_of_another_users_file_is_refused(files: Files) -> None:
    upload = files.completed()

    with pytest.raises(NotOwner):
        files.files.update_file(BOB, upload.id, MetadataUpdate.checked({"file_name": "x"}))


@pytest.mark.parametrize(
    "changes",
    [{"file_name": ""}, {"file_name": None}, {"file_name": "a/b"}, {"upload_status": "completed"}],
)
def test_a_metadata_update_is_checked_like_initiate(changes: dict[str, str | None]) -> None:
    with pytest.raises(InvalidInput):
        MetadataUpdate.checked(changes)


# -- deletion -----------------------------------------------------------------


def test_deleting_a_completed_file_removes_its_bytes_and_its_record(files: Files) -> None:
    upload = files.completed()

    files.files.delete_file(ALICE, upload.id)

    assert files.world.store.objects == {}
    assert files.world.repo.get(upload.id) is None


def test_deleting_an_upload_in_progress_aborts_it_and_frees_its_parts(files: Files) -> None:
    upload = files.world.initiate().upload
    files.world.send(upload, 1, b"abcd")

    files.files.delete_file(ALICE, upload.id)

    assert files.world.store.parts == {}
    assert files.world.repo.get(upload.id) is None


def test_a_deletion_interrupted_by_storage_hides_the_file_and_finishes_when_retried(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    flaky = Flaky(store, "delete", lambda: StorageUnavailable("the disk went away"))
    files = Files(World(clock, store=store, blobs=flaky))
    upload = files.completed()

    with pytest.raises(StorageUnavailable):
        files.files.delete_file(ALICE, upload.id)

    assert store.objects, "the bytes are still there"
    marked = files.world.repo.get(upload.id)
    assert marked is not None
    assert marked.deleted is not None, "so the record must not look whole"
    with pytest.raises(UploadNotFound):
        files.files.get_file(ALICE, upload.id)
    assert files.listed(ALICE) == []
    files.files.delete_file(ALICE, upload.id)
    assert store.objects == {}
    assert files.world.repo.get(upload.id) is None


def test_deleting_someone_elses_file_is_refused_and_changes_nothing(files: Files) -> None:
    upload = files.completed()

    with pytest.raises(NotOwner):
        files.files.delete_file(BOB, upload.id)

    assert files.files.get_file(ALICE, upload.id) == upload
    assert files.world.store.objects


def test_deleting_an_unknown_file_is_not_found(files: Files) -> None:
    with pytest.raises(UploadNotFound):
        files.files.delete_file(ALICE, "no-such-file")


class DeletesDuringAssembly(Wrapped):
    """Runs `during()` after the final object is written, before completion is recorded."""

    def __init__(self, store: InMemoryBlobStore) -> None:
        super().__init__(store)
        self.during: Callable[[], None] = lambda: None

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        super().assemble(upload, parts)
        self.during()


def test_a_file_deleted_while_it_was_being_assembled_leaves_no_bytes(clock: FakeClock) -> None:
    store = InMemoryBlobStore()
    racing = DeletesDuringAssembly(store)
    files = Files(World(clock, store=store, blobs=racing))
    upload = files.world.initiate().upload
    refs = files.world.send_all(upload)
    racing.during = lambda: files.files.delete_file(ALICE, upload.id)

    with pytest.raises(UploadNotFound):
        files.world.core.complete(ALICE, upload.id, refs)

    assert store.objects == {}
    assert files.world.repo.get(upload.id) is None


def test_the_upload_endpoints_no_longer_see_a_deleted_file(files: Files) -> None:
    upload = files.world.initiate(REQUEST).upload
    files.files.delete_file(ALICE, upload.id)

    for call in (
        lambda: files.world.core.upload_state(ALICE, upload.id),
        lambda: files.world.core.abort(ALICE, upload.id),
        lambda: files.files.get_file(ALICE, upload.id),
    ):
        with pytest.raises(UploadNotFound):
            call()
    assert files.world.repo.get(upload.id) is None
