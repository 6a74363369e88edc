"""HTTP method confusion and unknown fields: nothing is reached by the back door."""

from __future__ import annotations

import os

import pytest
from tests.integration.http.support import assert_problem, error_fields, request_for
from tests.integration.security.conftest import Hostile

DATA = os.urandom(2 * 1024)
OVERRIDES = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]

# (method, path): {id} is an upload of Alice's in progress, {part} its part-1 URL path,
# {download} the download path of a completed file of hers.
WRONG_METHODS = [
    ("GET", "/v1/files/uploads/{id}/complete/"),
    ("PUT", "/v1/files/uploads/{id}/complete/"),
    ("DELETE", "/v1/files/uploads/{id}/complete/"),
    ("PUT", "/v1/files/uploads/"),
    ("DELETE", "/v1/files/uploads/"),
    ("PATCH", "/v1/files/uploads/"),
    ("POST", "{part}"),
    ("GET", "{part}"),
    ("DELETE", "{part}"),
    ("PATCH", "{part}"),
    ("POST", "/v1/files/uploads/{id}/"),
    ("PUT", "/v1/files/uploads/{id}/"),
    ("PUT", "/v1/files/{id}/"),
    ("POST", "/v1/files/{id}/"),
    ("GET", "/v1/files/uploads/{id}/presigned-urls/"),
    ("PUT", "{download}"),
    ("DELETE", "{download}"),
    ("POST", "/healthz"),
    ("TRACE", "/v1/files/"),
    ("OPTIONS", "/v1/files/uploads/"),
    ("CONNECT", "/v1/files/"),
    ("PROPFIND", "/v1/files/{id}/"),
]


@pytest.fixture
def paths(hostile: Hostile) -> dict[str, str]:
    started = hostile.alice_upload(DATA)
    file = hostile.alice_file(DATA)
    return {
        "id": started.file_id,
        "part": started.urls[1].removeprefix("http://testserver"),
        "download": file["url"].removeprefix("http://testserver"),
    }


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_a_wrong_method_is_405_and_changes_nothing(
    hostile: Hostile, paths: dict[str, str], method: str, path: str
) -> None:
    before = hostile.api.client.state(hostile.alice, paths["id"]).json()

    response = hostile.http.request(
        method, path.format(**paths), headers=hostile.alice, content=DATA[:1024]
    )

    assert_problem(response, 405, "method_not_allowed")
    assert method not in response.headers["allow"].split(", ")
    assert hostile.api.client.state(hostile.alice, paths["id"]).json() == before


@pytest.mark.parametrize("header", OVERRIDES)
def test_a_method_override_header_is_ignored_on_a_read(
    hostile: Hostile, paths: dict[str, str], header: str
) -> None:
    path = f"/v1/files/uploads/{paths['id']}/"

    response = hostile.http.get(path, headers=hostile.alice | {header: "DELETE"})

    assert response.status_code == 200
    assert response.json()["upload_status"] == "uploading"


@pytest.mark.parametrize("header", OVERRIDES)
def test_a_method_override_header_is_ignored_on_a_write(
    hostile: Hostile, paths: dict[str, str], header: str
) -> None:
    response = hostile.http.post(
        "/v1/files/uploads/",
        headers=hostile.alice | {header: "DELETE"},
        json=request_for(DATA),
    )

    assert response.status_code == 201
    state = hostile.api.client.state(hostile.alice, paths["id"]).json()
    assert state["upload_status"] == "uploading"


@pytest.mark.parametrize("query", ["_method=DELETE", "method=DELETE", "_method=delete"])
def test_a_method_in_the_query_string_is_ignored(
    hostile: Hostile, paths: dict[str, str], query: str
) -> None:
    response = hostile.http.get(f"/v1/files/uploads/{paths['id']}/?{query}", headers=hostile.alice)

    assert response.status_code == 200
    assert response.json()["upload_status"] == "uploading"


def test_a_head_request_changes_nothing_and_sends_no_body(
    hostile: Hostile, paths: dict[str, str]
) -> None:
    response = hostile.http.head(f"/v1/files/{paths['id']}/", headers=hostile.alice)

    assert response.status_code == 200
    assert response.content == b""


# -- unknown fields ------------------------------------------------------------------------

SMUGGLED = {
    "owner": "bob-c21e",
    "upload_status": "completed",
    "id": "0" * 32,
    "upload_id": "../../etc",
    "etag": "0" * 32,
    "storage_key": "files/../../escape",
    "is_admin": True,
    "__proto__": {"admin": True},
    "url": "http://evil.example/",
}


@pytest.mark.parametrize("field", SMUGGLED)
def test_an_unknown_field_in_an_initiate_is_400_naming_it(hostile: Hostile, field: str) -> None:
    response = hostile.api.client.initiate(
        hostile.alice, request_for(DATA) | {field: SMUGGLED[field]}
    )

    assert error_fields(response) == {field}
    listing = hostile.http.get("/v1/files/?upload_status=all", headers=hostile.alice).json()
    assert listing["results"] == []


@pytest.mark.parametrize("field", SMUGGLED)
def test_an_unknown_field_in_a_patch_is_400_and_changes_nothing(
    hostile: Hostile, paths: dict[str, str], field: str
) -> None:
    path = f"/v1/files/{paths['id']}/"
    before = hostile.http.get(path, headers=hostile.alice).json()

    response = hostile.http.patch(path, headers=hostile.alice, json={field: SMUGGLED[field]})

    assert error_fields(response) == {field}
    after = hostile.http.get(path, headers=hostile.alice).json()
    assert {k: v for k, v in after.items() if k != "url"} == {
        k: v for k, v in before.items() if k != "url"
    }


@pytest.mark.parametrize("where", ["body", "part"])
def test_an_unknown_field_in_a_completion_is_400(
    hostile: Hostile, paths: dict[str, str], where: str
) -> None:
    started = hostile.alice_upload(DATA)
    refs = hostile.api.client.put_parts(started)
    body: dict[str, object] = {"parts": refs}
    if where == "body":
        body["owner"] = "bob-c21e"
    else:
        refs[0] = refs[0] | {"size": 1}

    response = hostile.http.post(
        f"/v1/files/uploads/{started.file_id}/complete/", headers=hostile.alice, json=body
    )

    assert response.status_code == 400, response.text
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["upload_status"] == (
        "uploading"
    )


def test_an_unknown_field_in_a_refresh_is_400(hostile: Hostile, paths: dict[str, str]) -> None:
    response = hostile.http.post(
        f"/v1/files/uploads/{paths['id']}/presigned-urls/",
        headers=hostile.alice,
        json={"part_numbers": [1], "expires_in": 10**9},
    )

    assert error_fields(response) == {"expires_in"}


# -- headers that would steer the answer -----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Forwarded": "host=evil.example;proto=https"},
    ],
)
def test_a_hostile_host_header_does_not_steer_the_urls_handed_out(
    hostile: Hostile, headers: dict[str, str]
) -> None:
    """With BASE_URL set (`uploadcore serve` always sets it), URLs never follow the request."""
    response = hostile.http.post(
        "/v1/files/uploads/", headers=hostile.alice | headers, json=request_for(DATA)
    )

    assert response.status_code == 201, response.text
    for url in response.json()["presigned_urls"]:
        assert url["url"].startswith(f"{hostile.api.settings.base_url}/v1/files/")
    assert "evil" not in response.text
