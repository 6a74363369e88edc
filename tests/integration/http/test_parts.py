"""Part uploads: the signed token, the exact size, Content-MD5 and the ETag."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import timedelta

import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Started,
    assert_problem,
    chunked,
    md5_hex,
    token_of,
    with_token,
)

from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.entrypoints.links import DOWNLOAD_PATH
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.urls import PART_PURPOSE

DATA = os.urandom(2 * PART + 300)


@pytest.fixture
def started(api: Harness, alice: Headers) -> Started:
    return api.client.start(alice, DATA)


def sign(api: Harness, started: Started, **claims: object) -> str:
    """A token signed with the service's own key; `claims` replace the correct ones."""
    values: dict[str, object] = {
        "purpose": PART_PURPOSE,
        "file_id": started.file_id,
        "upload_id": started.upload_id,
        "part_number": 1,
        "expires": int((api.clock.now() + timedelta(hours=1)).timestamp()),
    } | claims
    return api.core.list_files.signer.sign(TokenClaims(**values))  # type: ignore[arg-type]


def assert_nothing_kept(api: Harness, alice: Headers, started: Started) -> None:
    assert api.client.state(alice, started.file_id).json()["parts"] == []
    assert list(api.temp_dir(started.upload_id).iterdir()) == []


def test_a_part_answers_its_etag_in_the_body_and_quoted_in_the_header(
    api: Harness, started: Started
) -> None:
    response = api.client.put_part(started.urls[1], started.chunks[0])

    assert response.status_code == 200
    etag = md5_hex(started.chunks[0])
    assert response.json() == {"part_number": 1, "etag": etag}
    assert response.headers["etag"] == f'"{etag}"'
    assert response.headers["access-control-expose-headers"] == "ETag"


def test_the_last_part_has_the_remaining_bytes(
    api: Harness, alice: Headers, started: Started
) -> None:
    response = api.client.put_part(started.urls[3], DATA[2 * PART :])

    assert response.status_code == 200
    assert api.client.state(alice, started.file_id).json()["parts"][0]["size"] == 300


# -- tokens --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token=", "?other=1"])
def test_a_part_url_without_a_token_is_403(api: Harness, started: Started, query: str) -> None:
    url = started.urls[1].split("?")[0] + query

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_missing")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:],
        lambda t: "x" + t,
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "garbage",
    ],
    ids=["signature", "payload", "unsigned", "garbage"],
)
def test_a_tampered_token_is_403(api: Harness, started: Started, tamper: object) -> None:
    assert callable(tamper)
    url = with_token(started.urls[1], tamper(token_of(started.urls[1])))

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_invalid")


def test_a_token_signed_with_another_key_is_403(api: Harness, started: Started) -> None:
    other = ItsDangerousSigner("another-secret-key-that-is-long-enough")
    claims = TokenClaims(PART_PURPOSE, started.file_id, started.upload_id, 1, 2**40)
    url = with_token(started.urls[1], other.sign(claims))

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_invalid")


def test_an_expired_token_is_403(api: Harness, started: Started) -> None:
    api.clock.advance(timedelta(hours=1))

    response = api.client.put_part(started.urls[1], started.chunks[0])

    assert_problem(response, 403, "token_expired")


def test_a_token_is_valid_until_it_expires(api: Harness, started: Started) -> None:
    api.clock.advance(timedelta(minutes=59, seconds=59))

    assert api.client.put_part(started.urls[1], started.chunks[0]).status_code == 200


def test_a_token_minted_for_another_part_is_403(api: Harness, started: Started) -> None:
    url = with_token(started.urls[1], token_of(started.urls[2]))

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_invalid")


def test_a_token_minted_for_another_file_is_403(
    api: Harness, alice: Headers, started: Started
) -> None:
    other = api.client.start(alice, DATA)
    url = with_token(other.urls[1], token_of(started.urls[1]))

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_invalid")
    assert api.client.state(alice, other.file_id).json()["parts"] == []


def test_a_token_minted_for_another_upload_of_the_same_file_is_403(
    api: Harness, alice: Headers, started: Started
) -> None:
    url = with_token(started.urls[1], sign(api, started, upload_id="0" * 32))

    assert_problem(api.client.put_part(url, started.chunks[0]), 403, "token_invalid")
    assert_nothing_kept(api, alice, started)


def test_a_download_token_is_not_a_part_token(api: Harness, started: Started) -> None:
    token = sign(api, started, purpose="download", part_number=0)

    response = api.client.put_part(with_token(started.urls[1], token), started.chunks[0])

    assert_problem(response, 403, "token_invalid")


