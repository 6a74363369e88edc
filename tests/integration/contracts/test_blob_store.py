"""The BlobStore (and ReceivesParts) contract, held against every store.

S3 runs twice: in-process under moto, and on Ceph RADOS Gateway (a real S3
implementation, when UPLOADCORE_TEST_S3_ENDPOINT_URL names one; skipped
otherwise). Clients put its parts with `UploadPart` (what a presigned PUT
does) and its final object is read with `GetObject`. S3 turns
the parts into the object when it completes, so it keeps no parts afterwards
and joins them in part-number order only (`forgets_parts`). The local-disk
extras at the end check what only a disk has: where files live, temporary
files, a full disk, the copy fallback.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import moto
import moto.s3.models
import pytest
from tests.integration.s3.support import FAKE_AWS_ENV, STORES, rgw_blob_store

from uploadcore import bootstrap
from uploadcore.adapters import local
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.memory import InMemoryBlobStore
from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import (
    InsufficientStorage,
    InvalidState,
    PartMissing,
    UploadNotFound,
)
from uploadcore.domain.parts import PartPlan, ReceivedPart, multipart_etag, normalize_etag
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore, ReceivesParts, ServesFiles
from uploadcore.settings import Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class ReceivingStore(BlobStore, ReceivesParts, Protocol):
    """A store the service streams part bodies into."""


@pytest.fixture(params=["memory", "local", *STORES])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param in STORES:
        s3: BlobStore = request.getfixturevalue(f"{request.param}_s3")
        return s3
    store: ReceivingStore
    if request.param == "memory":
        store = InMemoryBlobStore()
    else:
        store = LocalDiskBlobStore(tmp_path / "media")
    return store


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3BlobStore]:
    """An S3BlobStore on the client the bootstrap builds, against moto in-process."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    # The suite's parts are a few bytes; S3 (and moto) want 5 MiB but for the last.
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 0)
    settings = Settings(upload_storage_handler="s3", aws_storage_bucket_name="contract")
    with moto.mock_aws():
        store = bootstrap.s3_blob_store(settings)
        store.client.create_bucket(Bucket="contract")
        yield store


@pytest.fixture
def rgw_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3BlobStore]:
    """An S3BlobStore on the client the bootstrap builds, against Ceph RGW (a bucket of its own)."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with rgw_blob_store() as store:
        yield store


@pytest.fixture
def disk(tmp_path: Path) -> LocalDiskBlobStore:
    return LocalDiskBlobStore(tmp_path / "media")


# -- helpers ------------------------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def new_upload(store: BlobStore, file_id: str = "f1le0123", file_name: str = "a.bin") -> Upload:
    """An upload whose storage `store` has just prepared."""
    prepared = store.prepare(file_id, "application/octet-stream")
    return Upload(
        id=file_id,
        upload_id=prepared.upload_id,
        storage_key=prepared.storage_key,
        owner="alice",
        file_name=file_name,
        file_content_type="application/octet-stream",
        plan=PartPlan(0, 1, 1),  # stores do not read the plan
        status=UploadStatus.UPLOADING,
        created=NOW,
        modified=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def receiver(store: BlobStore) -> ReceivesParts:
    if not isinstance(store, ReceivesParts):
        pytest.skip("parts go from clients straight to this store")
    return store


def forgets_parts(store: BlobStore) -> bool:
    """S3 turns the parts into the object: once assembled or aborted, it holds no parts."""
    return isinstance(store, S3BlobStore)


def listed(store: BlobStore, upload: Upload) -> list[ReceivedPart]:
    """`list_parts`, reading "storage no longer knows the upload" (PartMissing) as none."""
    try:
        return list(store.list_parts(upload))
    except PartMissing:
        assert forgets_parts(store)
        return []


def put_part(store: BlobStore, upload: Upload, number: int, data: bytes) -> ReceivedPart:
    """Store one part the way clients of this store do."""
    if isinstance(store, S3BlobStore):  # what a PUT to a presigned part URL does
        answer = store.client.upload_part(
            Bucket=store.bucket,
            Key=upload.storage_key,
            UploadId=upload.upload_id,
            PartNumber=number,
            Body=data,
        )
        return ReceivedPart(number, normalize_etag(answer["ETag"]), len(data))
    writer = receiver(store).open_part(upload, number)
    writer.write(data)
    return writer.commit()


def final_bytes(store: BlobStore, upload: Upload) -> bytes | None:
    """The final object's bytes, or None if there is none."""
    if isinstance(store, InMemoryBlobStore):
        return store.objects.get(upload.storage_key)
    if isinstance(store, S3BlobStore):
        try:
            answer = store.client.get_object(Bucket=store.bucket, Key=upload.storage_key)
        except store.client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()
    if isinstance(store, ServesFiles):
        try:
            opened = store.open_file(upload)
        except UploadNotFound:
            return None
        with os.fdopen(opened.fd, "rb") as stored:
            return stored.read()
    raise NotImplementedError(f"no reader for {type(store).__name__}")


