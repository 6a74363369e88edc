"""Downloads on local storage: the token-signed `url`, its headers and ranges."""

from __future__ import annotations

import os
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Json,
    assert_problem,
    token_of,
    with_token,
)

DATA = os.urandom(PART + 700)


@pytest.fixture
def file(api: Harness, alice: Headers) -> Json:
    """A completed upload of DATA."""
    return api.client.upload(alice, DATA)


def test_the_url_of_a_completed_file_serves_its_bytes_and_headers(api: Harness, file: Json) -> None:
    assert file["url"].startswith(f"http://testserver/v1/files/{file['id']}/download/?token=")

    response = api.client.download(file["url"])

    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"]
    assert parsedate_to_datetime(response.headers["last-modified"])
    assert response.headers["content-disposition"] == 'attachment; filename="data.bin"'


def test_a_download_is_served_with_the_files_content_type(api: Harness, alice: Headers) -> None:
    started = api.client.start(alice, b"<h1>hi</h1>", file_content_type="text/html")
    refs = api.client.put_parts(started)
    file = api.client.complete(alice, started.file_id, refs).json()

    response = api.client.download(file["url"])

    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("résumé 2024.pdf", "r_sum_ 2024.pdf"),
        ('say "hi".txt', "say _hi_.txt"),
        ("100%.txt", "100_.txt"),
        ("日本語.txt", "___.txt"),
        ("photos/2024/a.jpg", "photos_2024_a.jpg"),
        ("back\\slash.txt", "back_slash.txt"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ('a\\"; filename="evil.exe', "a__; filename=_evil.exe"),
    ],
)
def test_a_download_names_the_file_in_ascii_and_in_utf_8(
    api: Harness, alice: Headers, name: str, fallback: str
) -> None:
    file = upload_named(api, alice, name)

    disposition = api.client.download(file["url"]).headers["content-disposition"]

    assert disposition == (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


@pytest.mark.parametrize("name", ["my file (1).txt", "a;b=c.txt", "x" * 255])
def test_a_plain_ascii_name_needs_no_second_form(api: Harness, alice: Headers, name: str) -> None:
    file = upload_named(api, alice, name)

    disposition = api.client.download(file["url"]).headers["content-disposition"]

    assert disposition == f'attachment; filename="{name}"'


def upload_named(api: Harness, alice: Headers, name: str) -> Json:
    started = api.client.start(alice, b"abc", file_name=name)
    refs = api.client.put_parts(started)
    file: Json = api.client.complete(alice, started.file_id, refs).json()
    return file


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, len(DATA) - 1),
        ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
    ],
)
def test_a_range_is_answered_with_206_and_those_bytes(
    api: Harness, file: Json, range_: str, start: int, end: int
) -> None:
    response = api.client.download(file["url"], {"Range": range_})

    assert response.status_code == 206
    assert response.content == DATA[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"


def test_a_range_past_the_end_is_416(api: Harness, file: Json) -> None:
    response = api.client.download(file["url"], {"Range": f"bytes={len(DATA)}-"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"


def test_head_of_a_download_gives_the_headers_without_the_bytes(api: Harness, file: Json) -> None:
    response = api.client.http.head(file["url"])

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(DATA))


# -- tokens --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token="])
def test_a_download_without_a_token_is_403(api: Harness, file: Json, query: str) -> None:
    url = file["url"].split("?")[0] + query

    assert_problem(api.client.download(url), 403, "token_missing")


def test_a_tampered_download_token_is_403(api: Harness, file: Json) -> None:
    token = token_of(file["url"])
    tampered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]

    assert_problem(api.client.download(with_token(file["url"], tampered)), 403, "token_invalid")


def test_an_expired_download_token_is_403(api: Harness, file: Json) -> None:
    api.clock.advance(timedelta(hours=1))

    assert_problem(api.client.download(file["url"]), 403, "token_expired")


def test_a_download_token_for_another_file_is_403(api: Harness, alice: Headers, file: Json) -> None:
    other = api.client.upload(alice, b"other file")
    url = with_token(other["url"], token_of(file["url"]))

    assert_problem(api.client.download(url), 403, "token_invalid")


def test_the_download_url_needs_no_api_key(api: Harness, bob: Headers, file: Json) -> None:
    assert api.client.download(file["url"]).status_code == 200
    assert api.client.download(file["url"], bob).content == DATA
