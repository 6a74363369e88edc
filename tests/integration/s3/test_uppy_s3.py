"""Uppy's routes on S3 (moto behind its SigV4 gate, and Ceph RGW): multipart of open
length through unsized presigned part URLs, and single-request uploads through a POST
policy that S3 itself enforces (RGW; moto checks no policy) and HeadObject arrival."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from tests.integration.http.support import Headers, assert_problem
from tests.integration.s3.conftest import PART, S3Harness

Json = dict[str, Any]


def endpoint(api: S3Harness, headers: Headers, **limits: object) -> str:
    minted = api.client.http.post("/v1/upload-tokens/", headers=headers, json=limits)
    assert minted.status_code == 201, minted.text
    return str(minted.json()["uppy_endpoint"]).removeprefix("http://testserver")


def file_of(api: S3Harness, headers: Headers, key: str) -> Json:
    answer = api.client.http.get(f"/v1/files/{key.rsplit('/', 1)[1]}/", headers=headers)
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


def test_multipart_of_open_length_on_s3(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    data = os.urandom(PART + 1000)
    base, api = endpoint(s3_api, alice), s3_api.client.http
    made = api.post(f"{base}/s3/multipart", json={"filename": "v.mp4", "type": "video/mp4"}).json()
    key, upload_id = made["key"], made["uploadId"]
    parts = []
    for n, chunk in enumerate((data[:PART], data[PART:]), start=1):
        url = api.get(f"{base}/s3/multipart/{upload_id}/{n}", params={"key": key}).json()["url"]
        put = http.put(url, content=chunk)
        assert put.status_code == 200, put.text
        parts.append({"PartNumber": n, "ETag": put.headers["etag"]})
    listed = api.get(f"{base}/s3/multipart/{upload_id}", params={"key": key}).json()
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, PART), (2, 1000)]

    done = api.post(
        f"{base}/s3/multipart/{upload_id}/complete", params={"key": key}, json={"parts": parts}
    )

    assert done.status_code == 200, done.text
    file = file_of(s3_api, alice, key)
    assert (file["upload_status"], file["file_size"]) == ("completed", len(data))
    assert http.get(file["url"]).content == data


def test_open_parts_past_the_token_s_limit_abort_the_upload_at_completion(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    base, api = endpoint(s3_api, alice, max_file_size=PART), s3_api.client.http
    made = api.post(f"{base}/s3/multipart", json={"filename": "w.bin"}).json()
    key, upload_id = made["key"], made["uploadId"]
    url = api.get(f"{base}/s3/multipart/{upload_id}/1", params={"key": key}).json()["url"]
    etag = http.put(url, content=b"w" * (PART + 1)).headers["etag"]

    done = api.post(
        f"{base}/s3/multipart/{upload_id}/complete",
        params={"key": key},
        json={"parts": [{"PartNumber": 1, "ETag": etag}]},
    )

    assert_problem(done, 413, "file_too_large")
    assert file_of(s3_api, alice, key)["upload_status"] == "aborted"
    assert upload_id not in s3_api.pending_uploads()


def params(api: S3Harness, base: str, type: str = "text/plain") -> Json:
    answer = api.client.http.get(f"{base}/s3/params", params={"filename": "p.txt", "type": type})
    assert answer.status_code == 200, answer.text
    form: Json = answer.json()
    return form


def test_a_single_request_upload_arrives_and_is_recorded_when_read(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    form = params(s3_api, endpoint(s3_api, alice))
    key = form["fields"]["key"]
    assert file_of(s3_api, alice, key)["upload_status"] == "uploading"
    data = os.urandom(3000)

    posted = http.post(form["url"], data=form["fields"], files={"file": ("p.txt", data)})

    assert posted.status_code in (200, 201, 204), posted.text
    file = file_of(s3_api, alice, key)  # a read looks for the object
    assert (file["upload_status"], file["file_size"]) == ("completed", len(data))
    assert file["file_content_type"] == "text/plain"
    assert http.get(file["url"]).content == data
    webhooks = s3_api.core.webhooks
    assert webhooks is not None
    events = [r.event.type for r in webhooks.events() if r.event.file_id == file["id"]]
    assert sorted(events) == ["upload.completed", "upload.created"]


def test_the_post_policy_binds_key_type_and_size(s3_api: S3Harness, alice: Headers) -> None:
    """What the policy says (moto checks none of it: RGW does, below)."""
    form = params(s3_api, endpoint(s3_api, alice, max_file_size=2000), type="image/png")
    fields = form["fields"]

    policy = decoded_policy(fields["policy"])

    conditions = policy["conditions"]
    assert ["content-length-range", 0, 2000] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": fields["key"]} in conditions
    assert {"bucket": s3_api.bucket} in conditions
    assert fields["Content-Type"] == "image/png"
    assert fields["key"].endswith(fields["key"].rsplit("/", 1)[1])


def decoded_policy(policy: str) -> Json:
    decoded: Json = json.loads(base64.b64decode(policy))
    return decoded


def test_s3_itself_refuses_what_the_policy_does_not_allow(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    if s3_api.store != "rgw":
        pytest.skip("moto checks no POST policy: the real S3 (RGW) does")
    form = params(s3_api, endpoint(s3_api, alice, max_file_size=2000), type="image/png")
    fields = form["fields"]

    too_large = http.post(form["url"], data=fields, files={"file": ("p", b"x" * 2001)})
    other_type = http.post(
        form["url"], data={**fields, "Content-Type": "text/html"}, files={"file": ("p", b"x")}
    )
    other_key = http.post(
        form["url"], data={**fields, "key": fields["key"] + "x"}, files={"file": ("p", b"x")}
    )
    fits = http.post(form["url"], data=fields, files={"file": ("p", b"x" * 2000)})

    assert too_large.status_code == 400, too_large.text  # EntityTooLarge
    assert other_type.status_code == 403, other_type.text
    assert other_key.status_code == 403, other_key.text
    assert fits.status_code in (200, 201, 204), fits.text
    file = file_of(s3_api, alice, fields["key"])
    assert (file["upload_status"], file["file_size"]) == ("completed", 2000)


def test_an_object_past_the_limit_is_removed_and_its_upload_aborted(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    """Where storage ignored the policy (moto), the arrival check holds the limit."""
    form = params(s3_api, endpoint(s3_api, alice, max_file_size=100))
    key = form["fields"]["key"]
    s3_api.s3.put_object(Bucket=s3_api.bucket, Key=key, Body=b"y" * 101)

    assert file_of(s3_api, alice, key)["upload_status"] == "aborted"
    listed = s3_api.s3.list_objects_v2(Bucket=s3_api.bucket, Prefix=key).get("Contents", [])
    assert listed == []


def test_the_app_notices_an_arrived_object_in_the_background(
    s3_api: S3Harness, alice: Headers, http: httpx2.Client
) -> None:
    """Nobody reads the file: the app's watch finds the object and records it completed."""
    form = params(s3_api, endpoint(s3_api, alice))
    file_id = form["fields"]["key"].rsplit("/", 1)[1]
    posted = http.post(form["url"], data=form["fields"], files={"file": ("p.txt", b"watched")})
    assert posted.status_code in (200, 201, 204), posted.text

    s3_api.clock.advance(timedelta(seconds=2))  # the first check is due
    repo = s3_api.core.complete.repo  # the record itself: no read that would check
    deadline = time.monotonic() + 15
    while (upload := repo.get(file_id)) is not None and upload.status.value != "completed":
        assert time.monotonic() < deadline, upload
        time.sleep(0.05)

    assert upload is not None
    assert upload.file_size == len(b"watched")
