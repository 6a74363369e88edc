"""S3 failing under the app: 503 and nothing changed when it is unavailable, `failed`
only when S3 says the parts are gone, and a completion whose answer was lost."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tests.integration.http.support import Headers, Json, assert_problem, md5_hex
from tests.integration.s3.conftest import PART, S3Endpoint, S3Harness, running, s3_settings
from tests.integration.s3.support import FlakyS3, SigV4Gate, s3_error

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.parts import multipart_etag
from uploadcore.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ENDPOINT = "http://127.0.0.1:9"


def transient_errors() -> list[BaseException]:
    return [
        s3_error("SlowDown", 503, "S3"),
        s3_error("InternalError", 500, "S3"),
        s3_error("ServiceUnavailable", 503, "S3"),
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ReadTimeoutError(endpoint_url=ENDPOINT),
        ConnectionClosedError(endpoint_url=ENDPOINT),
    ]


def error_id(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code"))
    return type(error).__name__


TRANSIENT = pytest.mark.parametrize("error", transient_errors(), ids=error_id)
# Throttling, a 5xx and a connection failure: one of each kind, where the kind is what counts.
EACH_KIND = pytest.mark.parametrize("error", transient_errors()[::2], ids=error_id)


@dataclass
class Flaky:
    api: S3Harness
    s3: FlakyS3
    alice: Headers

    def start(self, data: bytes) -> Json:
        body = {
            "file_name": "a.bin",
            "file_size": len(data),
            "file_content_type": "application/octet-stream",
            "num_parts": max(1, -(-len(data) // PART)),
            "part_size": PART,
        }
        response = self.api.client.initiate(self.alice, body)
        assert response.status_code == 201, response.text
        started: Json = response.json()
        return started

    def put(self, started: Json, number: int, data: bytes) -> Json:
        """What a PUT to the presigned URL does."""
        answer = self.api.s3.upload_part(
            Bucket=self.api.bucket,
            Key=self.key(started),
            UploadId=started["upload_id"],
            PartNumber=number,
            Body=data,
        )
        return {"part_number": number, "etag": answer["ETag"]}

    def key(self, started: Json) -> str:
        return f"uploadcore/{started['file_obj']['id']}"

    def ready(self, data: bytes) -> tuple[str, list[Json]]:
        """An upload with every part in S3: its id and completion list."""
        started = self.start(data)
        chunks = [data[i : i + PART] for i in range(0, len(data), PART)]
        refs = [self.put(started, n, chunk) for n, chunk in enumerate(chunks, 1)]
        return started["file_obj"]["id"], refs

    def state(self, file_id: str) -> Json:
        response = self.api.client.state(self.alice, file_id)
        assert response.status_code == 200, response.text
        state: Json = response.json()
        return state


@contextmanager
def flaky_app(settings: Settings, clock: FakeClock, endpoint: S3Endpoint) -> Iterator[Flaky]:
    with s3_settings(settings, endpoint.url) as prepared:
        client = FlakyS3(bootstrap.s3_client(prepared))
        store = bootstrap.s3_blob_store(prepared, cast("S3Client", client))
        core = bootstrap.build(prepared, clock=clock, blobs=store)
        with running(core, clock, endpoint.store) as api:
            yield Flaky(api, client, api.user("alice"))


@pytest.fixture
def flaky(
    settings: Settings, clock: FakeClock, moto_server: tuple[str, SigV4Gate]
) -> Iterator[Flaky]:
    """On moto: the failures injected here are the same on any store."""
    url, gate = moto_server
    with flaky_app(settings, clock, S3Endpoint("moto", url, gate)) as flaky:
        yield flaky


@pytest.fixture
def flaky_on(settings: Settings, clock: FakeClock, s3_endpoint: S3Endpoint) -> Iterator[Flaky]:
    """On moto and on RGW: where what the store itself answers counts."""
    with flaky_app(settings, clock, s3_endpoint) as flaky:
        yield flaky


DATA = b"0123456789" * 100  # one part: S3 takes a last part of any size


@TRANSIENT
@pytest.mark.parametrize("call", ["list_parts", "complete_multipart_upload"])
def test_s3_unavailable_while_completing_is_503_and_the_upload_stays_as_it_was(
    flaky: Flaky, error: BaseException, call: str
) -> None:
    file_id, refs = flaky.ready(DATA)
    before = flaky.state(file_id)

    flaky.s3.fail(call, error)
    response = flaky.api.client.complete(flaky.alice, file_id, refs)

    assert_problem(response, 503, "storage_unavailable")
    assert flaky.state(file_id) == before
    assert before["upload_status"] == "uploading"
    retried = flaky.api.client.complete(flaky.alice, file_id, refs)
    assert retried.status_code == 200, retried.text


@EACH_KIND
def test_s3_unavailable_at_initiate_is_503_and_starts_no_multipart_upload(
    flaky: Flaky, error: BaseException
) -> None:
    flaky.s3.fail("create_multipart_upload", error)

    response = flaky.api.client.initiate(
        flaky.alice,
        {
            "file_name": "a.bin",
            "file_size": 10,
            "file_content_type": "text/plain",
            "num_parts": 1,
            "part_size": 10,
        },
    )

    assert_problem(response, 503, "storage_unavailable")
    assert flaky.api.pending_uploads() == []


@EACH_KIND
def test_s3_unavailable_while_reading_the_state_or_refreshing_urls_is_503(
    flaky: Flaky, error: BaseException
) -> None:
    file_id, _ = flaky.ready(DATA)
    before = flaky.state(file_id)

    flaky.s3.fail("list_parts", error, times=2)
    state = flaky.api.client.state(flaky.alice, file_id)
    refresh = flaky.api.client.http.post(
        f"/v1/files/uploads/{file_id}/presigned-urls/", headers=flaky.alice
    )

    assert_problem(state, 503, "storage_unavailable")
    assert_problem(refresh, 503, "storage_unavailable")
    assert flaky.state(file_id) == before


def test_a_refusal_that_is_not_about_the_upload_is_503_too(flaky: Flaky) -> None:
    file_id, refs = flaky.ready(DATA)

    flaky.s3.fail("list_parts", s3_error("AccessDenied", 403, "ListParts"))
    response = flaky.api.client.complete(flaky.alice, file_id, refs)

    assert_problem(response, 503, "storage_unavailable")
    assert flaky.state(file_id)["upload_status"] == "uploading"


def test_completing_fails_the_upload_when_s3_no_longer_has_its_parts(flaky_on: Flaky) -> None:
    started = flaky_on.start(DATA)
    refs = [flaky_on.put(started, 1, DATA)]
    file_id = started["file_obj"]["id"]
    flaky_on.api.s3.abort_multipart_upload(
        Bucket=flaky_on.api.bucket, Key=flaky_on.key(started), UploadId=started["upload_id"]
    )

    response = flaky_on.api.client.complete(flaky_on.alice, file_id, refs)

    assert_problem(response, 409, "upload_failed")
    assert flaky_on.state(file_id)["upload_status"] == "failed"


def test_a_completion_whose_answer_was_lost_completes_on_retry(flaky_on: Flaky) -> None:
    data = bytes(range(256)) * 20_481  # two parts
    file_id, refs = flaky_on.ready(data)

    flaky_on.s3.lose_answer(
        "complete_multipart_upload", ConnectionClosedError(endpoint_url=ENDPOINT)
    )
    lost = flaky_on.api.client.complete(flaky_on.alice, file_id, refs)
    assert_problem(lost, 503, "storage_unavailable")
    assert flaky_on.state(file_id)["upload_status"] == "uploading"
    head = flaky_on.api.s3.head_object(Bucket=flaky_on.api.bucket, Key=f"uploadcore/{file_id}")

    retried = flaky_on.api.client.complete(flaky_on.alice, file_id, refs)

    assert retried.status_code == 200, retried.text
    assert retried.json()["upload_status"] == "completed"
    assert retried.json()["etag"] == head["ETag"].strip('"')
    assert retried.json()["etag"] == multipart_etag([md5_hex(data[:PART]), md5_hex(data[PART:])])
    again = flaky_on.api.client.complete(flaky_on.alice, file_id, refs)
    assert again.status_code == 200, again.text


def test_after_a_lost_answer_a_retry_with_other_etags_is_400_and_the_right_list_completes(
    flaky_on: Flaky,
) -> None:
    file_id, refs = flaky_on.ready(DATA)
    flaky_on.s3.lose_answer("complete_multipart_upload", ReadTimeoutError(endpoint_url=ENDPOINT))
    assert flaky_on.api.client.complete(flaky_on.alice, file_id, refs).status_code == 503

    wrong = [{"part_number": 1, "etag": hashlib.md5(b"other").hexdigest()}]  # noqa: S324
    assert_problem(
        flaky_on.api.client.complete(flaky_on.alice, file_id, wrong), 400, "etag_mismatch"
    )
    assert flaky_on.state(file_id)["upload_status"] == "uploading"

    assert flaky_on.api.client.complete(flaky_on.alice, file_id, refs).status_code == 200


def test_a_part_replaced_while_completing_is_a_400_for_the_stale_list_not_a_failure(
    flaky_on: Flaky,
) -> None:
    started = flaky_on.start(DATA)
    refs = [flaky_on.put(started, 1, DATA)]
    file_id = started["file_obj"]["id"]

    def replace_part() -> None:  # another client re-uploads part 1 after the checks
        flaky_on.put(started, 1, b"other bytes")

    flaky_on.s3.meanwhile("complete_multipart_upload", replace_part)
    response = flaky_on.api.client.complete(flaky_on.alice, file_id, refs)

    assert_problem(response, 400, "etag_mismatch")
    assert flaky_on.state(file_id)["upload_status"] == "uploading"


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("EntityTooSmall", 400, "part_plan_mismatch"),
        ("InvalidPartOrder", 400, "validation_error"),
    ],
)
def test_s3_refusing_the_parts_is_a_400_and_the_upload_stays_uploading(
    flaky: Flaky, code: str, status: int, problem: str
) -> None:
    file_id, refs = flaky.ready(DATA)

    flaky.s3.fail("complete_multipart_upload", s3_error(code, 400, "CompleteMultipartUpload"))
    response = flaky.api.client.complete(flaky.alice, file_id, refs)

    assert_problem(response, status, problem)
    assert flaky.state(file_id)["upload_status"] == "uploading"