def test_a_part_token_is_not_a_download_token(
    api: Harness, alice: Headers, started: Started
) -> None:
    api.client.put_parts(started)
    api.client.complete(alice, started.file_id, started.refs())
    url = DOWNLOAD_PATH.format(file_id=started.file_id) + "?token=" + token_of(started.urls[1])

    assert_problem(api.client.download(url), 403, "token_invalid")


def test_a_valid_token_for_an_unknown_file_is_404(api: Harness, started: Started) -> None:
    unknown = "f" * 32
    url = started.urls[1].replace(started.file_id, unknown).split("?")[0]
    token = sign(api, started, file_id=unknown)

    assert_problem(api.client.put_part(f"{url}?token={token}", b"x" * PART), 404, "not_found")


def test_a_part_url_with_a_file_name_appended_is_a_404_that_says_how_to_send_it(
    api: Harness, started: Started
) -> None:
    base, query = started.urls[1].split("?")

    response = api.client.put_part(f"{base}part.00?{query}", started.chunks[0])  # curl -T part.00

    detail = assert_problem(response, 404, "not_found")["detail"]
    assert "file name appended" in detail
    assert "curl -T - URL < FILE" in detail


def test_a_part_number_outside_the_plan_is_400(api: Harness, started: Started) -> None:
    url = started.urls[1].replace("/upload-part/1/", "/upload-part/4/")
    url = with_token(url, sign(api, started, part_number=4))

    body = assert_problem(api.client.put_part(url, b"x"), 400, "validation_error")
    assert "4" in body["detail"]


@pytest.mark.parametrize("number", ["one", "-1", "1.0", "99999999999"])
def test_a_part_number_that_is_not_a_positive_integer_is_400(
    api: Harness, started: Started, number: str
) -> None:
    url = started.urls[1].replace("/upload-part/1/", f"/upload-part/{number}/")

    assert_problem(api.client.put_part(url, b"x"), 400, "validation_error")


# -- sizes -----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_a_part_one_byte_short_is_400_and_nothing_is_kept(
    api: Harness, alice: Headers, started: Started, stream: bool
) -> None:
    body = started.chunks[0][:-1]

    response = api.client.put_part(started.urls[1], chunked(body, 100) if stream else body)

    detail = assert_problem(response, 400, "part_size_mismatch")["detail"]
    assert str(PART) in detail
    assert_nothing_kept(api, alice, started)


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_a_part_one_byte_long_is_413_and_nothing_is_kept(
    api: Harness, alice: Headers, started: Started, stream: bool
) -> None:
    body = started.chunks[0] + b"!"

    response = api.client.put_part(started.urls[1], chunked(body, 100) if stream else body)

    detail = assert_problem(response, 413, "part_size_mismatch")["detail"]
    assert str(PART) in detail
    assert_nothing_kept(api, alice, started)


def test_an_empty_body_for_a_planned_part_is_400(
    api: Harness, alice: Headers, started: Started
) -> None:
    assert_problem(api.client.put_part(started.urls[1], b""), 400, "part_size_mismatch")
    assert_nothing_kept(api, alice, started)


def test_a_bad_re_upload_keeps_the_part_received_before(
    api: Harness, alice: Headers, started: Started
) -> None:
    api.client.put_part(started.urls[1], started.chunks[0])

    api.client.put_part(started.urls[1], os.urandom(PART - 1))
    api.client.put_part(started.urls[1], os.urandom(PART + 1))

    parts = api.client.state(alice, started.file_id).json()["parts"]
    assert parts == [{"part_number": 1, "etag": md5_hex(started.chunks[0]), "size": PART}]


# -- Content-MD5 -----------------------------------------------------------------


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def test_a_matching_content_md5_is_accepted(api: Harness, started: Started) -> None:
    chunk = started.chunks[0]

    response = api.client.put_part(started.urls[1], chunk, {"Content-MD5": content_md5(chunk)})

    assert response.status_code == 200
    assert response.json()["etag"] == md5_hex(chunk)


@pytest.mark.parametrize(
    "header",
    [content_md5(b"other bytes"), "not base64!", md5_hex(b"hex is not base64"), ""],
    ids=["other-digest", "not-base64", "hex", "empty"],
)
def test_a_wrong_content_md5_is_400_and_nothing_is_kept(
    api: Harness, alice: Headers, started: Started, header: str
) -> None:
    response = api.client.put_part(started.urls[1], started.chunks[0], {"Content-MD5": header})

    assert_problem(response, 400, "bad_digest")
    assert_nothing_kept(api, alice, started)
