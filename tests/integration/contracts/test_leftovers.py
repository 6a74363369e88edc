"""The SweepsLeftovers contract (what gc asks of a store), on local disk and on S3
(moto, and Ceph RADOS Gateway when UPLOADCORE_TEST_S3_ENDPOINT_URL names one).

Age is the contract's `older_than`: a cutoff in the future makes everything
old, one in the past makes everything young, so the same tests run on a disk
(where ages are mtimes) and on S3 (where they are `Initiated` times). The
local-disk extras at the end check stray temporary files, part files still
being written, and keys that must never be followed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import moto
import moto.s3.models
import pytest
from tests.integration.s3.support import FAKE_AWS_ENV, STORES, rgw_blob_store

from uploadcore import bootstrap
from uploadcore.adapters import s3_leftovers
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.domain.errors import PartMissing
from uploadcore.domain.gc import Leftover
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore, ReceivesParts
from uploadcore.ports.gc import SweepsLeftovers
from uploadcore.settings import Settings

HOUR = timedelta(hours=1)


class Sweepable(BlobStore, SweepsLeftovers, Protocol):
    """A store gc can sweep."""


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3BlobStore]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 0)
    settings = Settings(
        upload_storage_handler="s3", aws_storage_bucket_name="sweep", aws_s3_key_prefix="uc/"
    )
    with moto.mock_aws():
        store = bootstrap.s3_blob_store(settings)
        store.client.create_bucket(Bucket="sweep")
        yield store


@pytest.fixture
def rgw_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3BlobStore]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with rgw_blob_store(key_prefix="uc/") as store:
        yield store


@pytest.fixture(params=["local", *STORES])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Sweepable:
    sweepable: Sweepable
    if request.param in STORES:
        sweepable = request.getfixturevalue(f"{request.param}_s3")
    else:
        sweepable = LocalDiskBlobStore(tmp_path / "media")
    return sweepable


def now() -> datetime:
    return datetime.now(UTC)


def new_upload(store: BlobStore, file_id: str = "f1") -> Upload:
    prepared = store.prepare(file_id, "application/octet-stream")
    moment = now()
    return Upload(
        id=file_id,
        upload_id=prepared.upload_id,
        storage_key=prepared.storage_key,
        owner="alice",
        file_name="a.bin",
        file_content_type="application/octet-stream",
        plan=PartPlan(0, 1, 1),
        status=UploadStatus.UPLOADING,
        created=moment,
        modified=moment,
        expires_at=moment + timedelta(days=1),
    )


def put_part(store: BlobStore, upload: Upload, number: int, data: bytes) -> None:
    if isinstance(store, S3BlobStore):
        store.client.upload_part(
            Bucket=store.bucket,
            Key=upload.storage_key,
            UploadId=upload.upload_id,
            PartNumber=number,
            Body=data,
        )
        return
    assert isinstance(store, ReceivesParts)
    writer = store.open_part(upload, number)
    writer.write(data)
    writer.commit()


def found(store: SweepsLeftovers, older_than: datetime) -> dict[str | None, Leftover]:
    return {x.upload_id: x for x in store.leftovers(older_than)}


def parts_of(store: BlobStore, upload: Upload) -> list[int]:
    try:
        return [p.part_number for p in store.list_parts(upload)]
    except PartMissing:
        return []


# -- the contract ----------------------------------------------------------------------


def skip_if_ages_are_fake(store: BlobStore) -> None:
    """moto's ages are made up; RGW's, like AWS's, are the real times."""
    if isinstance(store, S3BlobStore) and "amazonaws.com" in store.client.meta.endpoint_url:
        pytest.skip("moto reports every multipart upload as initiated on 2010-11-10")


def test_an_upload_s_storage_is_reported_with_its_size(store: Sweepable) -> None:
    upload = new_upload(store)
    put_part(store, upload, 1, b"x" * 100)
    put_part(store, upload, 2, b"y" * 23)

    leftover = found(store, now() + HOUR)[upload.upload_id]

    assert leftover.size == 123
    assert leftover.last_modified <= now()
    assert leftover.last_modified.utcoffset() == timedelta(0)
    held = store.held(upload)
    assert held is not None
    assert (held.upload_id, held.size) == (upload.upload_id, 123)
    assert now() - HOUR < held.last_modified <= now()  # the parts just written
    assert not held.receiving  # nothing is being written to it now


