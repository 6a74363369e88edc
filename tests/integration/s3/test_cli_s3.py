"""`uploadcore gc`, `abort` and `upload` on S3 (moto in server mode, checking SigV4 as S3 does)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client
from tests.integration.cli.support import as_process, in_process, serving
from tests.integration.s3.conftest import PART, S3Endpoint, s3_settings
from tests.integration.s3.support import StartResponse, WsgiApp

from uploadcore import bootstrap
from uploadcore.adapters.clock import RandomIds
from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.gc import GcPolicy
from uploadcore.domain.parts import PartRef
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.entrypoints.http.app import create_app
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.ports.gc import GcRepository
from uploadcore.services.aborting import Aborter
from uploadcore.services.events import Events
from uploadcore.services.gc import GcService
from uploadcore.services.initiate import NewUpload
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
ALICE = Principal("alice")
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@dataclass
class S3World:
    settings: Settings
    core: Uploadcore
    s3: S3Client
    clock: FakeClock
    store: str  # "moto" or "rgw"

    @property
    def bucket(self) -> str:
        bucket = self.settings.aws_storage_bucket_name
        assert bucket is not None
        return bucket

    def multipart_ids(self) -> set[str]:
        answer = self.s3.list_multipart_uploads(Bucket=self.bucket)
        return {u["UploadId"] for u in answer.get("Uploads", [])}

    def start(self, size: int, parts: Iterable[int] = ()) -> Upload:
        """Initiate an upload of `size` random bytes and put some of its parts (as a client)."""
        data = os.urandom(size)
        count = max(1, -(-size // PART))
        request = NewUpload("a.bin", size, "application/octet-stream", count, PART)
        upload = self.core.initiate(ALICE, request, HttpLinks("http://unused")).upload
        for n in parts:
            self.s3.upload_part(
                Bucket=self.bucket,
                Key=upload.storage_key,
                UploadId=upload.upload_id,
                PartNumber=n,
                Body=data[(n - 1) * PART : n * PART],
            )
        return upload

    def status(self, upload: Upload) -> UploadStatus | None:
        found = self.core.complete.repo.get(upload.id)
        return None if found is None else found.status


@pytest.fixture
def world(
    settings: Settings,
    clock: FakeClock,
    s3_endpoint: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[S3World]:
    endpoint = s3_endpoint.url
    with s3_settings(settings, endpoint) as prepared:
        yield _world(prepared, clock, s3_endpoint, monkeypatch)


def _world(
    prepared: Settings, clock: FakeClock, s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> S3World:
    endpoint = s3_endpoint.url
    core = bootstrap.build(prepared, clock=clock)
    s3 = bootstrap.s3_client(prepared)
    for name in list(os.environ):
        if name.startswith("UPLOADCORE_") and not name.startswith("UPLOADCORE_TEST_"):
            monkeypatch.delenv(name)
    for name, value in {
        "DATA_DIR": str(prepared.data_dir),
        "SECRET_KEY": prepared.secret_key or "",
        "UPLOAD_STORAGE_HANDLER": "s3",
        "AWS_STORAGE_BUCKET_NAME": prepared.aws_storage_bucket_name or "",
        "AWS_S3_ENDPOINT_URL": endpoint,
        "MIN_PART_SIZE": str(PART),
    }.items():
        monkeypatch.setenv(f"UPLOADCORE_{name}", value)
    return S3World(prepared, core, s3, clock, s3_endpoint.store)


# -- gc ----------------------------------------------------------------------------------


def test_gc_on_s3_aborts_expired_and_orphaned_multipart_uploads_and_nothing_else(
    world: S3World,
) -> None:
    now = world.clock.now()
    world.clock.current = now - 2 * DAY
    expired = world.start(PART + 10)
    # Expired by the database, but its client PUTs parts straight to S3 (a minute ago):
    receiving = world.start(PART + 10, parts=[1])
    world.clock.current = now - 9 * DAY
    failed = world.start(PART + 10, parts=[1])
    assert world.core.complete.repo.set_status(failed.id, UPLOADING, FAILED, world.clock.now())
    world.clock.current = now
    fresh = world.start(PART + 10, parts=[1])
    done = world.start(1000, parts=[1])
    parts = world.core.upload_state(ALICE, done.id).parts
    world.core.complete(ALICE, done.id, [PartRef(p.part_number, p.etag) for p in parts])
    prefix = world.settings.aws_s3_key_prefix
    orphan = world.s3.create_multipart_upload(Bucket=world.bucket, Key=f"{prefix}orphan")
    foreign = world.s3.create_multipart_upload(Bucket=world.bucket, Key="other-app/file")
    before = world.multipart_ids()

    dry = json.loads(in_process("gc", "--dry-run", "--json").stdout)

    assert world.multipart_ids() == before
    result = as_process("gc", "--json")
    assert result.exit_code == 0, result.output
    real = json.loads(result.stdout)
    for report in (dry, real):
        assert report["expired_uploads"] == {"count": 1, "bytes": 0}
        assert report["skipped"] == 1  # the one still receiving parts
        if world.store == "moto":
            # moto dates every multipart upload 2010: the failed upload's and the orphan are old.
            assert report["leftovers"] == {
                "count": 2,
                "bytes": PART,
                "by_kind": {"multipart_upload": 2},
            }
        else:  # RGW dates them truly: both began a moment ago, too young to be leftovers
            assert report["leftovers"] == {"count": 0, "bytes": 0, "by_kind": {}}
        assert report["purged_records"]["count"] == 1
    left = {fresh.upload_id, receiving.upload_id, foreign["UploadId"]}
    if world.store == "rgw":
        left |= {failed.upload_id, orphan["UploadId"]}
    assert world.multipart_ids() == left
    assert (world.status(expired), world.status(failed)) == (ABORTED, None)
    assert (world.status(fresh), world.status(done)) == (UPLOADING, COMPLETED)
    assert world.status(receiving) is UPLOADING
    stored = world.s3.get_object(Bucket=world.bucket, Key=done.storage_key)
    assert len(stored["Body"].read()) == 1000


def test_gc_on_s3_goes_by_the_parts_s3_received_under_a_one_second_upload_expires_in(
    world: S3World,
) -> None:
    short = bootstrap.build(replace(world.settings, upload_expires_in=SECOND), clock=world.clock)
    world.clock.current -= 10 * SECOND
    # Initiated 10 s ago by the database's clock (expired 9 s ago); its client PUTs a part
    # straight to S3 now, which the database never sees.
    upload = replace(world, core=short).start(PART + 10, parts=[1])
    answer = world.s3.list_parts(
        Bucket=world.bucket, Key=upload.storage_key, UploadId=upload.upload_id
    )
    last_part = max(p["LastModified"] for p in answer["Parts"])
    repo, blobs = short.complete.repo, short.complete.blobs
    assert isinstance(repo, GcRepository)
    policy = GcPolicy(leftover_age=SECOND, upload_expires_in=SECOND)
    aborter = Aborter(repo, blobs, world.clock, Events(RandomIds()))
    gc = GcService(repo, aborter, world.clock, policy)

    world.clock.current = last_part + SECOND / 2
    during = gc.collect()
    assert world.status(upload) is UPLOADING
    assert upload.upload_id in world.multipart_ids()
    world.clock.current = last_part + SECOND  # S3 saw nothing for as long as it lives
    after = gc.collect()
    short.close()

    assert (during.expired, during.skipped) == (0, 1)
    assert (after.expired, after.expired_bytes) == (1, PART)
    assert world.status(upload) is ABORTED
    assert upload.upload_id not in world.multipart_ids()


def test_abort_on_s3_aborts_the_multipart_upload(world: S3World) -> None:
    upload = world.start(PART + 10, parts=[1, 2])

    result = in_process("abort", upload.id, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bytes_freed"] == PART + 10
    assert upload.upload_id not in world.multipart_ids()


# -- upload --------------------------------------------------------------------------------


class CountingPuts:
    """In front of moto: counts the presigned part PUTs (clients') that reach it, by part."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.puts: Counter[int] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = dict(p.partition("=")[::2] for p in str(environ.get("QUERY_STRING")).split("&"))
        presigned = "partNumber" in query and "X-Amz-Signature" in query
        if environ.get("REQUEST_METHOD") == "PUT" and presigned:
            self.puts[int(query["partNumber"])] += 1
        return self.app(environ, start_response)


@pytest.fixture
def counting(s3_endpoint: S3Endpoint) -> Iterator[CountingPuts | None]:
    """The PUTs that reach moto; None on RGW, which cannot be listened to."""
    gate = s3_endpoint.gate
    if gate is None:
        yield None
        return
    counter = CountingPuts(gate.app)
    gate.app = counter
    try:
        yield counter
    finally:
        gate.app = counter.app


@pytest.fixture
def api_url(world: S3World) -> Iterator[tuple[str, str]]:
    """The app on S3 under real uvicorn; its URL and an API key."""
    keys: list[str] = []

    def make_app(url: str) -> Any:
        settings = replace(world.settings, base_url=url)
        keys.append(create_user(world.core.users, "bob", False, world.clock.now()).api_key)
        return create_app(settings, world.core)

    with serving(make_app) as url:
        yield url, keys[0]


def test_upload_to_s3_follows_the_presigned_urls_byte_for_byte(
    world: S3World, api_url: tuple[str, str], tmp_path: Path, counting: CountingPuts | None
) -> None:
    url, key = api_url
    data = os.urandom(2 * PART + 321)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    result = as_process("upload", str(path), "--url", url, "--key", key, "--part-size", "5MiB",
                        "--parallel", "3", "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    stored = world.s3.get_object(Bucket=world.bucket, Key=f"uploadcore/{answer['id']}")
    assert stored["Body"].read() == data
    assert answer["num_parts"] == 3
    assert counting is None or counting.puts == Counter({1: 1, 2: 1, 3: 1})
    assert world.multipart_ids() == set()


def test_a_resumed_upload_to_s3_sends_only_the_parts_s3_lacks(
    world: S3World, api_url: tuple[str, str], tmp_path: Path, counting: CountingPuts | None
) -> None:
    url, key = api_url
    data = os.urandom(3 * PART + 5)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    request = NewUpload("big.bin", len(data), "application/octet-stream", 4, PART)
    upload = world.core.initiate(Principal("bob"), request, HttpLinks(url)).upload
    for n in (1, 3):  # what an interrupted client had sent
        world.s3.upload_part(
            Bucket=world.bucket, Key=upload.storage_key, UploadId=upload.upload_id, PartNumber=n,
            Body=data[(n - 1) * PART : n * PART],
        )  # fmt: skip

    result = in_process("upload", str(path), "--url", url, "--key", key, "--resume", upload.id,
                        "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["parts_resumed"], answer["parts_sent"]) == (2, 2)
    assert counting is None or counting.puts == Counter({2: 1, 4: 1})
    stored = world.s3.get_object(Bucket=world.bucket, Key=upload.storage_key)
    assert stored["Body"].read() == data


def vanish(world: S3World, upload: Upload) -> None:
    """Abort the multipart upload behind uploadcore's back (a lifecycle rule, a person)."""
    world.s3.abort_multipart_upload(
        Bucket=world.bucket, Key=upload.storage_key, UploadId=upload.upload_id
    )


def test_gc_on_s3_aborts_an_expired_upload_whose_multipart_upload_vanished(
    world: S3World, caplog: pytest.LogCaptureFixture
) -> None:
    # RGW answers ListParts of a vanished upload with NoSuchKey, AWS and moto with
    # NoSuchUpload: either way the storage is free, and gc is done with it.
    now = world.clock.now()
    world.clock.current = now - 2 * DAY
    expired = world.start(PART + 10, parts=[1])
    world.clock.current = now
    vanish(world, expired)

    first = in_process("gc", "--json")
    again = in_process("gc", "--json")

    assert (first.exit_code, again.exit_code) == (0, 0), first.output
    assert json.loads(first.stdout)["expired_uploads"] == {"count": 1, "bytes": 0}
    assert json.loads(again.stdout)["expired_uploads"]["count"] == 0
    assert world.status(expired) is ABORTED
    assert "check its settings" not in caplog.text


def test_abort_on_s3_of_an_upload_whose_multipart_upload_vanished_frees_nothing_and_succeeds(
    world: S3World, caplog: pytest.LogCaptureFixture
) -> None:
    upload = world.start(PART + 10, parts=[1])
    vanish(world, upload)

    result = in_process("abort", upload.id, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bytes_freed"] == 0
    assert world.status(upload) is ABORTED
    assert "check its settings" not in caplog.text
