"""The app on S3: moto in server mode on 127.0.0.1, checking presigned URLs as S3 does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from mypy_boto3_s3 import S3Client
from starlette.testclient import TestClient
from tests.integration.http.support import Headers, UploadClient
from tests.integration.s3.support import FAKE_AWS_ENV, MiB, SigV4Gate, gated_moto_server

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


@dataclass
class S3Harness:
    """The app on S3 (moto server), a client for it, its clock and the bucket."""

    settings: Settings
    core: Uploadcore
    clock: FakeClock
    client: UploadClient
    s3: S3Client
    bucket: str
    gate: SigV4Gate

    def user(self, name: str) -> Headers:
        new = create_user(self.core.users, name, False, self.clock.now())
        return {"Authorization": f"Bearer {new.api_key}"}

    def pending_uploads(self) -> list[str]:
        """The ids of the multipart uploads the bucket still holds."""
        answer = self.s3.list_multipart_uploads(Bucket=self.bucket)
        return [u["UploadId"] for u in answer.get("Uploads", [])]


def s3_settings(settings: Settings, endpoint: str) -> Settings:
    """The tests' settings on S3: a new bucket at `endpoint`, real 5 MiB parts."""
    return bootstrap.prepare(
        replace(
            settings,
            upload_storage_handler="s3",
            aws_storage_bucket_name=f"uploads-{uuid.uuid4().hex[:12]}",
            aws_s3_endpoint_url=endpoint,
            min_part_size=PART,
        )
    )


@contextmanager
def running(core: Uploadcore, clock: FakeClock, gate: SigV4Gate) -> Iterator[S3Harness]:
    settings = core.settings
    bucket = settings.aws_storage_bucket_name
    assert bucket is not None
    s3 = bootstrap.s3_client(settings)
    s3.create_bucket(Bucket=bucket)
    with TestClient(create_app(settings, core)) as http:
        yield S3Harness(settings, core, clock, UploadClient(http), s3, bucket, gate)


@pytest.fixture
def s3_api(
    settings: Settings, clock: FakeClock, moto_server: tuple[str, SigV4Gate]
) -> Iterator[S3Harness]:
    """The app as `uploadcore serve` builds it for S3 (its own boto3 client)."""
    endpoint, gate = moto_server
    prepared = s3_settings(settings, endpoint)
    with running(bootstrap.build(prepared, clock=clock), clock, gate) as harness:
        yield harness
