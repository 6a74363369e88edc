"""Every endpoint as another user (IDOR): 403, nothing of the owner's shown, nothing changed.

The guard (conftest.py) also checks every answer Bob got for Alice's key,
name, file names, ids and tokens.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from tests.integration.http.support import Json, assert_problem, with_token
from tests.integration.security.conftest import ALICE, Hostile

from uploadcore.services.users import revoke_key

DATA = os.urandom(2 * 1024 + 7)

# (method, path, JSON body) for every endpoint a user's key opens; {id} is Alice's file.
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/v1/files/uploads/{id}/", None),
    ("HEAD", "/v1/files/uploads/{id}/", None),
    ("DELETE", "/v1/files/uploads/{id}/", None),
    ("POST", "/v1/files/uploads/{id}/presigned-urls/", {}),
    ("POST", "/v1/files/uploads/{id}/presigned-urls/", {"part_numbers": [1]}),
    ("POST", "/v1/files/uploads/{id}/complete/", "refs"),
    ("GET", "/v1/files/{id}/", None),
    ("HEAD", "/v1/files/{id}/", None),
    ("PATCH", "/v1/files/{id}/", {"file_name": "pwned.txt"}),
    ("PATCH", "/v1/files/{id}/", {"parent_object_id": "bob"}),
    ("DELETE", "/v1/files/{id}/", None),
]
IDS = [f"{m} {p} {b if isinstance(b, str) else ''}".strip() for m, p, b in ENDPOINTS]


def request(hostile: Hostile, method: str, path: str, body: Any, file_id: str, refs: Any) -> Any:
    kwargs: dict[str, Any] = {"headers": hostile.bob}
    if body is not None:
        kwargs["json"] = refs if body == "refs" else body
    return hostile.http.request(method, path.format(id=file_id), **kwargs)


def alice_view(hostile: Hostile, file_id: str) -> tuple[Json, Json]:
    """The upload state and the file, as Alice sees them (minus the ever-fresh url)."""
    state = hostile.api.client.state(hostile.alice, file_id).json()
    file = hostile.http.get(f"/v1/files/{file_id}/", headers=hostile.alice).json()
    file.pop("url")
    return state, file


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("stage", ["uploading", "completed"])
def test_another_users_file_is_403_on_every_endpoint_and_unchanged(
    hostile: Hostile, method: str, path: str, body: Any, stage: str
) -> None:
    started = hostile.alice_upload(DATA)
    refs = {"parts": started.refs()}
    if stage == "uploading":
        hostile.api.client.put_part(started.urls[1], started.chunks[0])
    else:
        hostile.api.client.put_parts(started)
        hostile.api.client.complete(hostile.alice, started.file_id, started.refs())
    before = alice_view(hostile, started.file_id)

    response = request(hostile, method, path, body, started.file_id, refs)

    assert response.status_code == 403, response.text
    if method != "HEAD":
        assert_problem(response, 403, "forbidden")
    assert alice_view(hostile, started.file_id) == before
    if stage == "completed":
        [final] = hostile.api.final_files(started.file_id)
        assert final.read_bytes() == DATA


def test_a_listing_shows_only_the_callers_files(hostile: Hostile) -> None:
    hostile.alice_file(DATA)
    hostile.alice_upload(DATA)
    mine = hostile.api.client.upload(hostile.bob, b"bob's")

    for status in ("completed", "all", "uploading", "aborted", "failed"):
        response = hostile.http.get(f"/v1/files/?upload_status={status}", headers=hostile.bob)
        assert response.status_code == 200, response.text
        ids = {f["id"] for f in response.json()["results"]}
        assert ids <= {mine["id"]}


@pytest.mark.parametrize(
    "query",
    [
        f"owner={ALICE}",
        f"owner={ALICE}&upload_status=all",
        "owner=nobody",
        f"parent_content_type=blog.post&parent_object_id=alice-parent-9d2c&owner={ALICE}",
    ],
)
def test_naming_another_owner_in_a_listing_is_403(hostile: Hostile, query: str) -> None:
    hostile.alice_file(DATA)

    response = hostile.http.get(f"/v1/files/?{query}", headers=hostile.bob)

    assert_problem(response, 403, "forbidden")


def test_another_users_listing_cursor_is_refused(hostile: Hostile) -> None:
    for _ in range(3):
        hostile.alice_file(DATA)
    first = hostile.http.get("/v1/files/?limit=1", headers=hostile.alice).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    hostile.secrets.add(cursor)

    response = hostile.http.get(f"/v1/files/?limit=1&cursor={cursor}", headers=hostile.bob)

    assert_problem(response, 400, "validation_error")


def test_a_part_url_of_another_user_works_only_as_the_bearer_token_it_is(
    hostile: Hostile,
) -> None:
    """A part URL is a bearer credential for one part (SECURITY.md): whoever holds it may
    upload that part, and nothing else: not another part, not the state, not the file."""
    started = hostile.alice_upload(DATA)
    token = started.urls[1].split("token=")[1]

    for path in (f"/v1/files/uploads/{started.file_id}/", f"/v1/files/{started.file_id}/"):
        response = hostile.http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "not_authenticated")
    response = hostile.api.client.put_part(with_token(started.urls[2], token), DATA[:1024])
    assert_problem(response, 403, "token_invalid")


def test_a_revoked_key_opens_nothing(hostile: Hostile) -> None:
    file = hostile.alice_file(DATA)
    revoke_key(hostile.api.core.users, ALICE)

    for method, path in [
        ("GET", f"/v1/files/{file['id']}/"),
        ("DELETE", f"/v1/files/{file['id']}/"),
        ("GET", "/v1/files/"),
        ("POST", "/v1/files/uploads/"),
    ]:
        response = hostile.http.request(method, path, headers=hostile.alice)
        assert_problem(response, 401, "not_authenticated")
    assert hostile.api.final_files(file["id"])


def test_an_admin_sees_what_users_cannot(hostile: Hostile) -> None:
    file = hostile.alice_file(DATA)

    response = hostile.http.get(f"/v1/files/{file['id']}/", headers=hostile.admin)

    assert response.status_code == 200
    assert response.json()["owner"] == ALICE
