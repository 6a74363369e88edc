"""Initiate: the part plan, the fields, and the JSON body itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Json,
    MakeApi,
    assert_problem,
    error_fields,
)

GiB = 1 << 30
INITIATE = "/v1/files/uploads/"


def plan(
    file_size: int = 3 * PART, num_parts: int = 3, part_size: int = PART, **extra: object
) -> Json:
    return {
        "file_name": "movie.mp4",
        "file_size": file_size,
        "file_content_type": "video/mp4",
        "num_parts": num_parts,
        "part_size": part_size,
        **extra,
    }


def test_a_valid_plan_is_created_with_one_url_per_part(api: Harness, alice: Headers) -> None:
    response = api.client.initiate(alice, plan())

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert [u["part_number"] for u in response.json()["presigned_urls"]] == [1, 2, 3]


# -- the part plan -------------------------------------------------------------


def test_a_file_over_the_maximum_size_is_413_naming_both_sizes(
    api: Harness, alice: Headers
) -> None:
    response = api.client.initiate(alice, plan(5 * GiB + 1, 1, 5 * GiB + 1))

    body = assert_problem(response, 413, "file_too_large")
    assert str(5 * GiB + 1) in body["detail"]
    assert str(5 * GiB) in body["detail"]


def test_the_file_size_check_comes_before_every_other_check(api: Harness, alice: Headers) -> None:
    body = {"file_size": 6 * GiB, "num_parts": 0, "part_size": -1, "surprise": True}

    assert_problem(api.client.initiate(alice, body), 413, "file_too_large")


def test_the_maximum_file_size_comes_from_the_settings(make_api: MakeApi) -> None:
    small = make_api(max_file_upload_size=2 * PART)
    alice = small.user("alice")

    assert small.client.initiate(alice, plan(2 * PART, 2, PART)).status_code == 201
    assert_problem(small.client.initiate(alice, plan(2 * PART + 1, 3, PART)), 413, "file_too_large")


@pytest.mark.parametrize(
    ("file_size", "num_parts", "part_size", "numbers"),
    [
        pytest.param(3000, 2, PART, ["3000", "1024", "1976"], id="last-part-too-big"),
        pytest.param(2048, 3, PART, ["2048", "1024", "0"], id="last-part-empty"),
        pytest.param(10_000, 10, 1000, ["1000", "1024"], id="parts-below-minimum"),
        pytest.param(5000, 1, 4999, ["4999", "5000"], id="one-part-smaller-than-file"),
        pytest.param(PART * 10_001, 10_001, PART, ["10001", "10000"], id="too-many-parts"),
    ],
)
def test_a_plan_that_does_not_add_up_is_400_naming_the_numbers(
    api: Harness,
    alice: Headers,
    file_size: int,
    num_parts: int,
    part_size: int,
    numbers: list[str],
) -> None:
    response = api.client.initiate(alice, plan(file_size, num_parts, part_size))

    body = assert_problem(response, 400, "part_plan_mismatch")
    for number in numbers:
        assert number in body["detail"]


def test_a_part_over_five_gib_is_refused_even_when_the_file_may_be_bigger(
    make_api: MakeApi,
) -> None:
    big = make_api(max_file_upload_size=20 * GiB)
    alice = big.user("alice")

    response = big.client.initiate(alice, plan(6 * GiB, 1, 6 * GiB))

    body = assert_problem(response, 400, "part_plan_mismatch")
    assert str(6 * GiB) in body["detail"]
    assert str(5 * GiB) in body["detail"]


def test_a_single_part_below_the_minimum_part_size_is_allowed(api: Harness, alice: Headers) -> None:
    assert api.client.initiate(alice, plan(10, 1, 10)).status_code == 201


# -- field types -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["file_size", "num_parts", "part_size"])
@pytest.mark.parametrize(
    "value",
    [True, False, 1024.0, 1.5, "1024", None, [1024], {"n": 1024}, -1],
    ids=["true", "false", "float", "fraction", "string", "null", "list", "object", "negative"],
)
def test_a_number_field_of_the_wrong_type_is_a_field_error(
    api: Harness, alice: Headers, field: str, value: object
) -> None:
    response = api.client.initiate(alice, plan() | {field: value})

    assert error_fields(response) == {field}


@pytest.mark.parametrize("field", ["num_parts", "part_size"])
def test_a_count_of_zero_is_a_field_error(api: Harness, alice: Headers, field: str) -> None:
    assert error_fields(api.client.initiate(alice, plan() | {field: 0})) == {field}


@pytest.mark.parametrize("field", ["file_name", "file_content_type", "parent_content_type"])
@pytest.mark.parametrize("value", [5, True, ["a"], {"a": 1}], ids=["int", "bool", "list", "object"])
def test_a_text_field_of_the_wrong_type_is_a_field_error(
    api: Harness, alice: Headers, field: str, value: object
) -> None:
    assert error_fields(api.client.initiate(alice, plan() | {field: value})) == {field}


@pytest.mark.parametrize("value", [True, 1.5, ["1"], {"id": 1}])
def test_a_parent_object_id_must_be_a_string_or_an_integer(
    api: Harness, alice: Headers, value: object
) -> None:
    response = api.client.initiate(alice, plan(parent_object_id=value))

    assert error_fields(response) == {"parent_object_id"}


@pytest.mark.parametrize("value", [7, "post-7"])
def test_a_parent_object_id_is_returned_as_a_string(
    api: Harness, alice: Headers, value: object
) -> None:
    response = api.client.initiate(alice, plan(parent_object_id=value))

    assert response.json()["file_obj"]["parent_object_id"] == str(value)


def test_unknown_fields_are_named(api: Harness, alice: Headers) -> None:
    response = api.client.initiate(alice, plan(owner="mallory", extra=1))

    assert error_fields(response) == {"owner", "extra"}


@pytest.mark.parametrize(
    "field", ["file_name", "file_size", "file_content_type", "num_parts", "part_size"]
)
def test_a_missing_required_field_is_named(api: Harness, alice: Headers, field: str) -> None:
    body = plan()
    del body[field]

    assert error_fields(api.client.initiate(alice, body)) == {field}


def test_every_problem_is_named_at_once(api: Harness, alice: Headers) -> None:
    response = api.client.initiate(alice, {"file_size": "big", "colour": "red"})

    assert error_fields(response) == {
        "colour",
        "file_name",
        "file_size",
        "file_content_type",
        "num_parts",
        "part_size",
    }


def test_every_field_that_breaks_a_rule_is_named_with_the_badly_typed_ones(
    api: Harness, alice: Headers
) -> None:
    body = plan(
        file_name="a\tb.txt",
        file_content_type="not a type",
        parent_content_type="blog\npost",
        parent_object_id="",
        num_parts=0,
    ) | {"part_size": "big"}

    response = api.client.initiate(alice, body)

    assert error_fields(response) == {
        "file_name",
        "file_content_type",
        "parent_content_type",
        "parent_object_id",
        "num_parts",
        "part_size",
    }
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["num_parts"] == "must be at least 1, got 0"
    assert messages["parent_object_id"] == "must be 1 to 255 characters, got 0"


def test_a_file_too_large_is_413_even_beside_other_bad_fields(api: Harness, alice: Headers) -> None:
    body = plan(file_size=6 * GiB, file_name="a\tb", colour="red") | {"num_parts": "x"}

    assert_problem(api.client.initiate(alice, body), 413, "file_too_large")


@pytest.mark.parametrize("body", [[], [plan()], "upload", 42, None])
def test_a_body_that_is_not_an_object_is_a_validation_error(
    api: Harness, alice: Headers, body: object
) -> None:
    response = api.client.http.post(
        INITIATE, content=json.dumps(body), headers=alice | {"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "validation_error")


# -- file names and content types ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a\x00b",
        "line\nbreak",
        "carriage\rreturn",
        "tab\there",
        "bell\x07",
        "del\x7f",
        "x" * 256,
        "",
        "evil\u202etxt.exe",
        "lone\ud800surrogate",  # sent as the JSON escape \ud800
    ],
    ids=[
        "nul",
        "newline",
        "cr",
        "tab",
        "bell",
        "del",
        "256-chars",
        "empty",
        "bidi",
        "surrogate",
    ],
)
def test_a_file_name_that_is_empty_too_long_or_has_control_characters_is_refused(
    api: Harness, alice: Headers, name: str
) -> None:
    response = api.client.http.post(
        INITIATE,
        content=json.dumps(plan(file_name=name)),
        headers=alice | {"Content-Type": "application/json"},
    )

    assert error_fields(response) == {"file_name"}


@pytest.mark.parametrize(
    "name",
    [
        "x" * 255,
        "résumé 🎬 final (2).mp4",
        "..hidden",
        "a.b.c",
        "photos/2024/a.jpg",
        "back\\slash.txt",
        "/etc/passwd",
        "..\\..\\boot.ini",
        ".",
        "..",
    ],
)
def test_a_display_name_of_up_to_255_characters_is_kept_as_given(
    api: Harness, alice: Headers, name: str
) -> None:
    response = api.client.initiate(alice, plan(file_name=name))

    assert response.status_code == 201, response.text
    assert response.json()["file_obj"]["file_name"] == name


@pytest.mark.parametrize("name", ["photos/2024/a.jpg", "back\\slash.txt"])
def test_a_name_with_slashes_comes_back_exactly_in_the_details_and_the_listing(
    api: Harness, alice: Headers, name: str
) -> None:
    file = api.client.upload(alice, b"folder upload", file_name=name)

    details = api.client.http.get(f"/v1/files/{file['id']}/", headers=alice).json()
    [listed] = api.client.http.get("/v1/files/", headers=alice).json()["results"]

    assert file["file_name"] == details["file_name"] == listed["file_name"] == name
    stored = [p.relative_to(api.media_root) for p in api.media_root.rglob("*") if p.is_file()]
    assert stored == [Path("files", file["id"][:2], file["id"])]


@pytest.mark.parametrize(
    "content_type",
    ["video", "video/", "/mp4", "", "video/mp4\r\nX-Evil: 1", "video mp4", "text/plain; charset"],
)
def test_a_content_type_that_is_not_a_mime_type_is_refused(
    api: Harness, alice: Headers, content_type: str
) -> None:
    response = api.client.initiate(alice, plan(file_content_type=content_type))

    assert error_fields(response) == {"file_content_type"}


@pytest.mark.parametrize(
    "content_type", ["text/plain; charset=utf-8", "application/vnd.api+json", "image/svg+xml"]
)
def test_a_mime_type_with_suffixes_or_parameters_is_accepted(
    api: Harness, alice: Headers, content_type: str
) -> None:
    response = api.client.initiate(alice, plan(file_content_type=content_type))

    assert response.status_code == 201, response.text


def test_a_parent_content_type_with_a_control_character_is_refused(
    api: Harness, alice: Headers
) -> None:
    response = api.client.initiate(alice, plan(parent_content_type="blog\npost"))

    assert error_fields(response) == {"parent_content_type"}


# -- the body itself -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_body_that_is_not_json_is_415(
    api: Harness, alice: Headers, content_type: str | None
) -> None:
    headers = alice | ({"Content-Type": content_type} if content_type else {})

    response = api.client.http.post(INITIATE, content=json.dumps(plan()), headers=headers)

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json"]
)
def test_json_media_types_with_parameters_or_suffixes_are_accepted(
    api: Harness, alice: Headers, content_type: str
) -> None:
    response = api.client.http.post(
        INITIATE, content=json.dumps(plan()), headers=alice | {"Content-Type": content_type}
    )

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "body",
    [b"{", b"", b"{}x", b"{'a': 1}", b'{"file_size": NaN}', b'{"a": "\xff"}', b"[" * 100_000],
    ids=["open", "empty", "trailing", "single-quotes", "nan", "bad-utf8", "deeply-nested"],
)
def test_a_body_that_is_not_valid_json_is_malformed_json(
    api: Harness, alice: Headers, body: bytes
) -> None:
    response = api.client.http.post(
        INITIATE, content=body, headers=alice | {"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "malformed_json")


def test_a_json_body_over_two_mib_is_413(api: Harness, alice: Headers) -> None:
    body = json.dumps(plan(file_name="x" * (3 << 20)))

    response = api.client.http.post(
        INITIATE, content=body, headers=alice | {"Content-Type": "application/json"}
    )

    assert_problem(response, 413, "payload_too_large")
