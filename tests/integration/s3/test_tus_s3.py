"""tus on S3 (moto and Ceph RGW): chunks staged on local disk, sent as multipart parts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.integration.http.support import Headers, UploadClient
from tests.integration.http.tus_support import create, meta, patch, tus
from tests.integration.s3.conftest import PART, S3Harness
from tests.integration.s3.support import MiB

from uploadcore import bootstrap
from uploadcore.domain.parts import multipart_etag
from uploadcore.entrypoints.http.app import create_app

SMALL = 3 * MiB  # under the 5 MiB part minimum: it waits on the staging disk


@pytest.fixture
def alice(s3_api: S3Harness) -> Headers:
    return s3_api.user("alice")


def file_id_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def staged_files(harness: S3Harness) -> list[str]:
    root = harness.settings.tus_staging_dir
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def s3_object(harness: S3Harness, file_id: str) -> tuple[bytes, str]:
    key = harness.settings.aws_s3_key_prefix + file_id
    found = harness.s3.get_object(Bucket=harness.bucket, Key=key)
    return found["Body"].read(), found["ETag"].strip('"')


def staged_upload(harness: S3Harness, headers: Headers) -> str:
    """An upload in progress whose bytes are all in a staged tail; its path."""
    http = harness.client.http
    path = create(http, headers, 2 * PART)
    assert patch(http, headers, path, 0, os.urandom(SMALL)).status_code == 204
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_small_chunks_wait_on_disk_until_they_make_a_part(
    s3_api: S3Harness, alice: Headers
) -> None:
    http = s3_api.client.http
    data = os.urandom(4 * SMALL)
    path = create(http, alice, len(data), **{"Upload-Metadata": meta(filename="big.bin")})

    first = patch(http, alice, path, 0, data[:SMALL])

    assert first.status_code == 204, first.text
    assert first.headers["upload-offset"] == str(SMALL)
    assert [name.endswith(".tail") for name in staged_files(s3_api)] == [True]
    upload_id = s3_api.pending_uploads()[0]
    key = s3_api.settings.aws_s3_key_prefix + file_id_of(path)
    listed = s3_api.s3.list_parts(Bucket=s3_api.bucket, Key=key, UploadId=upload_id)
    assert listed.get("Parts", []) == []

    for offset in range(SMALL, len(data), SMALL):
        answer = patch(http, alice, path, offset, data[offset : offset + SMALL])
        assert answer.status_code == 204, answer.text

    stored, etag = s3_object(s3_api, file_id_of(path))
    assert stored == data
    halves = [data[: 2 * SMALL], data[2 * SMALL :]]  # each two chunks made one part
    assert etag == multipart_etag([md5(h) for h in halves])
    file = http.get(f"/v1/files/{file_id_of(path)}/", headers=alice).json()
    assert (file["upload_status"], file["etag"], file["file_name"]) == (
        "completed",
        etag,
        "big.bin",
    )
    assert staged_files(s3_api) == []
    assert s3_api.pending_uploads() == []


def test_chunks_of_a_part_or_more_go_straight_to_s3(s3_api: S3Harness, alice: Headers) -> None:
    http = s3_api.client.http
    data = os.urandom(2 * PART + 123)
    path = create(http, alice, len(data))

    answer = patch(http, alice, path, 0, data[: PART + 1])

    assert answer.status_code == 204, answer.text
    assert staged_files(s3_api) == []  # nothing left waiting: the offset is all in S3
    assert patch(http, alice, path, PART + 1, data[PART + 1 :]).status_code == 204
    assert s3_object(s3_api, file_id_of(path))[0] == data


@pytest.fixture
def other_instance(s3_api: S3Harness, tmp_path: Path) -> Iterator[UploadClient]:
    """A second instance: same database and bucket, its own staging disk."""
    settings = replace(s3_api.settings, tus_staging_dir=tmp_path / "other-staging")
    core = bootstrap.build(settings, clock=s3_api.clock)
    with TestClient(create_app(settings, core)) as http:
        yield UploadClient(http)


def test_another_instance_reports_and_continues_from_the_bytes_in_s3(
    s3_api: S3Harness, alice: Headers, other_instance: UploadClient
) -> None:
    here, there = s3_api.client.http, other_instance.http
    data = os.urandom(PART + SMALL)
    path = create(here, alice, len(data))
    assert patch(here, alice, path, 0, data[:SMALL]).status_code == 204

    # The staged tail is on the first instance's disk: the second cannot serve it.
    assert there.head(path, headers=tus(alice)).headers["upload-offset"] == "0"
    assert patch(there, alice, path, SMALL, data[SMALL:]).status_code == 409
    resent = patch(there, alice, path, 0, data[: PART + 1])
    assert resent.status_code == 204, resent.text
    assert resent.headers["upload-offset"] == str(PART + 1)

    # The first instance's old tail is no longer the recorded one: it continues from S3 too.
    assert here.head(path, headers=tus(alice)).headers["upload-offset"] == str(PART + 1)
    assert patch(here, alice, path, PART + 1, data[PART + 1 :]).status_code == 204
    assert s3_object(s3_api, file_id_of(path))[0] == data
    assert staged_files(s3_api) == []


def test_termination_aborts_the_multipart_upload_and_frees_the_staging_disk(
    s3_api: S3Harness, alice: Headers
) -> None:
    http, path = s3_api.client.http, staged_upload(s3_api, alice)

    assert http.delete(path, headers=tus(alice)).status_code == 204

    assert s3_api.pending_uploads() == []
    assert staged_files(s3_api) == []
    assert http.head(path, headers=tus(alice)).status_code == 404


def test_gc_aborts_an_expired_upload_and_removes_its_staged_tail(
    s3_api: S3Harness, alice: Headers
) -> None:
    staged_upload(s3_api, alice)
    [tail] = s3_api.settings.tus_staging_dir.iterdir()
    s3_api.clock.advance(s3_api.settings.upload_expires_in + timedelta(seconds=1))
    past = (s3_api.clock.now() - 2 * s3_api.settings.upload_expires_in).timestamp()
    os.utime(tail, (past, past))  # as if staged that long ago, on storage's own clock

    s3_api.core.gc(timedelta(days=30)).collect()

    assert s3_api.pending_uploads() == []
    assert not tail.exists()


@pytest.mark.parametrize("size", [PART + 7, 100_000], ids=["copied", "streamed"])
def test_concatenation_assembles_partials_in_s3_and_frees_them(
    s3_api: S3Harness, alice: Headers, size: int
) -> None:
    http = s3_api.client.http
    pieces = [os.urandom(size), os.urandom(size // 2)]
    partials = []
    for piece in pieces:
        path = create(http, alice, len(piece), **{"Upload-Concat": "partial"})
        assert patch(http, alice, path, 0, piece).status_code == 204
        partials.append(path)

    final = http.post(
        "/v1/tus/", headers=tus(alice, **{"Upload-Concat": "final;" + " ".join(partials)})
    )

    assert final.status_code == 201, final.text
    file_id = file_id_of(final.headers["location"])
    stored, etag = s3_object(s3_api, file_id)
    assert stored == b"".join(pieces)
    file = http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert (file["upload_status"], file["etag"]) == ("completed", etag)
    for path in partials:  # the final owns the bytes: the partials are gone
        assert http.head(path, headers=tus(alice)).status_code == 404
        key = s3_api.settings.aws_s3_key_prefix + file_id_of(path)
        assert "Contents" not in s3_api.s3.list_objects_v2(Bucket=s3_api.bucket, Prefix=key)
    assert s3_api.pending_uploads() == []


def test_a_staged_tail_lost_with_its_disk_is_sent_again_nothing_else(
    s3_api: S3Harness, alice: Headers
) -> None:
    http = s3_api.client.http
    data = os.urandom(PART + SMALL)
    path = create(http, alice, len(data))
    assert patch(http, alice, path, 0, data[: PART + 1]).status_code == 204  # a part in S3
    assert patch(http, alice, path, PART + 1, data[PART + 1 : PART + 2]).status_code == 204
    for staged in s3_api.settings.tus_staging_dir.iterdir():
        staged.unlink()  # the machine that held the tail was replaced

    head = http.head(path, headers=tus(alice))

    assert head.headers["upload-offset"] == str(PART + 1)
    assert patch(http, alice, path, PART + 2, data[PART + 2 :]).status_code == 409
    assert patch(http, alice, path, PART + 1, data[PART + 1 :]).status_code == 204
    assert s3_object(s3_api, file_id_of(path))[0] == data
