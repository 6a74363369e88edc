"""JSON bodies that are deeply nested, huge, not JSON, or full of unknown fields."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx2
import pytest
from tests.integration.http.support import assert_problem, request_for
from tests.integration.security.conftest import Hostile

from uploadcore.entrypoints.http.schemas import MAX_JSON_BYTES

DATA = os.urandom(2 * 1024)
ENDPOINTS = ["initiate", "complete", "refresh", "patch"]
SMALL_ANSWER = 4096  # bytes: no error answer needs more, whatever the request held


def send(
    hostile: Hostile,
    endpoint: str,
    body: bytes | Iterator[bytes],
    content_type: str | None = "application/json",
) -> httpx2.Response:
    """`body` to one of the JSON endpoints, as Alice, about a file of hers."""
    file = hostile.alice_file(DATA) if endpoint == "patch" else None
    started = None if file else hostile.alice_upload(DATA)
    file_id = file["id"] if file else started.file_id  # type: ignore[union-attr]
    method, path = {
        "initiate": ("POST", "/v1/files/uploads/"),
        "complete": ("POST", f"/v1/files/uploads/{file_id}/complete/"),
        "refresh": ("POST", f"/v1/files/uploads/{file_id}/presigned-urls/"),
        "patch": ("PATCH", f"/v1/files/{file_id}/"),
    }[endpoint]
    headers = dict(hostile.alice)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = hostile.http.request(method, path, headers=headers, content=body)
    assert len(response.content) < SMALL_ANSWER, len(response.content)
    return response


NOT_JSON = {
    "prose": b"not json at all",
    "truncated": b'{"parts": [',
    "trailing-garbage": b'{"a": 1} x',
    "invalid-utf8": b'{"file_name": "\xff\xfe"}',
    "nan": b'{"file_size": NaN}',
    "infinity": b'{"file_size": Infinity}',
    "single-quotes": b"{'a': 1}",
    "comment": b'{"a": 1 /* hi */}',
    "nul": b'{"a": 1}\x00',
    "too-many-digits": b'{"file_size": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_is_400_malformed_json(
    hostile: Hostile, endpoint: str, body: bytes
) -> None:
    assert_problem(send(hostile, endpoint, body), 400, "malformed_json")


NOT_AN_OBJECT = {"null": b"null", "list": b"[]", "string": b'"x"', "number": b"1", "true": b"true"}


# A refresh body of null means "every missing part" (SPEC section 3): not a case here.
NOT_AN_OBJECT_CASES = [
    pytest.param(endpoint, body, id=f"{name}-{endpoint}")
    for endpoint in ENDPOINTS
    for name, body in NOT_AN_OBJECT.items()
    if (endpoint, name) != ("refresh", "null")
]


@pytest.mark.parametrize(("endpoint", "body"), NOT_AN_OBJECT_CASES)
def test_json_that_is_not_an_object_is_400(hostile: Hostile, endpoint: str, body: bytes) -> None:
    assert_problem(send(hostile, endpoint, body), 400, "validation_error")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("depth", [100_000, 2_000])
def test_deeply_nested_json_is_400(hostile: Hostile, endpoint: str, depth: int) -> None:
    body = b"[" * depth + b"]" * depth

    assert_problem(send(hostile, endpoint, body), 400, "malformed_json")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_deep_nesting_inside_a_field_is_400(hostile: Hostile, endpoint: str) -> None:
    field = {"initiate": "file_name", "complete": "parts", "refresh": "part_numbers"}
    name = field.get(endpoint, "file_name").encode()
    body = b'{"' + name + b'": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"

    response = send(hostile, endpoint, body)

    assert response.status_code == 400, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_json_body_over_the_limit_is_413_from_its_content_length(
    hostile: Hostile, endpoint: str
) -> None:
    body = b'{"file_name": "' + b"x" * MAX_JSON_BYTES + b'"}'

    assert_problem(send(hostile, endpoint, body), 413, "payload_too_large")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_streamed_json_body_over_the_limit_is_413(hostile: Hostile, endpoint: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"file_name": "'
        for _ in range(MAX_JSON_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    assert_problem(send(hostile, endpoint, chunks()), 413, "payload_too_large")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        {f"field{n}": n for n in range(100_000)},
        {"part_numbers": ["x"] * 200_000},
        {"parts": [{"part_number": "x", "etag": 1}] * 50_000},
        {"file_name": "x" * 1_500_000},
    ],
    ids=["100k-unknown-fields", "200k-bad-items", "50k-bad-parts", "1.5MB-name"],
)
def test_a_big_bad_body_gets_a_small_answer(
    hostile: Hostile, endpoint: str, body: dict[str, object]
) -> None:
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) <= MAX_JSON_BYTES

    response = send(hostile, endpoint, raw)

    assert response.status_code == 400, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x", "json"],
)
def test_a_json_endpoint_refuses_another_media_type(
    hostile: Hostile, endpoint: str, content_type: str | None
) -> None:
    body = json.dumps(request_for(DATA)).encode()

    assert_problem(send(hostile, endpoint, body, content_type), 415, "unsupported_media_type")


def test_a_duplicated_key_cannot_sneak_a_value_past_validation(hostile: Hostile) -> None:
    body = b'{"file_name": "ok.txt", "file_name": "bad\\nname", "file_size": 1,'
    body += b' "file_content_type": "a/b", "num_parts": 1, "part_size": 1}'

    response = send(hostile, "initiate", body)

    assert_problem(response, 400, "validation_error")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_field_named_with_a_lone_surrogate_is_named_back_in_a_400(
    hostile: Hostile, endpoint: str
) -> None:
    # JSON allows the escape; the string it stands for is not UTF-8, yet the problem names it.
    body = b'{"\\ud800name": 1, "part_numbers": [1], "parts": []}'

    problem = assert_problem(send(hostile, endpoint, body), 400, "validation_error")

    assert "\ud800name" in [error["field"] for error in problem["errors"]]
    assert "\ud800name" in problem["detail"]
