"""Companion's S3 routes as Uppy's AwsS3 plugin calls them, on local storage.

The browser test (tests/integration/browser/) runs the real Uppy; these pin
the wire answers, the status codes Uppy goes by, and CORS on errors.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from tests.integration.http.support import Harness, Headers, Json, MakeApi, assert_problem
from tests.integration.http.test_upload_tokens import mint

ORIGIN = "https://app.example.com"
MIN = 1024  # the tests' MIN_PART_SIZE


@pytest.fixture
def api(make_api: MakeApi) -> Harness:
    return make_api(cors_allow_origins=(ORIGIN,))


def events_of(api: Harness, file_id: str) -> list[str]:
    webhooks = api.core.webhooks
    assert webhooks is not None
    return sorted(r.event.type for r in webhooks.events() if r.event.file_id == file_id)


def endpoint(minted: Json) -> str:
    return str(minted["uppy_endpoint"]).removeprefix("http://testserver")


def multipart(api: Harness, base: str, data: bytes, part: int = MIN, **extra: object) -> Json:
    """What Uppy does for a multipart upload: create, sign and PUT each part, complete."""
    http = api.client.http
    created = http.post(
        f"{base}/s3/multipart", json={"filename": "a.bin", "type": "application/x-test",
                                      "metadata": {"name": "a.bin"}, **extra},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    key, upload_id = created.json()["key"], created.json()["uploadId"]
    parts = []
    for n, offset in enumerate(range(0, len(data), part), start=1):
        signed = http.get(f"{base}/s3/multipart/{upload_id}/{n}", params={"key": key})
        assert signed.status_code == 200, signed.text
        put = http.put(signed.json()["url"], content=data[offset : offset + part])
        assert put.status_code == 200, put.text
        parts.append({"PartNumber": n, "ETag": put.headers["etag"]})
    done = http.post(
        f"{base}/s3/multipart/{upload_id}/complete", params={"key": key}, json={"parts": parts}
    )
    return {"key": key, "uploadId": upload_id, "response": done}


def test_multipart_without_a_size_completes_into_an_ordinary_file(
    api: Harness, alice: Headers
) -> None:
    data = os.urandom(3 * MIN + 100)
    base = endpoint(mint(api, alice))

    result = multipart(api, base, data)

    done = result["response"]
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["key"] == result["key"]
    assert body["location"] == body["file"]["url"]
    file = api.client.http.get(f"/v1/files/{body['file']['id']}/", headers=alice).json()
    assert (file["upload_status"], file["file_size"], file["owner"]) == (
        "completed",
        len(data),
        "alice",
    )
    assert file["file_name"] == "a.bin"
    assert file["file_content_type"] == "application/x-test"
    assert api.client.download(file["url"]).content == data
    md5s = b"".join(
        hashlib.md5(data[o : o + MIN], usedforsecurity=False).digest()
        for o in range(0, len(data), MIN)
    )
    assert file["etag"] == f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-4"
    assert events_of(api, file["id"]) == ["upload.completed", "upload.created"]


def test_list_parts_is_a_bare_array_and_abort_aborts(api: Harness, alice: Headers) -> None:
    base = endpoint(mint(api, alice))
    http = api.client.http
    created = http.post(f"{base}/s3/multipart", json={"filename": "b.bin", "type": "text/plain"})
    key, upload_id = created.json()["key"], created.json()["uploadId"]
    url = http.get(f"{base}/s3/multipart/{upload_id}/1", params={"key": key}).json()["url"]
    http.put(url, content=b"x" * MIN)
    batch = http.get(
        f"{base}/s3/multipart/{upload_id}/batch", params={"key": key, "partNumbers": "2,3"}
    )
    assert set(batch.json()["presignedUrls"]) == {"2", "3"}

    listed = http.get(f"{base}/s3/multipart/{upload_id}", params={"key": key})

    assert listed.json() == [
        {
            "PartNumber": 1,
            "ETag": hashlib.md5(b"x" * MIN, usedforsecurity=False).hexdigest(),
            "Size": MIN,
        }
    ]
    assert http.delete(f"{base}/s3/multipart/{upload_id}", params={"key": key}).status_code == 200
    file_id = key.rsplit("/", 1)[1]
    file = http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert file["upload_status"] == "aborted"


def test_a_key_or_upload_id_not_the_upload_s_own_is_404(api: Harness, alice: Headers) -> None:
    base = endpoint(mint(api, alice))
    http = api.client.http
    created = http.post(f"{base}/s3/multipart", json={"filename": "c.bin"}).json()
    key, upload_id = created["key"], created["uploadId"]

    for path, params in (
        (f"{base}/s3/multipart/{upload_id}", {"key": key + "x"}),
        (f"{base}/s3/multipart/{upload_id}", {"key": "files/zz/" + key.rsplit("/", 1)[1]}),
        (f"{base}/s3/multipart/nope", {"key": key}),
        (f"{base}/s3/multipart/{upload_id}/1", {}),
    ):
        assert_problem(http.get(path, params=params), 404, "not_found")


def test_parts_but_the_last_below_the_minimum_are_refused_at_completion(
    api: Harness, alice: Headers
) -> None:
    result = multipart(api, endpoint(mint(api, alice)), os.urandom(MIN + 10), part=MIN // 2)

    assert_problem(result["response"], 400, "part_plan_mismatch")


def test_a_token_s_size_limit_holds_as_parts_arrive(api: Harness, alice: Headers) -> None:
    base = endpoint(mint(api, alice, max_file_size=MIN + 10))
    http = api.client.http
    created = http.post(f"{base}/s3/multipart", json={"filename": "d.bin"}).json()
    key, upload_id = created["key"], created["uploadId"]
    first = http.get(f"{base}/s3/multipart/{upload_id}/1", params={"key": key}).json()["url"]
    assert http.put(first, content=b"a" * MIN).status_code == 200
    second = http.get(f"{base}/s3/multipart/{upload_id}/2", params={"key": key}).json()["url"]

    assert_problem(http.put(second, content=b"b" * 11), 413, "file_too_large")
    assert http.put(second, content=b"b" * 10).status_code == 200


def test_status_codes_carry_the_meaning_and_every_answer_has_cors(
    api: Harness, alice: Headers
) -> None:
    http = api.client.http
    minted = mint(api, alice, max_files=1, allowed_content_types=["image/*"])
    base = endpoint(minted)
    cors = {"Origin": ORIGIN}

    refused_type = http.post(
        f"{base}/s3/multipart", json={"filename": "e.txt", "type": "text/plain"}, headers=cors
    )
    first = http.post(
        f"{base}/s3/multipart", json={"filename": "e.png", "type": "image/png"}, headers=cors
    )
    over_count = http.post(
        f"{base}/s3/multipart", json={"filename": "f.png", "type": "image/png"}, headers=cors
    )
    unknown = http.get("/v1/uppy/ut_nope/s3/params?filename=x&type=image/png", headers=cors)
    api_key_in_path = http.get(f"/v1/uppy/{alice['Authorization'][7:]}/s3/params", headers=cors)
    http.delete(f"/v1/upload-tokens/{minted['id']}/", headers=alice)
    revoked = http.get(f"{base}/s3/params?filename=x&type=image/png", headers=cors)

    assert_problem(refused_type, 400, "content_type_not_allowed")
    assert first.status_code == 200
    assert_problem(over_count, 403, "token_limit_reached")
    for response in (unknown, api_key_in_path, revoked):
        assert_problem(response, 401, "not_authenticated")
    for response in (refused_type, first, over_count, unknown, revoked):
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "etag" in response.headers["access-control-expose-headers"].lower()


def test_preflights_of_the_part_put_and_the_form_post_are_answered(api: Harness) -> None:
    for method, path in (
        ("PUT", "/v1/files/presigned-uploads/x/upload-part/1/?token=t"),
        ("POST", "/v1/uppy/forms/x/?token=t"),
        ("POST", "/v1/uppy/ut_x/s3/multipart"),
    ):
        response = api.client.http.options(
            path,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": method,
                     "Access-Control-Request-Headers": "content-type"},
        )  # fmt: skip
        assert response.status_code == 200, (path, response.text)
        assert response.headers["access-control-allow-origin"] == ORIGIN


def test_the_routes_answer_with_a_bearer_credential_too(api: Harness, alice: Headers) -> None:
    data = os.urandom(MIN + 1)
    http = api.client.http
    http.headers.update(alice)
    try:
        result = multipart(api, "/v1/uppy", data)
    finally:
        del http.headers["Authorization"]

    assert result["response"].status_code == 200, result["response"].text
    assert result["response"].json()["file"]["owner"] == "alice"


def form_upload(
    api: Harness, base: str, data: bytes, type: str = "text/plain"
) -> tuple[Json, object]:
    http = api.client.http
    params = http.get(f"{base}/s3/params", params={"filename": "s.txt", "type": type,
                                                 "metadata[name]": "s.txt"})  # fmt: skip
    assert params.status_code == 200, params.text
    form = params.json()
    assert form["method"] == "POST"
    assert list(form["fields"]) == ["key"]
    posted = http.post(form["url"], data=form["fields"], files={"file": ("s.txt", data, type)})
    return form, posted


@pytest.mark.parametrize("size", [0, 1, 300_000])
def test_a_single_request_upload_streams_the_form_to_disk_and_completes(
    api: Harness, alice: Headers, size: int
) -> None:
    data = os.urandom(size)

    form, posted = form_upload(api, endpoint(mint(api, alice)), data)

    assert posted.status_code == 201, posted.text  # type: ignore[attr-defined]
    file_id = form["fields"]["key"].rsplit("/", 1)[1]
    file = api.client.http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert (file["upload_status"], file["file_size"]) == ("completed", size)
    assert api.client.download(file["url"]).content == data
    md5 = hashlib.md5(data, usedforsecurity=False).digest()
    assert file["etag"] == hashlib.md5(md5, usedforsecurity=False).hexdigest() + "-1"
    assert events_of(api, file_id) == ["upload.completed", "upload.created"]


def test_a_form_past_the_token_s_limit_is_413_and_aborts_its_upload(
    api: Harness, alice: Headers
) -> None:
    form, posted = form_upload(api, endpoint(mint(api, alice, max_file_size=1000)), b"z" * 1001)

    assert_problem(posted, 413, "file_too_large")  # type: ignore[arg-type]
    file_id = form["fields"]["key"].rsplit("/", 1)[1]
    file = api.client.http.get(f"/v1/files/{file_id}/", headers=alice).json()
    assert file["upload_status"] == "aborted"
    assert not any((api.media_root / "temp_uploads").iterdir())


def test_a_form_token_is_checked(api: Harness, alice: Headers) -> None:
    base = endpoint(mint(api, alice))
    form = api.client.http.get(f"{base}/s3/params", params={"filename": "t.txt"}).json()
    url = form["url"].replace("token=", "token=x")

    posted = api.client.http.post(url, data=form["fields"], files={"file": ("t", b"abc")})

    assert_problem(posted, 403, "token_invalid")


def test_tus_does_not_append_to_an_uppy_upload(api: Harness, alice: Headers) -> None:
    minted = mint(api, alice)
    made = api.client.http.post(f"{endpoint(minted)}/s3/multipart", json={"filename": "g"}).json()
    tus = {"Authorization": f"Bearer {minted['token']}", "Tus-Resumable": "1.0.0"}
    url = f"/v1/tus/{made['key'].rsplit('/', 1)[1]}"

    patched = api.client.http.patch(
        url,
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        content=b"abc",
    )

    assert patched.status_code == 404
    assert api.client.http.head(url, headers=tus).status_code == 404
