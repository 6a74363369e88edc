"""The app on S3, twice: moto in server mode on 127.0.0.1 behind a gate that checks
presigned URLs as S3 does, and Ceph RADOS Gateway, a real S3 implementation
(when UPLOADCORE_TEST_S3_ENDPOINT_URL names one; skipped with the reason otherwise).

`s3_endpoint` is the one fixture with both as parameters; `moto_server` is for
what only moto can stage (counting the requests that reach it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx2
import pytest
from mypy_boto3_s3 import S3Client
from starlette.testclient import TestClient
from tests.integration.http.support import Headers, UploadClient
from tests.integration.s3.support import (
    FAKE_AWS_ENV,
    STORES,
    MiB,
    SigV4Gate,
    drop_bucket,
    gated_moto_server,
    new_bucket,
    rgw_endpoint,
)

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.entrypoints.http.app import create_app
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

PART = 5 * MiB  # S3's smallest part but the last; moto holds to it too


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials through boto3's usual chain, and no profile from this machine."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def clock() -> FakeClock:
    """Now: the server checks presigned URLs against the real time."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture(scope="module")
def moto_server() -> Iterator[tuple[str, SigV4Gate]]:
    with gated_moto_server() as server:
        yield server


@dataclass(frozen=True)
class S3Endpoint:
    """An S3 implementation to test against: "moto" (behind its SigV4Gate) or "rgw"."""

    store: str
    url: str
    gate: SigV4Gate | None = None


@pytest.fixture(scope="module", params=STORES)
def s3_endpoint(request: pytest.FixtureRequest) -> Iterator[S3Endpoint]:
    if request.param == "rgw":
        yield S3Endpoint("rgw", rgw_endpoint())
        return
    with gated_moto_server() as (url, gate):
        yield S3Endpoint("moto", url, gate)


@dataclass
class S3Harness:
    """The app on S3 (moto server or RGW), a client for it, its clock and the bucket."""

    settings: Settings
    core: Uploadcore
    clock: FakeClock
    client: UploadClient
    s3: S3Client
    bucket: str
    store: str  # "moto" or "rgw": where they differ, a test says which does what

    def user(self, name: str) -> Headers:
        new = create_user(self.core.users, name, False, self.clock.now())
        return {"Authorization": f"Bearer {new.api_key}"}

    def pending_uploads(self) -> list[str]:
        """The ids of the multipart uploads the bucket still holds."""
        answer = self.s3.list_multipart_uploads(Bucket=self.bucket)
        return [u["UploadId"] for u in answer.get("Uploads", [])]


@contextmanager
def s3_settings(settings: Settings, endpoint: str) -> Iterator[Settings]:
    """The tests' settings on S3: a new bucket at `endpoint` (dropped after), real 5 MiB parts."""
    s3 = bootstrap.s3_client(replace(settings, aws_s3_endpoint_url=endpoint))
    bucket = new_bucket(s3)
    try:
        yield bootstrap.prepare(
            replace(
                settings,
                upload_storage_handler="s3",
                aws_storage_bucket_name=bucket,
                aws_s3_endpoint_url=endpoint,
                min_part_size=PART,
            )
        )
    finally:
        drop_bucket(s3, bucket)


@contextmanager
def running(core: Uploadcore, clock: FakeClock, store: str) -> Iterator[S3Harness]:
    settings = core.settings
    bucket = settings.aws_storage_bucket_name
    assert bucket is not None
    s3 = bootstrap.s3_client(settings)
    with TestClient(create_app(settings, core)) as http:
        yield S3Harness(settings, core, clock, UploadClient(http), s3, bucket, store)


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    """A plain HTTP client, as a browser or a script uses the presigned URLs."""
    with httpx2.Client(timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def alice(s3_api: S3Harness) -> Headers:
    return s3_api.user("alice")


@pytest.fixture
def s3_api(settings: Settings, clock: FakeClock, s3_endpoint: S3Endpoint) -> Iterator[S3Harness]:
    """The app as `uploadcore serve` builds it for S3 (its own boto3 client)."""
    with (
        s3_settings(settings, s3_endpoint.url) as prepared,
        running(bootstrap.build(prepared, clock=clock), clock, s3_endpoint.store) as harness,
    ):
        yield harness
