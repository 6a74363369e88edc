"""Files as a resource over HTTP: details, metadata, deletion, and who may do what."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import httpx2
import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Json,
    assert_problem,
    error_fields,
    token_of,
)

DATA = os.urandom(PART + 300)
FILE_FIELDS = {
    "id", "file_name", "file_size", "file_content_type", "upload_status", "url", "etag",
    "parent_content_type", "parent_object_id", "owner", "created", "modified",
}  # fmt: skip


def get(api: Harness, headers: Headers, file_id: str) -> httpx2.Response:
    return api.client.http.get(f"/v1/files/{file_id}/", headers=headers)


def patch(api: Harness, headers: Headers, file_id: str, body: object) -> httpx2.Response:
    return api.client.http.patch(f"/v1/files/{file_id}/", headers=headers, json=body)


def delete(api: Harness, headers: Headers, file_id: str) -> httpx2.Response:
    return api.client.http.delete(f"/v1/files/{file_id}/", headers=headers)


@pytest.fixture
def file(api: Harness, alice: Headers) -> Json:
    """A completed file of alice's."""
    return api.client.upload(alice, DATA)


# -- details --------------------------------------------------------------------


def test_a_files_details_are_its_representation(api: Harness, alice: Headers, file: Json) -> None:
    response = get(api, alice, file["id"])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FILE_FIELDS
    assert {k: v for k, v in body.items() if k != "url"} == {
        k: v for k, v in file.items() if k != "url"
    }
    assert api.client.download(body["url"]).content == DATA