def test_storage_younger_than_the_cutoff_is_not_reported(store: Sweepable) -> None:
    skip_if_ages_are_fake(store)
    upload = new_upload(store)
    put_part(store, upload, 1, b"x" * 100)

    assert upload.upload_id not in found(store, now() - HOUR)


def test_removing_a_leftover_frees_its_storage_once(store: Sweepable) -> None:
    upload, other = new_upload(store, "f1"), new_upload(store, "f2")
    put_part(store, upload, 1, b"x" * 100)
    put_part(store, other, 1, b"o" * 10)
    leftover = found(store, now() + HOUR)[upload.upload_id]

    freed = store.remove_leftover(leftover, now() + HOUR)
    again = store.remove_leftover(leftover, now() + HOUR)

    assert (freed, again) == (100, None)
    assert parts_of(store, upload) == []
    assert store.held(upload) is None
    assert upload.upload_id not in found(store, now() + HOUR)
    assert parts_of(store, other) == [1]


def test_a_leftover_younger_than_the_cutoff_is_kept(store: Sweepable) -> None:
    skip_if_ages_are_fake(store)
    upload = new_upload(store)
    put_part(store, upload, 1, b"x" * 10)
    leftover = found(store, now() + HOUR)[upload.upload_id]

    assert store.remove_leftover(leftover, now() - HOUR) is None

    assert parts_of(store, upload) == [1]


def test_an_aborted_upload_leaves_nothing_to_sweep(store: Sweepable) -> None:
    upload = new_upload(store)
    put_part(store, upload, 1, b"x" * 10)

    store.abort(upload)

    assert upload.upload_id not in found(store, now() + HOUR)
    assert store.held(upload) is None


def test_a_completed_file_is_never_a_leftover(store: Sweepable) -> None:
    upload = new_upload(store)
    put_part(store, upload, 1, b"whole file")
    store.assemble(upload, list(store.list_parts(upload)))
    store.release_parts(upload)

    assert found(store, now() + HOUR) == {}


def test_an_upload_without_parts_holds_nothing_or_nothing_recent(store: Sweepable) -> None:
    upload = new_upload(store)

    held = store.held(upload)

    assert held is None or held.size == 0
    assert store.held(replace(upload, upload_id="")) is None


# -- S3 ---------------------------------------------------------------------------------


class PagingS3:
    """ListMultipartUploads as S3 pages it (moto answers everything on one page)."""

    def __init__(self, keys: list[str], page_size: int) -> None:
        self.keys = keys
        self.page_size = page_size
        self.calls: list[dict[str, str]] = []

    def list_multipart_uploads(self, **kwargs: str) -> dict[str, Any]:
        self.calls.append(kwargs)
        after = kwargs.get("KeyMarker", "")
        rest = [k for k in self.keys if k > after and k.startswith(kwargs["Prefix"])]
        page, more = rest[: self.page_size], len(rest) > self.page_size
        answer: dict[str, Any] = {
            "IsTruncated": more,
            "Uploads": [
                {"Key": k, "UploadId": f"id-{k}", "Initiated": now() - 2 * HOUR} for k in page
            ],
        }
        if more:
            answer |= {"NextKeyMarker": page[-1], "NextUploadIdMarker": f"id-{page[-1]}"}
        return answer


def test_s3_follows_the_listing_markers_across_pages() -> None:
    keys = sorted(f"uc/f{n:04d}" for n in range(25))
    client = PagingS3(keys, page_size=10)

    listed = list(s3_leftovers.multipart_uploads(client, "b", "uc/", now() - HOUR))  # type: ignore[arg-type]

    assert [u.key for u in listed] == keys
    assert len(client.calls) == 3
    assert client.calls[1] == {
        "Bucket": "b",
        "Prefix": "uc/",
        "KeyMarker": "uc/f0009",
        "UploadIdMarker": "id-uc/f0009",
    }


