"""Numbers that are negative, zero, huge, fractional, or not numbers at all: 4xx, never 5xx."""

from __future__ import annotations

import json
import os

import pytest
from tests.integration.http.support import assert_problem
from tests.integration.security.conftest import Hostile

DATA = os.urandom(2 * 1024)
HUGE = str(10**30)
# JSON texts standing where a number belongs.
NOT_COUNTS = {
    "negative": "-1",
    "minus-zero": "-0",
    "zero": "0",
    "huge": HUGE,
    "beyond-int-digits": "9" * 5000,
    "float": "1.5",
    "whole-float": "1024.0",
    "exponent": "1e3",
    "overflowing-float": "1e400",
    "string": '"1024"',
    "true": "true",
    "false": "false",
    "null": "null",
    "list": "[1024]",
    "object": '{"n": 1024}',
}
INITIATE = '{"file_name": "a.bin", "file_size": %s, "file_content_type": "a/b", "num_parts": %s, "part_size": %s}'  # noqa: E501


def post_raw(hostile: Hostile, path: str, text: str) -> object:
    headers = hostile.alice | {"Content-Type": "application/json"}
    return hostile.http.post(path, headers=headers, content=text)


def nothing_started(hostile: Hostile) -> bool:
    listing = hostile.http.get("/v1/files/?upload_status=all", headers=hostile.alice).json()
    return bool(listing["results"] == [])


@pytest.mark.parametrize("field", ["file_size", "num_parts", "part_size"])
@pytest.mark.parametrize("value", NOT_COUNTS.values(), ids=NOT_COUNTS.keys())
def test_an_initiate_with_a_bad_number_is_4xx_and_starts_nothing(
    hostile: Hostile, field: str, value: str
) -> None:
    numbers = {"file_size": "2048", "num_parts": "2", "part_size": "1024", field: value}
    text = INITIATE % (numbers["file_size"], numbers["num_parts"], numbers["part_size"])

    response = hostile.http.post(
        "/v1/files/uploads/",
        headers=hostile.alice | {"Content-Type": "application/json"},
        content=text,
    )

    assert response.status_code in (400, 413), response.text
    assert response.json()["code"] in (
        "validation_error",
        "part_plan_mismatch",
        "file_too_large",
        "malformed_json",
    )
    assert nothing_started(hostile)


@pytest.mark.parametrize("value", ["-1", HUGE, "1.5", "true", '"x"', "[]"])
def test_a_bad_parent_object_id_is_refused_or_kept_as_text(hostile: Hostile, value: str) -> None:
    body = json.loads(INITIATE % ("2048", "2", "1024"))
    text = json.dumps(body)[:-1] + f', "parent_object_id": {value}}}'

    response = hostile.http.post(
        "/v1/files/uploads/",
        headers=hostile.alice | {"Content-Type": "application/json"},
        content=text,
    )

    if value in ("-1", HUGE, '"x"'):
        assert response.status_code == 201, response.text
        assert response.json()["file_obj"]["parent_object_id"] == json.loads(value).__str__()
    else:
        assert_problem(response, 400, "validation_error")


ARABIC_ONE = "\u0661"  # a Unicode digit: str.isdigit() says yes, int() reads 1
PATH_NUMBERS = ["-1", "0", "1.5", "1e3", "true", HUGE, "²", ARABIC_ONE, "0x1", "+1", "%201", "1%00"]


@pytest.mark.parametrize("number", PATH_NUMBERS)
def test_a_part_number_in_the_path_that_is_not_a_plain_number_stores_nothing(
    hostile: Hostile, number: str
) -> None:
    started = hostile.alice_upload(DATA)
    url = started.urls[1].replace("/upload-part/1/", f"/upload-part/{number}/")

    response = hostile.api.client.put_part(url, started.chunks[0])

    assert response.status_code in (400, 403), response.text
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []


ITEM_NUMBERS = {k: v for k, v in NOT_COUNTS.items() if k not in ("zero", "minus-zero")}


@pytest.mark.parametrize("value", ITEM_NUMBERS.values(), ids=ITEM_NUMBERS.keys())
def test_a_completion_naming_a_bad_part_number_is_400(hostile: Hostile, value: str) -> None:
    started = hostile.alice_upload(DATA)
    hostile.api.client.put_parts(started)
    etag = started.refs()[0]["etag"]
    text = f'{{"parts": [{{"part_number": {value}, "etag": "{etag}"}}]}}'

    response = post_raw(hostile, f"/v1/files/uploads/{started.file_id}/complete/", text)

    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    state = hostile.api.client.state(hostile.alice, started.file_id).json()
    assert state["upload_status"] == "uploading"


@pytest.mark.parametrize("value", NOT_COUNTS.values(), ids=NOT_COUNTS.keys())
def test_a_refresh_naming_a_bad_part_number_is_400(hostile: Hostile, value: str) -> None:
    started = hostile.alice_upload(DATA)
    text = f'{{"part_numbers": [{value}]}}'

    response = post_raw(hostile, f"/v1/files/uploads/{started.file_id}/presigned-urls/", text)

    assert response.status_code == 400, response.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", ["-1", "0", "1001", HUGE, "1.5", "1e3", "true", "", "²", " 5"])
def test_a_listing_limit_that_is_not_1_to_1000_is_400(hostile: Hostile, limit: str) -> None:
    response = hostile.http.get("/v1/files/", params={"limit": limit}, headers=hostile.alice)

    assert_problem(response, 400, "validation_error")


@pytest.mark.parametrize("length", ["-1", "1.5", "1e3", HUGE, "abc", "²", "2049", "0"])
def test_a_part_with_a_bad_content_length_stores_nothing(hostile: Hostile, length: str) -> None:
    started = hostile.alice_upload(DATA)

    response = hostile.http.put(
        started.urls[1],
        content=started.chunks[0],
        headers=[("content-length", length.encode("latin-1"))],  # type: ignore[arg-type]
    )

    assert response.status_code in (400, 413), response.text
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []


@pytest.mark.parametrize(
    ("spec", "statuses"),
    [
        (f"bytes=0-{HUGE}", {206}),
        (f"bytes={HUGE}-", {416}),
        (f"bytes=-{HUGE}", {206}),
        ("bytes=-0", {416}),
        ("bytes=5-1", {200}),
        ("bytes=-1-2", {200}),
        ("bytes=0-0,1-1", {200}),
        ("bytes=²-", {200}),
        ("lines=0-1", {200}),
        ("bytes=" + "9" * 5000 + "-", {416}),
    ],
)
def test_a_hostile_range_is_answered_without_an_error(
    hostile: Hostile, spec: str, statuses: set[int]
) -> None:
    file = hostile.alice_file(DATA)

    response = hostile.http.get(
        file["url"],
        headers=[(b"range", spec.encode("latin-1"))],
    )

    assert response.status_code in statuses, response.text
    if response.status_code in (200, 206):
        assert DATA.endswith(response.content) or DATA.startswith(response.content)
