"""Uploads on S3, end to end: the API over HTTP, parts PUT to moto's server by a real client."""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from tests.integration.http.support import Headers, assert_problem, md5_hex, split
from tests.integration.s3.conftest import PART, S3Harness

from uploadcore.domain.parts import multipart_etag


def start(
    api: S3Harness, headers: Headers, data: bytes, name: str = "holiday vidéo.mp4"
) -> dict[str, object]:
    chunks = split(data, PART)
    response = api.client.initiate(
        headers,
        {
            "file_name": name,
            "file_size": len(data),
            "file_content_type": "video/mp4",
            "num_parts": len(chunks),
            "part_size": PART,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def urls_of(body: dict[str, object]) -> dict[int, str]:
    presigned = body["presigned_urls"]
    assert isinstance(presigned, list)
    return {u["part_number"]: u["url"] for u in presigned}


def put_all(http: httpx2.Client, urls: dict[int, str], data: bytes) -> list[dict[str, object]]:
    """PUT every planned part to its URL; the completion list from the answers' ETags."""
    refs: list[dict[str, object]] = []
    for number, chunk in enumerate(split(data, PART), 1):
        answer = http.put(urls[number], content=chunk)
        assert answer.status_code == 200, answer.text
        refs.append({"part_number": number, "etag": answer.headers["ETag"]})
    return refs


def test_parts_put_to_presigned_urls_complete_into_the_object_byte_for_byte(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(2 * PART + 12345)
    body = start(s3_api, alice, data)
    urls = urls_of(body)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)

    assert sorted(urls) == [1, 2, 3]
    assert all(
        u.startswith(f"{s3_api.settings.aws_s3_endpoint_url}/{s3_api.bucket}/")
        for u in urls.values()
    )
    refs = put_all(http, urls, data)
    done = s3_api.client.complete(alice, file_obj["id"], refs)

    assert done.status_code == 200, done.text
    file = done.json()
    stored = s3_api.s3.get_object(Bucket=s3_api.bucket, Key=f"uploadcore/{file['id']}")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "video/mp4"
    assert file["upload_status"] == "completed"
    assert file["etag"] == multipart_etag([md5_hex(c) for c in split(data, PART)])
    assert file["etag"] == stored["ETag"].strip('"')
    assert s3_api.pending_uploads() == []


def test_the_file_url_is_a_presigned_get_that_names_the_file(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = b"a small file, one part"
    body = start(s3_api, alice, data)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    refs = put_all(http, urls_of(body), data)
    file = s3_api.client.complete(alice, file_obj["id"], refs).json()

    download = http.get(file["url"])

    assert download.status_code == 200, download.text
    assert download.content == data
    assert download.headers["content-type"] == "video/mp4"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"holiday vid_o.mp4\"; filename*=UTF-8''holiday%20vid%C3%A9o.mp4"
    )


@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        (
            "photos/2024/a.jpg",
            "attachment; filename=\"photos_2024_a.jpg\"; filename*=UTF-8''photos%2F2024%2Fa.jpg",
        ),
        (
            "back\\slash.txt",
            "attachment; filename=\"back_slash.txt\"; filename*=UTF-8''back%5Cslash.txt",
        ),
    ],
)
def test_a_name_with_slashes_is_kept_and_never_part_of_the_object_key(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client, name: str, disposition: str
) -> None:
    data = b"one of a folder's files"
    body = start(s3_api, alice, data, name)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    refs = put_all(http, urls_of(body), data)
    file = s3_api.client.complete(alice, file_obj["id"], refs).json()

    download = http.get(file["url"])

    assert file["file_name"] == name
    assert download.content == data
    assert download.headers["content-disposition"] == disposition
    keys = [o["Key"] for o in s3_api.s3.list_objects_v2(Bucket=s3_api.bucket)["Contents"]]
    assert keys == [f"uploadcore/{file['id']}"]


@pytest.mark.parametrize("delta", [-1, +1], ids=["short", "long"])
def test_a_part_of_another_size_than_planned_is_refused_by_s3(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client, delta: int
) -> None:
    data = os.urandom(PART + 10)
    body = start(s3_api, alice, data)
    urls = urls_of(body)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)

    answer = http.put(urls[1], content=data[: PART + delta] if delta < 0 else data[:PART] + b"!")

    assert answer.status_code == 403
    assert b"SignatureDoesNotMatch" in answer.content
    state = s3_api.client.state(alice, file_obj["id"]).json()
    assert state["parts"] == []