def leftovers(root: Path) -> list[Path]:
    """Temporary files under a media root: none may outlive the call that made them."""
    return sorted(root.rglob(".tmp-*"))


# -- prepare, receive ---------------------------------------------------------


def test_prepare_gives_every_upload_its_own_storage(blob_store: BlobStore) -> None:
    first = blob_store.prepare("f1le0001", "video/mp4")
    second = blob_store.prepare("f1le0002", "video/mp4")

    assert first.upload_id
    assert first.upload_id != second.upload_id
    assert first.storage_key != second.storage_key


def test_a_committed_part_has_the_md5_etag_and_size_of_its_bytes(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    writer = receiver(blob_store).open_part(upload, 3)

    writer.write(b"hello, ")
    writer.write(bytearray(b"world"))
    assert writer.digest.hex() == md5(b"hello, world")
    assert writer.digest == Digest.of("md5", b"hello, world")
    received = writer.commit()

    assert received == ReceivedPart(3, md5(b"hello, world"), 12)
    assert blob_store.list_parts(upload) == [received]


def test_an_empty_part_is_stored_and_assembles_into_an_empty_file(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)

    received = put_part(blob_store, upload, 1, b"")
    blob_store.assemble(upload, [received])

    assert received == ReceivedPart(1, md5(b""), 0)
    assert final_bytes(blob_store, upload) == b""


def test_a_discarded_part_keeps_nothing_and_discard_is_idempotent(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    writer = receiver(blob_store).open_part(upload, 1)
    writer.write(b"half a part")

    writer.discard()
    writer.discard()

    assert list(blob_store.list_parts(upload)) == []
    with pytest.raises(PartMissing):
        blob_store.assemble(upload, [ReceivedPart(1, md5(b"half a part"), 11)])


def test_list_parts_lists_each_part_once_in_part_number_order(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    received = {n: put_part(blob_store, upload, n, f"part {n}".encode()) for n in (10, 2, 1)}

    assert blob_store.list_parts(upload) == [received[1], received[2], received[10]]


def test_list_parts_shows_a_re_uploaded_part_once(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    old = put_part(blob_store, upload, 1, b"old bytes")
    new = put_part(blob_store, upload, 1, b"new bytes, longer")

    listed = blob_store.list_parts(upload)

    assert len(listed) == 1
    assert listed[0] in (old, new)


def test_a_part_still_being_received_is_not_listed(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    done = put_part(blob_store, upload, 1, b"done")
    writer = receiver(blob_store).open_part(upload, 2)
    writer.write(b"half")

    assert blob_store.list_parts(upload) == [done]
    writer.discard()


def test_list_parts_of_another_upload_is_empty(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store, "f1le0001")
    put_part(blob_store, upload, 1, b"bytes")

    assert list(blob_store.list_parts(new_upload(blob_store, "f1le0002"))) == []


# -- assemble -----------------------------------------------------------------


def test_assemble_concatenates_the_parts_in_the_order_given(blob_store: BlobStore) -> None:
    if forgets_parts(blob_store):
        pytest.skip("S3 joins parts in part-number order only (the order the service uses)")
    upload = new_upload(blob_store)
    one, two, three = (put_part(blob_store, upload, n, bytes([n]) * 1000) for n in (1, 2, 3))

    blob_store.assemble(upload, [two, one, three])

    assert final_bytes(blob_store, upload) == b"\x02" * 1000 + b"\x01" * 1000 + b"\x03" * 1000


def test_assemble_is_idempotent_and_keeps_the_parts(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    parts = [put_part(blob_store, upload, n, f"part {n};".encode()) for n in (1, 2)]

    blob_store.assemble(upload, parts)
    blob_store.assemble(upload, parts)

    assert final_bytes(blob_store, upload) == b"part 1;part 2;"
    assert listed(blob_store, upload) == ([] if forgets_parts(blob_store) else parts)


def test_s3_assemble_answers_the_etag_of_the_object_it_made(blob_store: BlobStore) -> None:
    if not isinstance(blob_store, S3BlobStore):
        pytest.skip("an S3 etag")
    upload = new_upload(blob_store)
    parts = [put_part(blob_store, upload, n, f"part {n};".encode()) for n in (1, 2)]

    # Ceph RGW answers the first CompleteMultipartUpload with an empty <ETag>
    # (a repeated one, and moto, with the etag): the store computes it then.
    etag = blob_store.assemble(upload, parts)

    head = blob_store.client.head_object(Bucket=blob_store.bucket, Key=upload.storage_key)
    assert etag == multipart_etag([p.etag for p in parts]) == normalize_etag(head["ETag"])


def test_assemble_with_a_part_never_stored_raises_part_missing_naming_it(
    blob_store: BlobStore,
) -> None:
    upload = new_upload(blob_store)
    one = put_part(blob_store, upload, 1, b"one")
    ghost = ReceivedPart(2, md5(b"two"), 3)

    with pytest.raises(PartMissing, match=r"\bpart 2\b") as missing:
        blob_store.assemble(upload, [one, ghost])

    assert missing.value.part_number == 2
    assert final_bytes(blob_store, upload) is None


def test_assemble_with_a_part_of_another_size_raises_part_missing(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    one = put_part(blob_store, upload, 1, b"one")

    with pytest.raises(PartMissing) as missing:
        blob_store.assemble(upload, [ReceivedPart(1, one.etag, one.size + 1)])

    assert missing.value.part_number == 1
    assert final_bytes(blob_store, upload) is None


def test_a_re_uploaded_part_leaves_the_old_version_readable_by_its_etag(
    blob_store: BlobStore,
) -> None:
    if forgets_parts(blob_store):
        pytest.skip("S3 keeps the newest upload of a part only, and joins an upload once")
    upload = new_upload(blob_store)
    old = put_part(blob_store, upload, 1, b"old bytes")
    tail = put_part(blob_store, upload, 2, b"|tail")
    new = put_part(blob_store, upload, 1, b"new bytes")

    blob_store.assemble(upload, [old, tail])
    assert final_bytes(blob_store, upload) == b"old bytes|tail"

    blob_store.assemble(upload, [new, tail])
    assert final_bytes(blob_store, upload) == b"new bytes|tail"


# -- release, abort, delete ---------------------------------------------------


def test_release_parts_frees_every_part_keeps_the_file_and_is_idempotent(
    blob_store: BlobStore,
) -> None:
    upload = new_upload(blob_store)
    parts = [put_part(blob_store, upload, n, b"x" * n) for n in (1, 2)]
    blob_store.assemble(upload, parts)

    blob_store.release_parts(upload)
    blob_store.release_parts(upload)

    assert listed(blob_store, upload) == []
    assert final_bytes(blob_store, upload) == b"xxx"
    if forgets_parts(blob_store):  # S3 recognises its own completion: assembling is a no-op
        blob_store.assemble(upload, parts)
        assert final_bytes(blob_store, upload) == b"xxx"
    else:
        with pytest.raises(PartMissing):
            blob_store.assemble(upload, parts)


def test_abort_frees_every_part_and_is_idempotent(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    parts = [put_part(blob_store, upload, n, b"y" * n) for n in (1, 2)]
    put_part(blob_store, upload, 1, b"z")

    blob_store.abort(upload)
    blob_store.abort(upload)

    assert listed(blob_store, upload) == []
    with pytest.raises(PartMissing):
        blob_store.assemble(upload, parts)
    assert final_bytes(blob_store, upload) is None


def test_abort_leaves_other_uploads_alone(blob_store: BlobStore) -> None:
    doomed = new_upload(blob_store, "f1le0001")
    kept = new_upload(blob_store, "f1le0002")
    put_part(blob_store, doomed, 1, b"doomed")
    survivor = put_part(blob_store, kept, 1, b"kept")

    blob_store.abort(doomed)

    assert blob_store.list_parts(kept) == [survivor]


def test_open_part_after_abort_raises_invalid_state(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    blob_store.abort(upload)

    with pytest.raises(InvalidState):
        receiver(blob_store).open_part(upload, 1)


def test_open_part_after_release_parts_raises_invalid_state(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    blob_store.assemble(upload, [put_part(blob_store, upload, 1, b"only part")])
    blob_store.release_parts(upload)

    with pytest.raises(InvalidState):
        receiver(blob_store).open_part(upload, 1)


def test_a_part_committed_after_an_abort_raises_invalid_state_and_is_not_kept(
    blob_store: BlobStore,
) -> None:
    upload = new_upload(blob_store)
    writer = receiver(blob_store).open_part(upload, 1)
    writer.write(b"in flight")

    blob_store.abort(upload)
    with pytest.raises(InvalidState):
        writer.commit()
    writer.discard()

    assert list(blob_store.list_parts(upload)) == []


def test_delete_removes_the_final_object_and_is_idempotent(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    blob_store.assemble(upload, [put_part(blob_store, upload, 1, b"final")])
    blob_store.release_parts(upload)

    blob_store.delete(upload)
    blob_store.delete(upload)

    assert final_bytes(blob_store, upload) is None


def test_delete_of_an_upload_never_assembled_does_nothing(blob_store: BlobStore) -> None:
    upload = new_upload(blob_store)
    part = put_part(blob_store, upload, 1, b"part")

    blob_store.delete(upload)

    assert blob_store.list_parts(upload) == [part]
    assert final_bytes(blob_store, upload) is None


# -- local disk only ------------------------------------------------------------


def test_local_parts_live_in_the_upload_temp_dir_until_released(
    disk: LocalDiskBlobStore,
) -> None:
    upload = new_upload(disk)
    temp = disk.root / "temp_uploads" / upload.upload_id
    assert temp.is_dir()

    part = put_part(disk, upload, 1, b"bytes")
    assert [p.name for p in temp.iterdir()] == [f"00001.{part.etag}"]

    disk.assemble(upload, [part])
    disk.release_parts(upload)
    assert not temp.exists()


def test_local_abort_removes_the_upload_temp_dir(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk)
    put_part(disk, upload, 1, b"bytes")

    disk.abort(upload)
    disk.abort(upload)

    assert not (disk.root / "temp_uploads" / upload.upload_id).exists()
    assert list((disk.root / "temp_uploads").iterdir()) == []


def test_local_final_file_lives_under_media_root_files(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk, "ab12cd34")

    disk.assemble(upload, [put_part(disk, upload, 1, b"content")])

    path = Path(disk.path_of(upload.storage_key))
    assert path == disk.root / "files" / "ab" / "ab12cd34"
    assert path.read_bytes() == b"content"


def test_local_paths_never_come_from_the_file_name(
    disk: LocalDiskBlobStore, tmp_path: Path
) -> None:
    upload = new_upload(disk, "ab12cd34", file_name="../../escape/évil name.txt")

    part = put_part(disk, upload, 1, b"content")
    disk.assemble(upload, [part])

    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        Path("media/files/ab/ab12cd34"),
        Path(f"media/temp_uploads/{upload.upload_id}/00001.{part.etag}"),
    ]


@pytest.mark.parametrize("unsafe", ["../etc", "a/b", "", "..", "a b"])
def test_local_prepare_refuses_an_id_that_is_not_a_plain_name(
    disk: LocalDiskBlobStore, unsafe: str
) -> None:
    with pytest.raises(ValueError, match="safe path component"):
        disk.prepare(unsafe, "text/plain")

    assert not (disk.root / "files").exists()


def test_local_commit_discard_and_assemble_leave_no_temporary_files(
    disk: LocalDiskBlobStore,
) -> None:
    upload = new_upload(disk)
    parts = [put_part(disk, upload, n, b"p" * 100) for n in (1, 2)]
    discarded = disk.open_part(upload, 3)
    discarded.write(b"never mind")
    discarded.discard()

    disk.assemble(upload, parts)

    assert leftovers(disk.root) == []


class DiskFull:
    """`os` as the local adapter sees it, except that one call finds the disk full.

    The call named `fail` succeeds `succeed` times first, then raises ENOSPC.
    """

    def __init__(self, fail: str, succeed: int = 0) -> None:
        self.fail = fail
        self.calls_left = succeed

    def __getattr__(self, name: str) -> object:
        real: object = getattr(os, name)
        if name != self.fail:
            return real
        return self._failing(real)

    def _failing(self, real: object) -> Callable[..., object]:
        def call(*args: object) -> object:
            if self.calls_left <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.calls_left -= 1
            assert callable(real)
            return real(*args)

        return call


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], None]:
    """Make the local adapter's `os.<name>` fail with ENOSPC after `succeed` calls."""

    def fill(name: str, succeed: int) -> None:
        monkeypatch.setattr(local, "os", DiskFull(name, succeed))

    return fill


def test_local_disk_full_while_receiving_a_part_is_insufficient_storage(
    disk: LocalDiskBlobStore, full_disk: Callable[[str, int], None]
) -> None:
    upload = new_upload(disk)
    writer = disk.open_part(upload, 1)
    writer.write(b"a" * 4096)

    full_disk("write", 0)
    with pytest.raises(InsufficientStorage):
        writer.write(b"b" * 4096)
    writer.discard()

    assert list(disk.list_parts(upload)) == []
    assert leftovers(disk.root) == []


def test_local_disk_full_while_committing_a_part_keeps_nothing(
    disk: LocalDiskBlobStore, full_disk: Callable[[str, int], None]
) -> None:
    upload = new_upload(disk)
    writer = disk.open_part(upload, 1)
    writer.write(b"a" * 4096)

    full_disk("fsync", 0)
    with pytest.raises(InsufficientStorage):
        writer.commit()

    assert list(disk.list_parts(upload)) == []
    assert leftovers(disk.root) == []


def test_local_disk_full_while_assembling_leaves_no_partial_file(
    disk: LocalDiskBlobStore, full_disk: Callable[[str, int], None]
) -> None:
    upload = new_upload(disk)
    parts = [put_part(disk, upload, n, bytes([n]) * 5000) for n in (1, 2, 3)]

    full_disk("copy_file_range", 1)  # the first part is copied, then the disk is full
    with pytest.raises(InsufficientStorage):
        disk.assemble(upload, parts)

    assert final_bytes(disk, upload) is None
    assert leftovers(disk.root) == []
    assert disk.list_parts(upload) == parts


class NoCrossDeviceCopy:
    """`os` whose copy_file_range refuses (EXDEV) and whose sendfile counts its calls."""

    def __init__(self) -> None:
        self.sendfile_calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def copy_file_range(self, *args: int) -> int:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    def sendfile(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        self.sendfile_calls += 1
        return os.sendfile(out_fd, in_fd, offset, count)


def test_local_assemble_falls_back_to_sendfile_when_copy_file_range_cannot(
    disk: LocalDiskBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = new_upload(disk)
    data = [os.urandom(70_000), os.urandom(1), os.urandom(300_000)]
    parts = [put_part(disk, upload, n, chunk) for n, chunk in enumerate(data, start=1)]
    fake_os = NoCrossDeviceCopy()
    monkeypatch.setattr(local, "os", fake_os)

    disk.assemble(upload, parts)

    monkeypatch.undo()
    assert final_bytes(disk, upload) == b"".join(data)
    assert fake_os.sendfile_calls >= len(parts)


@pytest.mark.parametrize("most", [None, 1000, 4097])
def test_local_chunks_written_at_once_are_the_part_even_through_short_writes(
    disk: LocalDiskBlobStore, monkeypatch: pytest.MonkeyPatch, most: int | None
) -> None:
    # More buffers than one writev takes, empty ones among them; `most` caps each
    # writev as a kernel may (a short write), so the rest must follow in order.
    chunks = [bytes([n % 251]) * (n % 7) * 300 for n in range(2500)]
    real_writev = os.writev
    if most is not None:

        def short_writev(fd: int, buffers: list[memoryview]) -> int:
            taken, left = [], most
            for buffer in buffers:
                if left <= 0:
                    break
                taken.append(buffer[:left])
                left -= len(taken[-1])
            return real_writev(fd, taken)

        monkeypatch.setattr(os, "writev", short_writev)
    upload = new_upload(disk)
    writer = disk.open_part(upload, 1)

    writer.write_chunks(chunks[:1300])
    writer.write_chunks(chunks[1300:])
    part = writer.commit()

    data = b"".join(chunks)
    assert part == ReceivedPart(1, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))
    assert (disk.temp_dir(upload.upload_id) / f"00001.{part.etag}").read_bytes() == data
