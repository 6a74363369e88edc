"""Resuming an upload: its state, and fresh part URLs that outlive the first ones."""

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
    MakeApi,
    Started,
    assert_problem,
    error_fields,
    md5_hex,
    split,
)

DATA = os.urandom(4 * PART + 321)  # five parts: four of 1024 bytes, then 321


def refresh(api: Harness, headers: Headers, file_id: str, body: object = None) -> httpx2.Response:
    """Ask for fresh part URLs; without `body`, the request has no body at all."""
    path = f"/v1/files/uploads/{file_id}/presigned-urls/"
    if body is None:
        return api.client.http.post(path, headers=headers)
    return api.client.http.post(path, headers=headers, json=body)


def urls_of(response: httpx2.Response) -> dict[int, str]:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert set(body) == {"presigned_urls", "expires_in"}
    assert all(u["method"] == "PUT" for u in body["presigned_urls"])
    return {u["part_number"]: u["url"] for u in body["presigned_urls"]}


def upload_some(api: Harness, started: Started, numbers: list[int]) -> None:
    for number in numbers:
        response = api.client.put_part(started.urls[number], started.chunks[number - 1])
        assert response.status_code == 200, response.text


# -- which URLs ---------------------------------------------------------------


def test_refresh_without_a_body_gives_urls_for_every_part_not_yet_received(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(alice, DATA)
    upload_some(api, started, [1, 4])

    response = refresh(api, alice, started.file_id)

    assert list(urls_of(response)) == [2, 3, 5]
    assert response.json()["expires_in"] == 3600


@pytest.mark.parametrize("body", [{}, {"part_numbers": None}])
def test_refresh_with_no_part_numbers_means_every_missing_part(
    api: Harness, alice: Headers, body: Json
) -> None:
    started = api.client.start(alice, DATA)
    upload_some(api, started, [2])

    assert list(urls_of(refresh(api, alice, started.file_id, body))) == [1, 3, 4, 5]


def test_refresh_gives_urls_for_the_parts_asked_for_once_each_ascending(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(alice, DATA)
    upload_some(api, started, [1])

    response = refresh(api, alice, started.file_id, {"part_numbers": [5, 1, 3, 5]})

    assert list(urls_of(response)) == [1, 3, 5]


def test_refresh_of_an_empty_list_gives_no_urls(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    assert urls_of(refresh(api, alice, started.file_id, {"part_numbers": []})) == {}


def test_refresh_when_every_part_is_received_gives_no_urls(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_parts(started)

    assert urls_of(refresh(api, alice, started.file_id)) == {}


def test_refreshed_urls_have_the_local_part_url_shape(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    urls = urls_of(refresh(api, alice, started.file_id, {"part_numbers": [2]}))

    prefix = f"http://testserver/v1/files/presigned-uploads/{started.file_id}/upload-part/2/?token="
    assert urls[2].startswith(prefix)


# -- bad part numbers -----------------------------------------------------------


def test_refresh_names_part_numbers_outside_the_plan(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    response = refresh(api, alice, started.file_id, {"part_numbers": [0, 2, 6, 7, 99]})

    body = assert_problem(response, 400, "validation_error")
    assert "0, 6-7, 99" in body["detail"]
    assert "1..5" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["part_numbers"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"part_numbers": "1,2"}, {"part_numbers"}),
        ({"part_numbers": [1, "2", True, 2.0]}, {f"part_numbers[{i}]" for i in (1, 2, 3)}),
        ({"part_numbers": [1], "upload_id": "x"}, {"upload_id"}),
    ],
)  # fmt: skip
def test_refresh_refuses_part_numbers_that_are_not_integers_as_field_errors(
    api: Harness, alice: Headers, body: Json, fields: set[str]
) -> None:
    started = api.client.start(alice, DATA)

    assert error_fields(refresh(api, alice, started.file_id, body)) == fields


def test_refresh_with_a_body_that_is_not_json_is_415(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    response = api.client.http.post(
        f"/v1/files/uploads/{started.file_id}/presigned-urls/",
        content=b"part_numbers=1",
        headers=alice | {"Content-Type": "text/plain"},
    )

    assert_problem(response, 415, "unsupported_media_type")


def test_refresh_with_malformed_json_is_400(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    response = api.client.http.post(
        f"/v1/files/uploads/{started.file_id}/presigned-urls/",
        content=b'{"part_numbers": [1,',
        headers=alice | {"Content-Type": "application/json"},
    )

    assert_problem(response, 400, "malformed_json")


# -- state and ownership ----------------------------------------------------------


def test_refresh_of_a_completed_upload_is_a_conflict(api: Harness, alice: Headers) -> None:
    file = api.client.upload(alice, DATA)

    assert_problem(refresh(api, alice, file["id"]), 409, "invalid_state")


def test_refresh_of_an_aborted_upload_is_a_conflict(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.abort(alice, started.file_id)

    assert_problem(refresh(api, alice, started.file_id), 409, "invalid_state")


def test_refresh_of_an_expired_upload_is_a_conflict(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.clock.advance(timedelta(hours=24))

    assert_problem(refresh(api, alice, started.file_id), 409, "upload_expired")


def test_refresh_checks_the_state_before_the_part_numbers(api: Harness, alice: Headers) -> None:
    file = api.client.upload(alice, DATA)

    assert_problem(refresh(api, alice, file["id"], {"part_numbers": [99]}), 409, "invalid_state")


def test_refresh_of_another_users_upload_is_403(api: Harness, alice: Headers, bob: Headers) -> None:
    started = api.client.start(alice, DATA)

    assert_problem(refresh(api, bob, started.file_id), 403, "forbidden")


def test_an_admin_may_refresh_anyones_upload(api: Harness, alice: Headers, admin: Headers) -> None:
    started = api.client.start(alice, DATA)

    assert list(urls_of(refresh(api, admin, started.file_id))) == [1, 2, 3, 4, 5]


def test_refresh_of_an_unknown_upload_is_404(api: Harness, alice: Headers) -> None:
    assert_problem(refresh(api, alice, "no-such-file"), 404, "not_found")


def test_refresh_needs_an_api_key(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    response = refresh(api, {}, started.file_id)

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_refresh_answers_without_the_trailing_slash(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    response = api.client.http.post(
        f"/v1/files/uploads/{started.file_id}/presigned-urls", headers=alice
    )

    assert list(urls_of(response)) == [1, 2, 3, 4, 5]


# -- lifetimes ------------------------------------------------------------------


def test_refreshing_moves_the_uploads_expiry(make_api: MakeApi) -> None:
    api = make_api(upload_expires_in=timedelta(minutes=30))
    alice = api.user("alice")
    started = api.client.start(alice, DATA)
    api.clock.advance(timedelta(minutes=20))

    urls_of(refresh(api, alice, started.file_id))

    state = api.client.state(alice, started.file_id).json()
    assert datetime.fromisoformat(state["expires_at"]) == api.clock.now() + timedelta(minutes=30)
    api.clock.advance(timedelta(minutes=20))  # 40 minutes after initiate, 20 after refresh
    upload_some(api, started, [1])


def test_refreshed_urls_work_after_the_first_ones_expired(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.clock.advance(timedelta(hours=2))
    assert_problem(api.client.put_part(started.urls[1], started.chunks[0]), 403, "token_expired")

    urls = urls_of(refresh(api, alice, started.file_id))

    response = api.client.put_part(urls[1], started.chunks[0])
    assert response.status_code == 200, response.text


def test_an_upload_resumed_with_only_its_file_id_completes_byte_exact(
    api: Harness, alice: Headers
) -> None:
    """The client crashed after two parts; it kept the file id and the file, nothing else."""
    started = api.client.start(alice, DATA)
    upload_some(api, started, [1, 3])
    file_id = started.file_id
    del started  # the client's state is lost
    api.clock.advance(timedelta(hours=3))  # long enough for every first URL to expire

    state = api.client.state(alice, file_id).json()
    chunks = split(DATA, state["part_size"])
    have = {p["part_number"]: p["etag"] for p in state["parts"]}
    assert have == {1: md5_hex(chunks[0]), 3: md5_hex(chunks[2])}
    urls = urls_of(refresh(api, alice, file_id))
    assert list(urls) == [2, 4, 5]
    for number, url in urls.items():
        response = api.client.put_part(url, chunks[number - 1])
        assert response.status_code == 200, response.text
        have[number] = response.json()["etag"]
    refs = [{"part_number": n, "etag": etag} for n, etag in sorted(have.items())]
    completed = api.client.complete(alice, file_id, refs)

    assert completed.status_code == 200, completed.text
    assert api.client.download(completed.json()["url"]).content == DATA