def test_the_upload_state_lists_the_parts_s3_holds(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(2 * PART + 3)
    body = start(s3_api, alice, data)
    urls = urls_of(body)
    chunks = split(data, PART)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    for number in (3, 1):
        assert http.put(urls[number], content=chunks[number - 1]).status_code == 200

    state = s3_api.client.state(alice, file_obj["id"])

    assert state.status_code == 200, state.text
    assert state.json()["parts"] == [
        {"part_number": 1, "etag": md5_hex(chunks[0]), "size": PART},
        {"part_number": 3, "etag": md5_hex(chunks[2]), "size": 3},
    ]
    assert state.json()["upload_id"] == s3_api.pending_uploads()[0]


def test_abort_leaves_no_multipart_upload_in_the_bucket(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(PART + 1)
    body = start(s3_api, alice, data)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    assert http.put(urls_of(body)[1], content=data[:PART]).status_code == 200
    assert len(s3_api.pending_uploads()) == 1

    assert s3_api.client.abort(alice, file_obj["id"]).status_code == 204
    assert s3_api.client.abort(alice, file_obj["id"]).status_code == 204

    assert s3_api.pending_uploads() == []
    state = s3_api.client.state(alice, file_obj["id"]).json()
    assert (state["upload_status"], state["parts"]) == ("aborted", [])
    late = http.put(urls_of(body)[2], content=data[PART:])
    assert late.status_code >= 400  # S3: 404 NoSuchUpload (moto fails it with a 500)


def test_an_expired_part_url_is_refused_by_s3_and_a_refreshed_one_works(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(PART + 7)
    chunks = split(data, PART)
    lifetime = s3_api.settings.presigned_url_expires_in
    s3_api.clock.advance(-(lifetime + timedelta(minutes=5)))  # initiate long enough ago
    body = start(s3_api, alice, data)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    s3_api.clock.advance(lifetime + timedelta(minutes=5))  # back to now

    expired = http.put(urls_of(body)[1], content=chunks[0])
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code>" in expired.content
    if s3_api.store == "moto":  # AWS says why; RGW's message is empty
        assert b"Request has expired" in expired.content

    refreshed = s3_api.client.http.post(
        f"/v1/files/uploads/{file_obj['id']}/presigned-urls/", headers=alice
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = urls_of(refreshed.json())
    assert sorted(fresh) == [1, 2]
    refs = put_all(http, fresh, data)
    done = s3_api.client.complete(alice, file_obj["id"], refs)
    assert done.status_code == 200, done.text
    assert (
        s3_api.s3.get_object(Bucket=s3_api.bucket, Key=f"uploadcore/{file_obj['id']}")[
            "Body"
        ].read()
        == data
    )


def test_presigned_part_urls_sign_the_planned_content_length(
    s3_api: S3Harness, alice: Headers
) -> None:
    body = start(s3_api, alice, os.urandom(PART + 99))

    for number, url in urls_of(body).items():
        query = parse_qs(urlsplit(url).query)
        assert query["partNumber"] == [str(number)]
        assert query["X-Amz-SignedHeaders"] == ["content-length;host"]
        assert query["X-Amz-Expires"] == [str(body["expires_in"])]


def test_completing_a_completed_s3_upload_again_returns_the_same_file(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(PART + 5)
    body = start(s3_api, alice, data)
    file_obj = body["file_obj"]
    assert isinstance(file_obj, dict)
    refs = put_all(http, urls_of(body), data)
    first = s3_api.client.complete(alice, file_obj["id"], refs)

    again = s3_api.client.complete(alice, file_obj["id"], list(reversed(refs)))
    other = s3_api.client.complete(alice, file_obj["id"], [refs[0], {**refs[1], "etag": "0" * 32}])

    assert first.status_code == again.status_code == 200
    assert again.json()["etag"] == first.json()["etag"]
    assert_problem(other, 409, "invalid_state")
    assert s3_api.client.state(alice, file_obj["id"]).json()["parts"] == []
