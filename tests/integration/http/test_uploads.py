"""The upload lifecycle over HTTP: initiate, parts, state, complete, abort, expiry."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    MakeApi,
    assert_problem,
    chunked,
    error_fields,
    md5_hex,
    split,
)

from uploadcore.domain.parts import multipart_etag

DATA = os.urandom(2 * PART + 500)  # three parts: 1024, 1024, 500
FILE_FIELDS = {
    "id",
    "file_name",
    "file_size",
    "file_content_type",
    "upload_status",
    "url",
    "etag",
    "parent_content_type",
    "parent_object_id",
    "owner",
    "created",
    "modified",
}


def test_a_full_upload_downloads_byte_for_byte(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    assert started.body["file_obj"]["upload_status"] == "uploading"
    assert [u["part_number"] for u in started.body["presigned_urls"]] == [1, 2, 3]
    assert all(u["method"] == "PUT" for u in started.body["presigned_urls"])
    assert started.body["expires_in"] == 3600
    refs = api.client.put_parts(started)

    completed = api.client.complete(alice, started.file_id, refs)

    assert completed.status_code == 200
    file = completed.json()
    assert set(file) == FILE_FIELDS
    assert file["upload_status"] == "completed"
    assert file["file_size"] == len(DATA)
    assert file["etag"] == multipart_etag([md5_hex(c) for c in split(DATA, PART)])
    assert file["owner"] == "alice"
    download = api.client.download(file["url"])
    assert download.status_code == 200
    assert download.content == DATA


def test_the_initiate_response_describes_the_upload_and_its_part_urls(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(
        alice, DATA, parent_content_type="blog.post", parent_object_id=42, file_name="clip.mp4"
    )

    assert set(started.body) == {"file_obj", "upload_id", "presigned_urls", "expires_in"}
    file = started.body["file_obj"]
    assert set(file) == FILE_FIELDS
    assert file["file_name"] == "clip.mp4"
    assert file["url"] is None
    assert file["etag"] is None
    assert file["parent_content_type"] == "blog.post"
    assert file["parent_object_id"] == "42"
    for moment in (file["created"], file["modified"]):
        assert moment.endswith("Z")
        assert datetime.fromisoformat(moment) == api.clock.now()
    assert started.upload_id
    assert started.upload_id != started.file_id
    for number, url in started.urls.items():
        assert url.startswith(
            f"http://testserver/v1/files/presigned-uploads/{started.file_id}"
            f"/upload-part/{number}/?token="
        )


def test_file_ids_are_opaque_and_unguessable(api: Harness, alice: Headers) -> None:
    ids = {api.client.start(alice, DATA).file_id for _ in range(3)}

    assert len(ids) == 3
    assert all(len(file_id) >= 32 and file_id.isalnum() for file_id in ids)


def test_part_urls_expire_after_the_configured_lifetime(make_api: MakeApi) -> None:
    quick = make_api(presigned_url_expires_in=timedelta(minutes=5))
    alice = quick.user("alice")
    started = quick.client.start(alice, DATA)
    assert started.body["expires_in"] == 300
    quick.clock.advance(timedelta(minutes=5))

    response = quick.client.put_part(started.urls[1], started.chunks[0])

    assert_problem(response, 403, "token_expired")


def test_a_part_body_sent_as_a_stream_of_chunks_is_stored_whole(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(alice, DATA)
    for number, chunk in enumerate(started.chunks, 1):
        response = api.client.put_part(started.urls[number], chunked(chunk, 100))
        assert response.status_code == 200, response.text
        assert response.json() == {"part_number": number, "etag": md5_hex(chunk)}

    file = api.client.complete(alice, started.file_id, started.refs()).json()

    assert api.client.download(file["url"]).content == DATA


def test_the_upload_state_lists_the_parts_received_so_far(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_part(started.urls[3], started.chunks[2])
    api.client.put_part(started.urls[1], started.chunks[0])

    state = api.client.state(alice, started.file_id)

    assert state.status_code == 200
    body = state.json()
    assert set(body) == {
        "id",
        "upload_id",
        "upload_status",
        "file_name",
        "file_size",
        "num_parts",
        "part_size",
        "expires_at",
        "parts",
    }
    assert body["id"] == started.file_id
    assert body["upload_id"] == started.upload_id
    assert body["upload_status"] == "uploading"
    assert (body["file_name"], body["file_size"]) == ("data.bin", len(DATA))
    assert (body["num_parts"], body["part_size"]) == (3, PART)
    assert body["expires_at"].endswith("Z")
    assert datetime.fromisoformat(body["expires_at"]) == api.clock.now() + timedelta(hours=24)
    assert body["parts"] == [
        {"part_number": 1, "etag": md5_hex(started.chunks[0]), "size": PART},
        {"part_number": 3, "etag": md5_hex(started.chunks[2]), "size": 500},
    ]


def test_uploading_a_part_again_replaces_it(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_parts(started)
    replacement = os.urandom(PART)
    old_etag = md5_hex(started.chunks[0])

    response = api.client.put_part(started.urls[1], replacement)

    assert response.json()["etag"] == md5_hex(replacement)
    parts = api.client.state(alice, started.file_id).json()["parts"]
    assert parts[0] == {"part_number": 1, "etag": md5_hex(replacement), "size": PART}
    stale = [{"part_number": 1, "etag": old_etag}, *started.refs()[1:]]
    assert_problem(api.client.complete(alice, started.file_id, stale), 400, "etag_mismatch")
    fresh = [{"part_number": 1, "etag": md5_hex(replacement)}, *started.refs()[1:]]
    file = api.client.complete(alice, started.file_id, fresh).json()
    assert api.client.download(file["url"]).content == replacement + DATA[PART:]


def test_a_zero_byte_file_uploads_as_one_empty_part(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, b"", part_size=1)
    assert started.body["presigned_urls"][0]["part_number"] == 1
    part = api.client.put_part(started.urls[1], b"")
    assert part.status_code == 200
    assert part.json()["etag"] == md5_hex(b"")

    file = api.client.complete(alice, started.file_id, [part.json()]).json()

    assert file["file_size"] == 0
    download = api.client.download(file["url"])
    assert download.status_code == 200
    assert download.content == b""


def test_a_single_part_upload_may_plan_a_part_larger_than_the_file(
    api: Harness, alice: Headers
) -> None:
    data = b"hello, world"
    started = api.client.start(alice, data, part_size=1 << 20)

    refs = api.client.put_parts(started)
    file = api.client.complete(alice, started.file_id, refs).json()

    assert api.client.download(file["url"]).content == data


# -- completion rules ----------------------------------------------------------


@pytest.fixture
def uploaded(api: Harness, alice: Headers) -> tuple[str, list[dict[str, object]]]:
    """An upload of DATA whose three parts are all received: (file id, completion list)."""
    started = api.client.start(alice, DATA)
    return started.file_id, [dict(r) for r in api.client.put_parts(started)]


@pytest.mark.parametrize(
    ("numbers", "named"),
    [
        ([1, 2], "missing: 3"),
        ([1, 2, 3, 2], "listed more than once: 2"),
        ([1, 2, 3, 4], "outside 1..3: 4"),
        ([], "missing: 1-3"),
    ],
)
def test_completion_must_name_every_part_exactly_once(
    api: Harness,
    alice: Headers,
    uploaded: tuple[str, list[dict[str, object]]],
    numbers: list[int],
    named: str,
) -> None:
    file_id, refs = uploaded
    etags = {r["part_number"]: r["etag"] for r in refs}
    parts = [{"part_number": n, "etag": etags.get(n, "0" * 32)} for n in numbers]

    response = api.client.complete(alice, file_id, parts)

    body = assert_problem(response, 400, "parts_incomplete")
    assert named in body["detail"]
    assert api.client.state(alice, file_id).json()["upload_status"] == "uploading"


def test_completion_refuses_a_part_number_below_one_as_a_field_error(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded

    response = api.client.complete(alice, file_id, [{"part_number": 0, "etag": "0" * 32}, *refs])

    assert error_fields(response) == {"parts[0].part_number"}
    assert response.json()["errors"][0]["message"] == "must be at least 1, got 0"


def test_completion_names_every_bad_part_at_once(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    parts = [refs[0], {"part_number": "2", "etag": 2}, "part 3", {"part_number": 3}, refs[2]]

    response = api.client.complete(alice, file_id, parts)

    assert error_fields(response) == {
        "parts[1].part_number",
        "parts[1].etag",
        "parts[2]",
        "parts[3].etag",
    }
    assert api.client.state(alice, file_id).json()["upload_status"] == "uploading"


def test_completion_names_parts_that_were_never_uploaded(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_part(started.urls[2], started.chunks[1])

    response = api.client.complete(alice, started.file_id, started.refs())

    body = assert_problem(response, 400, "parts_incomplete")
    assert "never uploaded: 1, 3" in body["detail"]


def test_completion_names_the_part_whose_etag_differs(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    refs[1]["etag"] = md5_hex(b"something else")

    body = assert_problem(api.client.complete(alice, file_id, refs), 400, "etag_mismatch")

    assert body["detail"].endswith("parts: 2")


def test_completion_accepts_quoted_etags_in_any_order(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    quoted = [{"part_number": r["part_number"], "etag": f'"{r["etag"]}"'} for r in refs]

    response = api.client.complete(alice, file_id, list(reversed(quoted)))

    assert response.status_code == 200
    assert api.client.download(response.json()["url"]).content == DATA


def test_completing_twice_returns_the_same_file(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    first = api.client.complete(alice, file_id, refs)

    second = api.client.complete(alice, file_id, refs)

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"] == file_id
    assert second.json()["etag"] == first.json()["etag"]
    assert api.client.download(second.json()["url"]).content == DATA


def test_completing_a_completed_upload_with_other_parts_is_a_conflict(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    api.client.complete(alice, file_id, refs)
    refs[0]["etag"] = md5_hex(b"other")

    assert_problem(api.client.complete(alice, file_id, refs), 409, "invalid_state")


def test_completion_moves_the_bytes_to_the_files_directory_and_frees_the_parts(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(alice, DATA)
    refs = api.client.put_parts(started)
    assert api.temp_dir(started.upload_id).is_dir()

    api.client.complete(alice, started.file_id, refs)

    assert not api.temp_dir(started.upload_id).exists()
    [final] = api.final_files(started.file_id)
    assert final.read_bytes() == DATA
    assert not any(api.media_root.joinpath("files").rglob(".tmp-*"))


def test_an_upload_whose_part_is_lost_from_storage_fails_for_good(
    api: Harness, alice: Headers
) -> None:
    started = api.client.start(alice, DATA)
    refs = api.client.put_parts(started)
    for part in api.temp_dir(started.upload_id).glob("00002.*"):  # named by number on disk
        part.unlink()

    first = api.client.complete(alice, started.file_id, refs)
    again = api.client.complete(alice, started.file_id, refs)

    assert_problem(first, 409, "upload_failed")
    assert_problem(again, 409, "invalid_state")
    assert api.client.state(alice, started.file_id).json()["upload_status"] == "failed"
    assert api.final_files(started.file_id) == []
    assert_problem(api.client.abort(alice, started.file_id), 409, "invalid_state")


# -- abort ---------------------------------------------------------------------


def test_abort_removes_the_parts_and_marks_the_upload_aborted(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.put_part(started.urls[1], started.chunks[0])

    response = api.client.abort(alice, started.file_id)

    assert response.status_code == 204
    assert response.content == b""
    assert not api.temp_dir(started.upload_id).exists()
    state = api.client.state(alice, started.file_id).json()
    assert state["upload_status"] == "aborted"
    assert state["parts"] == []
    assert api.final_files(started.file_id) == []


def test_aborting_an_aborted_upload_answers_204_again(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)

    assert api.client.abort(alice, started.file_id).status_code == 204
    assert api.client.abort(alice, started.file_id).status_code == 204
    assert api.client.state(alice, started.file_id).json()["upload_status"] == "aborted"


def test_a_part_upload_after_abort_is_a_conflict(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    api.client.abort(alice, started.file_id)

    response = api.client.put_part(started.urls[1], started.chunks[0])

    assert_problem(response, 409, "invalid_state")
    assert not api.temp_dir(started.upload_id).exists()


def test_completing_an_aborted_upload_is_a_conflict(
    api: Harness, alice: Headers, uploaded: tuple[str, list[dict[str, object]]]
) -> None:
    file_id, refs = uploaded
    api.client.abort(alice, file_id)

    assert_problem(api.client.complete(alice, file_id, refs), 409, "invalid_state")
    assert api.final_files(file_id) == []


def test_aborting_a_completed_upload_is_a_conflict_and_keeps_the_file(
    api: Harness, alice: Headers
) -> None:
    file = api.client.upload(alice, DATA)

    assert_problem(api.client.abort(alice, file["id"]), 409, "invalid_state")
    assert api.client.state(alice, file["id"]).json()["upload_status"] == "completed"
    assert api.client.download(file["url"]).content == DATA


# -- expiry --------------------------------------------------------------------


@pytest.fixture
def short_lived(make_api: MakeApi) -> Harness:
    """Uploads expire after 30 minutes, before their one-hour part URLs do."""
    return make_api(upload_expires_in=timedelta(minutes=30))


def test_an_expired_upload_refuses_parts_and_completion(short_lived: Harness) -> None:
    alice = short_lived.user("alice")
    started = short_lived.client.start(alice, DATA)
    refs = short_lived.client.put_parts(started)
    short_lived.clock.advance(timedelta(minutes=31))

    assert_problem(
        short_lived.client.put_part(started.urls[1], started.chunks[0]), 409, "upload_expired"
    )
    assert_problem(short_lived.client.complete(alice, started.file_id, refs), 409, "upload_expired")


def test_an_upload_that_keeps_receiving_parts_does_not_expire(short_lived: Harness) -> None:
    alice = short_lived.user("alice")
    started = short_lived.client.start(alice, DATA)
    refs = []
    for number, chunk in enumerate(started.chunks, 1):
        short_lived.clock.advance(timedelta(minutes=15))
        refs.append(short_lived.client.put_part(started.urls[number], chunk).json())

    response = short_lived.client.complete(alice, started.file_id, refs)

    assert response.status_code == 200, response.text
    assert short_lived.client.download(response.json()["url"]).content == DATA


def test_an_upload_expires_after_a_day_by_default(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, DATA)
    refs = api.client.put_parts(started)
    api.clock.advance(timedelta(hours=24, seconds=1))

    assert_problem(api.client.complete(alice, started.file_id, refs), 409, "upload_expired")
    assert_problem(api.client.put_part(started.urls[1], started.chunks[0]), 403, "token_expired")
