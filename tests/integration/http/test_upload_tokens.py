"""Upload tokens over HTTP: a backend mints one with its API key, a browser uploads with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.integration.http.support import Harness, Headers, Json, assert_problem, error_fields

TOKENS = "/v1/upload-tokens/"
DATA = b"hello from a browser"


def mint(api: Harness, headers: Headers, **body: object) -> Json:
    response = api.client.http.post(TOKENS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    minted: Json = response.json()
    return minted


def bearer(minted: Json) -> Headers:
    return {"Authorization": f"Bearer {minted['token']}"}


def test_a_browser_uploads_with_a_token_and_the_file_is_the_user_s(
    api: Harness, alice: Headers
) -> None:
    minted = mint(api, alice, max_files=1, parent_content_type="blog.post", parent_object_id=42)
    assert set(minted) == {"id", "token", "expires_at", "uppy_endpoint", "tus_endpoint"}
    assert minted["token"].startswith("ut_")
    assert minted["uppy_endpoint"] == f"http://testserver/v1/uppy/{minted['token']}"
    assert minted["tus_endpoint"] == "http://testserver/v1/tus/"

    file = api.client.upload(bearer(minted), DATA)

    assert file["owner"] == "alice"
    assert (file["parent_content_type"], file["parent_object_id"]) == ("blog.post", "42")
    listed = api.client.http.get("/v1/files/", headers=alice).json()["results"]
    assert [f["id"] for f in listed] == [file["id"]]
    assert api.client.download(file["url"]).content == DATA


def test_a_token_is_refused_everywhere_but_the_upload_endpoints(
    api: Harness, alice: Headers
) -> None:
    token = bearer(mint(api, alice))
    file = api.client.upload(token, DATA)
    http = api.client.http

    for response in (
        http.get("/v1/files/", headers=token),
        http.get(f"/v1/files/{file['id']}/", headers=token),
        http.patch(f"/v1/files/{file['id']}/", headers=token, json={"file_name": "x"}),
        http.delete(f"/v1/files/{file['id']}/", headers=token),
        http.post(TOKENS, headers=token, json={}),
    ):
        assert_problem(response, 403, "forbidden")
    assert http.get(f"/v1/files/{file['id']}/", headers=alice).status_code == 200


def test_a_token_acts_only_on_the_uploads_it_started(api: Harness, alice: Headers) -> None:
    own = api.client.start(alice, DATA)
    started = api.client.start(bearer(mint(api, alice)), DATA)
    other = bearer(mint(api, alice))

    assert_problem(api.client.state(other, own.file_id), 403, "forbidden")
    assert_problem(api.client.abort(other, started.file_id), 403, "forbidden")
    assert api.client.state(alice, started.file_id).status_code == 200


def test_every_limit_of_the_token_holds(api: Harness, alice: Headers) -> None:
    token = bearer(mint(api, alice, max_file_size=len(DATA), max_files=1,
                        allowed_content_types=["image/*"]))  # fmt: skip
    image = {"file_content_type": "image/png"}

    too_big = api.client.initiate(token, {**_body(DATA + b"!"), **image})
    wrong_type = api.client.initiate(token, _body(DATA))
    first = api.client.initiate(token, {**_body(DATA), **image})
    second = api.client.initiate(token, {**_body(DATA), **image})

    assert_problem(too_big, 413, "file_too_large")
    assert_problem(wrong_type, 400, "content_type_not_allowed")
    assert first.status_code == 201, first.text
    assert_problem(second, 403, "token_limit_reached")


def test_a_revoked_token_is_401_at_once_and_an_expired_one_says_so(
    api: Harness, alice: Headers
) -> None:
    revoked, expiring = mint(api, alice), mint(api, alice, expires_in=60)

    gone = api.client.http.delete(f"{TOKENS}{revoked['id']}/", headers=alice)
    assert gone.status_code == 204
    assert_problem(api.client.initiate(bearer(revoked), _body(DATA)), 401, "not_authenticated")
    api.clock.advance(timedelta(seconds=60))
    assert_problem(api.client.initiate(bearer(expiring), _body(DATA)), 401, "token_expired")


def test_only_the_owner_or_an_admin_revokes_a_token(
    api: Harness, alice: Headers, bob: Headers, admin: Headers
) -> None:
    minted = mint(api, alice)
    url = f"{TOKENS}{minted['id']}/"

    assert_problem(api.client.http.delete(url, headers=bob), 404, "not_found")
    assert api.client.http.delete(url, headers=admin).status_code == 204
    assert api.client.http.delete(url, headers=alice).status_code == 204  # again: 204


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"expires_in": 0, "max_files": 0}, {"expires_in", "max_files"}),
        ({"expires_in": 86401, "colour": "red"}, {"expires_in", "colour"}),
        ({"allowed_content_types": ["image/*", "no type"]}, {"allowed_content_types"}),
        ({"max_file_size": 6 * 2**30}, {"max_file_size"}),
        ({"parent_content_type": "blog.post"}, {"parent_object_id"}),
    ],
)
def test_a_bad_token_request_names_its_fields(
    api: Harness, alice: Headers, body: Json, fields: set[str]
) -> None:
    response = api.client.http.post(TOKENS, headers=alice, json=body)

    assert_problem(response, 400, "validation_error")
    assert error_fields(response) == fields


def test_a_token_request_needs_no_body(api: Harness, alice: Headers) -> None:
    response = api.client.http.post(TOKENS, headers=alice)

    assert response.status_code == 201, response.text


def _body(data: bytes) -> Json:
    return {
        "file_name": "photo.png",
        "file_size": len(data),
        "file_content_type": "text/plain",
        "num_parts": 1,
        "part_size": max(len(data), 1),
    }


def test_a_token_request_that_is_not_an_object_is_400(api: Harness, alice: Headers) -> None:
    response = api.client.http.post(
        TOKENS, headers={**alice, "Content-Type": "application/json"}, content=b"null"
    )

    assert_problem(response, 400, "validation_error")