def test_the_details_of_an_upload_in_progress_have_no_url(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    body = get(api, alice, started.file_id).json()

    assert (body["upload_status"], body["url"], body["etag"]) == ("uploading", None, None)


def test_each_get_mints_a_fresh_url_that_outlives_the_last_one(
    api: Harness, alice: Headers, file: Json
) -> None:
    first = get(api, alice, file["id"]).json()["url"]
    api.clock.advance(timedelta(minutes=40))
    second = get(api, alice, file["id"]).json()["url"]
    api.clock.advance(timedelta(minutes=40))  # 80 minutes after the first: it has expired

    assert token_of(first) != token_of(second)
    assert_problem(api.client.download(first), 403, "token_expired")
    assert api.client.download(second).content == DATA


def test_details_answer_without_the_trailing_slash(
    api: Harness, alice: Headers, file: Json
) -> None:
    assert api.client.http.get(f"/v1/files/{file['id']}", headers=alice).status_code == 200


def test_head_of_a_file_gives_the_headers_of_its_details(
    api: Harness, alice: Headers, file: Json
) -> None:
    response = api.client.http.head(f"/v1/files/{file['id']}/", headers=alice)

    assert response.status_code == 200
    assert response.content == b""


# -- metadata -------------------------------------------------------------------


def test_patch_renames_a_file_and_moves_modified(api: Harness, alice: Headers, file: Json) -> None:
    api.clock.advance(90)

    response = patch(api, alice, file["id"], {"file_name": "renamed.bin"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["file_name"] == "renamed.bin"
    assert datetime.fromisoformat(body["modified"]) == api.clock.now()
    assert body["created"] == file["created"]
    assert get(api, alice, file["id"]).json()["file_name"] == "renamed.bin"
    download = api.client.download(body["url"])
    assert download.headers["content-disposition"] == 'attachment; filename="renamed.bin"'


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
def test_patch_renames_a_file_to_a_name_with_slashes_kept_as_given(
    api: Harness, alice: Headers, file: Json, name: str, disposition: str
) -> None:
    response = patch(api, alice, file["id"], {"file_name": name})

    assert response.status_code == 200, response.text
    assert response.json()["file_name"] == name
    assert get(api, alice, file["id"]).json()["file_name"] == name
    download = api.client.download(response.json()["url"])
    assert download.headers["content-disposition"] == disposition
    assert download.content == DATA


def test_patch_sets_and_clears_the_parent(api: Harness, alice: Headers, file: Json) -> None:
    attached = patch(
        api, alice, file["id"], {"parent_content_type": "blog.post", "parent_object_id": 42}
    ).json()
    cleared = patch(
        api, alice, file["id"], {"parent_content_type": None, "parent_object_id": None}
    ).json()

    assert (attached["parent_content_type"], attached["parent_object_id"]) == ("blog.post", "42")
    assert (cleared["parent_content_type"], cleared["parent_object_id"]) == (None, None)
    assert cleared["file_name"] == file["file_name"]


def test_an_empty_patch_changes_nothing(api: Harness, alice: Headers, file: Json) -> None:
    api.clock.advance(90)

    body = patch(api, alice, file["id"], {}).json()

    assert body["modified"] == file["modified"]


def test_patch_works_on_an_upload_in_progress(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    assert patch(api, alice, started.file_id, {"file_name": "x.bin"}).status_code == 200
    refs = api.client.put_parts(started)
    assert api.client.complete(alice, started.file_id, refs).json()["file_name"] == "x.bin"


@pytest.mark.parametrize(
    "field",
    ["upload_status", "file_size", "file_content_type", "owner", "etag", "url", "id", "created"],
)
def test_patch_of_a_read_only_field_is_400_naming_it(
    api: Harness, alice: Headers, file: Json, field: str
) -> None:
    response = patch(api, alice, file["id"], {field: file[field], "file_name": "new.bin"})

    assert error_fields(response) == {field}
    assert "cannot be changed" in response.json()["errors"][0]["message"]
    assert get(api, alice, file["id"]).json()["file_name"] == file["file_name"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"color": "red"}, {"color"}),
        ({"file_name": ""}, {"file_name"}),
        ({"file_name": None}, {"file_name"}),
        ({"file_name": "bad\r\nname"}, {"file_name"}),
        ({"file_name": 7}, {"file_name"}),
        ({"parent_content_type": "x" * 256}, {"parent_content_type"}),
        ({"parent_object_id": True}, {"parent_object_id"}),
        ({"parent_object_id": 1.5}, {"parent_object_id"}),
    ],
)
def test_patch_validates_like_initiate(
    api: Harness, alice: Headers, file: Json, body: Json, fields: set[str]
) -> None:
    assert error_fields(patch(api, alice, file["id"], body)) == fields


def test_patch_names_every_bad_field_at_once(api: Harness, alice: Headers, file: Json) -> None:
    body = {"file_name": "a\nb", "parent_content_type": 7, "owner": "bob", "colour": "red"}

    response = patch(api, alice, file["id"], body)

    assert error_fields(response) == {"file_name", "parent_content_type", "owner", "colour"}
    assert get(api, alice, file["id"]).json()["file_name"] == file["file_name"]


def test_patch_with_a_body_that_is_not_a_json_object_is_400(
    api: Harness, alice: Headers, file: Json
) -> None:
    assert_problem(patch(api, alice, file["id"], ["file_name"]), 400, "validation_error")


def test_patch_with_a_body_that_is_not_json_is_415(
    api: Harness, alice: Headers, file: Json
) -> None:
    response = api.client.http.patch(
        f"/v1/files/{file['id']}/",
        content=b"file_name=x",
        headers=alice | {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert_problem(response, 415, "unsupported_media_type")


def test_patch_accepts_a_merge_patch_media_type(api: Harness, alice: Headers, file: Json) -> None:
    response = api.client.http.patch(
        f"/v1/files/{file['id']}/",
        content=b'{"file_name": "merged.bin"}',
        headers=alice | {"Content-Type": "application/merge-patch+json"},
    )

    assert response.json()["file_name"] == "merged.bin"


# -- deletion -------------------------------------------------------------------


def test_delete_removes_the_bytes_and_the_record(api: Harness, alice: Headers, file: Json) -> None:
    assert api.final_files(file["id"])

    response = delete(api, alice, file["id"])

    assert response.status_code == 204
    assert response.content == b""
    assert api.final_files(file["id"]) == []
    assert_problem(get(api, alice, file["id"]), 404, "not_found")
    assert_problem(api.client.download(file["url"]), 404, "not_found")
    assert api.core.complete.repo.get(file["id"]) is None


def test_deleting_a_deleted_file_is_404(api: Harness, alice: Headers, file: Json) -> None:
    delete(api, alice, file["id"])

    assert_problem(delete(api, alice, file["id"]), 404, "not_found")


def test_deleting_an_upload_in_progress_aborts_it_first(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_part(started.urls[1], started.chunks[0])
    assert api.temp_dir(started.upload_id).exists()

    assert delete(api, alice, started.file_id).status_code == 204

    assert not api.temp_dir(started.upload_id).exists()
    assert_problem(api.client.put_part(started.urls[2], started.chunks[1]), 404, "not_found")
    assert_problem(api.client.state(alice, started.file_id), 404, "not_found")


def test_deleting_an_aborted_upload_removes_its_record(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.abort(alice, started.file_id)

    assert delete(api, alice, started.file_id).status_code == 204
    assert api.core.complete.repo.get(started.file_id) is None


def test_a_deleted_file_is_no_longer_listed(api: Harness, alice: Headers, file: Json) -> None:
    delete(api, alice, file["id"])

    listing = api.client.http.get("/v1/files/?upload_status=all", headers=alice).json()

    assert listing["results"] == []


# -- who may do what --------------------------------------------------------------


def every_verb(api: Harness, headers: Headers, file_id: str) -> list[httpx2.Response]:
    http = api.client.http
    return [
        get(api, headers, file_id),
        http.head(f"/v1/files/{file_id}/", headers=headers),
        patch(api, headers, file_id, {"file_name": "stolen.bin"}),
        delete(api, headers, file_id),
        http.get(f"/v1/files/uploads/{file_id}/", headers=headers),
        http.post(f"/v1/files/uploads/{file_id}/presigned-urls/", headers=headers),
        http.post(f"/v1/files/uploads/{file_id}/complete/", headers=headers, json={"parts": []}),
        http.delete(f"/v1/files/uploads/{file_id}/", headers=headers),
    ]


def test_another_users_file_is_403_on_every_verb_and_stays_as_it_was(
    api: Harness, alice: Headers, bob: Headers, file: Json
) -> None:
    for response in every_verb(api, bob, file["id"]):
        assert response.status_code == 403, (response.request.method, response.request.url)
        if response.request.method != "HEAD":
            assert_problem(response, 403, "forbidden")

    body = get(api, alice, file["id"]).json()
    assert body["file_name"] == file["file_name"]
    assert api.client.download(body["url"]).content == DATA


def test_another_users_upload_in_progress_is_403_on_every_verb(
    api: Harness, alice: Headers, bob: Headers
) -> None:
    started = api.client.start(alice, DATA)

    for response in every_verb(api, bob, started.file_id):
        assert response.status_code == 403, (response.request.method, response.request.url)
    assert api.client.state(alice, started.file_id).json()["upload_status"] == "uploading"


def test_an_unknown_file_is_404_on_every_verb(api: Harness, alice: Headers) -> None:
    for response in every_verb(api, alice, "no-such-file"):
        assert response.status_code == 404, (response.request.method, response.request.url)


def test_the_file_endpoints_need_an_api_key(api: Harness, file: Json) -> None:
    for response in every_verb(api, {}, file["id"]):
        assert response.status_code == 401, (response.request.method, response.request.url)
        assert response.headers["www-authenticate"] == "Bearer"


def test_an_admin_may_read_change_and_delete_anyones_file(
    api: Harness, admin: Headers, file: Json
) -> None:
    assert get(api, admin, file["id"]).json()["owner"] == "alice"
    assert patch(api, admin, file["id"], {"file_name": "x.bin"}).json()["owner"] == "alice"
    assert delete(api, admin, file["id"]).status_code == 204
