"""HTTP itself: paths with and without the slash, errors, methods, CORS, health."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from starlette.testclient import TestClient
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    MakeApi,
    assert_problem,
    error_fields,
    md5_hex,
)

from uploadcore import bootstrap
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

DATA = os.urandom(PART + 1)
ORIGIN = "https://app.example"


def test_healthz_answers_ok_with_and_without_the_slash(api: Harness) -> None:
    for path in ("/healthz", "/healthz/"):
        response = api.client.http.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_readyz_names_each_dependency_it_checked(api: Harness) -> None:
    response = api.client.http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


def test_every_endpoint_answers_without_the_trailing_slash(api: Harness, alice: Headers) -> None:
    http = api.client.http
    initiated = http.post(
        "/v1/files/uploads",
        headers=alice,
        json={
            "file_name": "a.bin",
            "file_size": len(DATA),
            "file_content_type": "application/octet-stream",
            "num_parts": 2,
            "part_size": PART,
        },
    )
    assert initiated.status_code == 201
    file_id = initiated.json()["file_obj"]["id"]
    for url, chunk in zip(
        initiated.json()["presigned_urls"], [DATA[:PART], DATA[PART:]], strict=True
    ):
        bare = url["url"].replace("/?token=", "?token=")
        assert http.put(bare, content=chunk).status_code == 200
    assert http.get(f"/v1/files/uploads/{file_id}", headers=alice).status_code == 200
    refs = [
        {"part_number": 1, "etag": md5_hex(DATA[:PART])},
        {"part_number": 2, "etag": md5_hex(DATA[PART:])},
    ]

    completed = http.post(
        f"/v1/files/uploads/{file_id}/complete", headers=alice, json={"parts": refs}
    )

    assert completed.status_code == 200
    download = http.get(completed.json()["url"].replace("/download/?", "/download?"))
    assert download.content == DATA
    other = api.client.start(alice, DATA)
    assert http.delete(f"/v1/files/uploads/{other.file_id}", headers=alice).status_code == 204


def test_no_path_redirects(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    for path in (f"/v1/files/uploads/{started.file_id}", f"/v1/files/uploads/{started.file_id}/"):
        response = api.client.http.get(path, headers=alice, follow_redirects=False)
        assert response.status_code == 200


def test_an_unknown_path_is_a_404_problem(api: Harness) -> None:
    assert_problem(api.client.http.get("/v1/nothing/here/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/files/uploads/", {"POST"}),
        ("PUT", "/v1/files/uploads/abc/", {"GET", "HEAD", "DELETE"}),
        ("POST", "/v1/files/uploads/abc", {"GET", "HEAD", "DELETE"}),
        ("GET", "/v1/files/uploads/abc/complete/", {"POST"}),
        ("POST", "/v1/files/presigned-uploads/abc/upload-part/1/", {"PUT"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("DELETE", "/v1/files/abc/download/", {"GET", "HEAD"}),
    ],
)
def test_a_wrong_method_is_a_405_problem_listing_the_allowed_ones(
    api: Harness, method: str, path: str, allowed: set[str]
) -> None:
    response = api.client.http.request(method, path)

    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == allowed


@pytest.mark.parametrize("file_id", ["%00", "..", "%2e%2e", "a'; DROP TABLE files; --", "é" * 300])
def test_a_strange_file_id_is_just_not_found(api: Harness, alice: Headers, file_id: str) -> None:
    response = api.client.http.get(f"/v1/files/uploads/{file_id}/", headers=alice)

    if response.request.url.path == "/v1/files/":  # the client resolved `..`: alice's listing
        assert response.json() == {"results": [], "next": None}
        return
    assert response.status_code in (404, 400), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unreachable_database_is_503_not_401(settings: Settings) -> None:
    down = replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/uploadcore")
    core = bootstrap.build(down)

    with TestClient(create_app(down, core)) as client:
        alive = client.get("/healthz")
        ready = client.get("/readyz")
        initiate = client.post(
            "/v1/files/uploads/", headers={"Authorization": "Bearer uc_key"}, json={}
        )

    assert alive.status_code == 200  # liveness: the process answers; restarting it helps nothing
    body = assert_problem(ready, 503, "not_ready")
    assert body["checks"] == {"database": "down", "storage": "ok"}
    assert body["detail"] == "the database is not available"
    assert_problem(initiate, 503, "storage_unavailable")
    assert "nobody" not in ready.text


# -- the completion body -----------------------------------------------------------


@pytest.fixture
def file_id(api: Harness, alice: Headers) -> str:
    started = api.client.start(alice, DATA)
    api.client.put_parts(started)
    return started.file_id


def test_a_completion_body_that_is_not_json_is_415(
    api: Harness, alice: Headers, file_id: str
) -> None:
    response = api.client.http.post(
        f"/v1/files/uploads/{file_id}/complete/",
        content=json.dumps({"parts": []}),
        headers=alice | {"Content-Type": "text/plain"},
    )

    assert_problem(response, 415, "unsupported_media_type")


def test_a_completion_body_that_is_malformed_is_400(
    api: Harness, alice: Headers, file_id: str
) -> None:
    response = api.client.http.post(
        f"/v1/files/uploads/{file_id}/complete/",
        content=b'{"parts": [',
        headers=alice | {"Content-Type": "application/json"},
    )

    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"parts"}),
        ({"parts": "1,2"}, {"parts"}),
        ({"parts": None}, {"parts"}),
        ({"parts": [], "extra": 1}, {"extra"}),
        ({"parts": [1, 2]}, {"parts[0]", "parts[1]"}),
        ({"parts": [{"part_number": "1", "etag": "e"}]}, {"parts[0].part_number"}),
        ({"parts": [{"part_number": True, "etag": "e"}]}, {"parts[0].part_number"}),
        ({"parts": [{"part_number": 1.0, "etag": "e"}]}, {"parts[0].part_number"}),
        ({"parts": [{"part_number": -1, "etag": "e"}]}, {"parts[0].part_number"}),
        ({"parts": [{"part_number": 1, "etag": 5}]}, {"parts[0].etag"}),
        ({"parts": [{"part_number": 1}]}, {"parts[0].etag"}),
        ({"parts": [{"part_number": 1, "etag": "e", "size": 3}]}, {"parts[0].size"}),
    ],
)
def test_a_completion_body_of_the_wrong_shape_names_the_fields(
    api: Harness, alice: Headers, file_id: str, body: object, fields: set[str]
) -> None:
    response = api.client.http.post(
        f"/v1/files/uploads/{file_id}/complete/", headers=alice, json=body
    )

    assert error_fields(response) == fields


# -- CORS ------------------------------------------------------------------------


@pytest.fixture
def cors(make_api: MakeApi) -> Harness:
    return make_api(cors_allow_origins=(ORIGIN,))


def test_a_cors_preflight_for_a_part_upload_is_answered_for_an_allowed_origin(
    cors: Harness,
) -> None:
    alice = cors.user("alice")
    started = cors.client.start(alice, DATA)

    response = cors.client.http.options(
        started.urls[1],
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, content-md5",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "content-md5" in allowed_headers
    assert "content-type" in allowed_headers


def test_a_cross_origin_part_upload_exposes_its_etag(cors: Harness) -> None:
    alice = cors.user("alice")
    started = cors.client.start(alice, DATA)

    response = cors.client.put_part(started.urls[1], started.chunks[0], {"Origin": ORIGIN})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "ETag" in response.headers["access-control-expose-headers"].split(",")
    assert response.headers["etag"] == f'"{md5_hex(started.chunks[0])}"'


def test_a_cors_preflight_from_another_origin_is_not_allowed(cors: Harness) -> None:
    response = cors.client.http.options(
        "/v1/files/uploads/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


def test_without_allowed_origins_no_cors_headers_are_sent(api: Harness, alice: Headers) -> None:
    preflight = api.client.http.options(
        "/v1/files/uploads/",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    started = api.client.start(alice, DATA)
    upload = api.client.put_part(started.urls[1], started.chunks[0], {"Origin": ORIGIN})

    assert_problem(preflight, 405, "method_not_allowed")
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in upload.headers