def test_s3_lists_every_multipart_upload_under_the_prefix(moto_s3: S3BlobStore) -> None:
    uploads = [new_upload(moto_s3, f"f{n:02d}") for n in range(12)]

    listed = found(moto_s3, now() + HOUR)

    assert set(listed) == {u.upload_id for u in uploads}


def test_s3_never_lists_or_aborts_outside_the_key_prefix(moto_s3: S3BlobStore) -> None:
    foreign = moto_s3.client.create_multipart_upload(Bucket="sweep", Key="other-app/x")
    leftover = Leftover("multipart_upload", "other-app/x", foreign["UploadId"], now() - HOUR)

    assert found(moto_s3, now() + HOUR) == {}
    with pytest.raises(ValueError, match="outside the key prefix"):
        moto_s3.remove_leftover(leftover, now() + HOUR)


# -- local disk ---------------------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> LocalDiskBlobStore:
    return LocalDiskBlobStore(tmp_path / "media")


def age(path: Path, seconds: float) -> None:
    """Set a path's mtime `seconds` into the past."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment), follow_symlinks=False)


def test_a_stray_assembly_temp_file_is_a_leftover_of_no_upload(disk: LocalDiskBlobStore) -> None:
    shard = disk.root / "files" / "ab"
    shard.mkdir(parents=True)
    stray = shard / ".tmp-abcdef-0123456789abcdef"
    stray.write_bytes(b"half a file")
    final = shard / "abcdef"
    final.write_bytes(b"a whole file")

    listed = list(disk.leftovers(now() + HOUR))

    assert [(x.kind, x.key, x.upload_id, x.size) for x in listed] == [
        ("temp_file", "files/ab/.tmp-abcdef-0123456789abcdef", None, 11)
    ]
    assert disk.remove_leftover(listed[0], now() + HOUR) == 11
    assert not stray.exists()
    assert final.read_bytes() == b"a whole file"


def test_a_part_still_being_written_keeps_its_directory_young(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk)
    put_part(disk, upload, 1, b"old part")
    directory = disk.temp_dir(upload.upload_id)
    writer = disk.open_part(upload, 2)
    writer.write(b"arriving")
    for path in [*directory.iterdir(), directory]:
        age(path, 7200)
    (in_flight,) = directory.glob(".tmp-*")
    age(in_flight, 0)  # still being written to

    assert upload.upload_id not in found(disk, now() - HOUR)
    stale = Leftover("temp_dir", f"temp_uploads/{upload.upload_id}", upload.upload_id, now())
    assert disk.remove_leftover(stale, now() - HOUR) is None
    writer.discard()
    assert directory.is_dir()


def test_an_old_directory_is_reported_with_its_newest_mtime(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk)
    put_part(disk, upload, 1, b"part")
    directory = disk.temp_dir(upload.upload_id)
    for path in [*directory.iterdir(), directory]:
        age(path, 7200)

    leftover = found(disk, now() - HOUR)[upload.upload_id]

    assert now() - timedelta(hours=2, minutes=1) < leftover.last_modified < now() - HOUR
    assert disk.remove_leftover(leftover, now() - HOUR) == 4
    assert not directory.exists()


def test_what_gc_does_not_recognise_is_never_reported(disk: LocalDiskBlobStore) -> None:
    temp = disk.root / "temp_uploads"
    (temp / "not an id").mkdir(parents=True)
    (temp / "a-file").write_bytes(b"x")
    (disk.root / "files" / "ab").mkdir(parents=True)
    (disk.root / "files" / "ab" / "abcdef").write_bytes(b"a final file")

    assert list(disk.leftovers(now() + HOUR)) == []


def test_a_directory_a_crashed_gc_was_removing_is_removed_next_time(
    disk: LocalDiskBlobStore,
) -> None:
    trash = disk.root / "temp_uploads" / ".gc-0123456789abcdef"
    trash.mkdir(parents=True)
    (trash / "00001.abc").write_bytes(b"12345")

    (leftover,) = disk.leftovers(now() + HOUR)

    assert (leftover.upload_id, leftover.size) == (None, 5)
    assert disk.remove_leftover(leftover, now() + HOUR) == 5
    assert not trash.exists()


@pytest.mark.parametrize(
    "key",
    [
        "temp_uploads/../../etc",
        "temp_uploads",
        "files/ab/abcdef",
        "files/../x/.tmp-1",
        "/etc/passwd",
        "temp_uploads/a/b",
    ],
)
def test_a_key_gc_would_not_have_made_is_refused(disk: LocalDiskBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a local leftover key"):
        disk.remove_leftover(Leftover("temp_dir", key, None, now() - HOUR), now())


def test_local_leftover_measurements_are_md5_free_and_exact(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk)
    data = os.urandom(4096)
    put_part(disk, upload, 1, data)
    (stored,) = disk.temp_dir(upload.upload_id).iterdir()

    assert stored.name.endswith(hashlib.md5(data, usedforsecurity=False).hexdigest())
    held = disk.held(upload)
    assert held is not None
    assert held.size == 4096


def test_a_part_being_written_makes_the_upload_s_storage_recent(disk: LocalDiskBlobStore) -> None:
    upload = new_upload(disk)
    put_part(disk, upload, 1, b"old part")
    for path in [*disk.temp_dir(upload.upload_id).iterdir(), disk.temp_dir(upload.upload_id)]:
        age(path, 7200)
    before = disk.held(upload)
    writer = disk.open_part(upload, 2)
    writer.write(b"arriving now")

    during = disk.held(upload)
    writer.discard()

    assert before is not None
    assert during is not None
    assert before.last_modified < now() - HOUR < during.last_modified


# -- local disk: a part being written right now ------------------------------------------


def receiving(disk: LocalDiskBlobStore, upload: Upload) -> bool:
    held = disk.held(upload)
    assert held is not None
    return held.receiving


def test_the_storage_is_receiving_exactly_while_a_part_writer_is_open(
    disk: LocalDiskBlobStore,
) -> None:
    upload = new_upload(disk)
    committing, discarding = disk.open_part(upload, 1), disk.open_part(upload, 2)
    committing.write(b"one")
    discarding.write(b"two")
    for path in disk.temp_dir(upload.upload_id).iterdir():
        age(path, 7200)  # however long since a byte arrived

    assert receiving(disk, upload)
    committing.commit()
    assert receiving(disk, upload)  # the other is still open
    discarding.discard()
    assert not receiving(disk, upload)
    assert parts_of(disk, upload) == [1]


def test_gc_asking_whether_parts_arrive_never_disturbs_the_writer(
    disk: LocalDiskBlobStore,
) -> None:
    upload = new_upload(disk)
    writer = disk.open_part(upload, 1)

    for _ in range(3):
        assert receiving(disk, upload)
        writer.write(b"more")
    writer.commit()

    assert parts_of(disk, upload) == [1]
    assert disk.list_parts(upload)[0].size == 12


WRITER = """
import sys
from pathlib import Path
from uploadcore.adapters.local import LocalPartWriter

writer = LocalPartWriter(Path(sys.argv[1]), 2)
writer.write(b"half a part")
print("writing", flush=True)
sys.stdin.read()  # writes no more, and holds on until killed
"""


def test_a_writer_in_another_process_counts_until_that_process_dies(
    disk: LocalDiskBlobStore,
) -> None:
    upload = new_upload(disk)
    directory = disk.temp_dir(upload.upload_id)
    command = [sys.executable, "-c", WRITER, str(directory)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == "writing\n"
            alive = receiving(disk, upload)
        finally:
            writer.kill()  # a crash: no commit, no discard
            writer.wait(timeout=60)

    (left,) = directory.glob(".tmp-*")
    assert alive
    assert not receiving(disk, upload)  # the lock died with its process; the file is just old
    assert left.read_bytes() == b"half a part"
