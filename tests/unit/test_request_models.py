"""Request models: refused as msgspec and the field rules refuse, every problem named."""

from __future__ import annotations

from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploadcore.domain.errors import InvalidInput
from uploadcore.domain.upload import UploadStatus
from uploadcore.entrypoints.http import models as m
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.validation import MAX_FIELD_ERRORS, decode

MODELS = [m.InitiateRequest, m.CompleteRequest, m.RefreshRequest, m.MetadataUpdate, m.ListQuery]
NAMES = ["file_name", "file_size", "file_content_type", "num_parts", "part_size", "parts",
         "part_number", "etag", "part_numbers", "parent_content_type", "parent_object_id",
         "limit", "upload_status", "owner", "cursor", "colour"]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "a.bin", "video/mp4", "a/b", "x\n", "all", "\ud800", "x" * 256]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES), inner),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=8)


def rejected(model: type[msgspec.Struct], data: Any) -> InvalidInput | None:
    try:
        decode(model, data)
    except InvalidInput as error:
        return error
    return None


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@settings(max_examples=300, deadline=None)
@given(data=bodies)
def test_a_body_msgspec_refuses_is_refused_with_at_least_one_named_field(
    model: type[msgspec.Struct], data: dict[str, Any]
) -> None:
    error = rejected(model, data)
    try:
        msgspec.convert(data, model)
    except (msgspec.ValidationError, UnicodeEncodeError):
        assert error is not None
    if error is not None:
        assert error.errors, error.detail
        assert all(e.field.split(".")[0].split("[")[0] in NAMES for e in error.errors)


def test_every_problem_of_an_initiate_is_named_at_once() -> None:
    body = {"file_size": "big", "colour": "red", "file_name": "a\tb", "num_parts": 0,
            "part_size": True, "parent_object_id": 1.5, "parent_content_type": "x\n"}  # fmt: skip

    error = rejected(m.InitiateRequest, body)

    assert error is not None
    assert {e.field: e.message for e in error.errors} == {
        "colour": "is not a known field",
        "file_name": "must not contain U+0009 (a control character)",
        "file_size": "must be an integer",
        "file_content_type": "is required and must be a string",
        "num_parts": "must be at least 1, got 0",
        "part_size": "must be an integer",
        "parent_content_type": "must not contain U+000A (a control character)",
        "parent_object_id": "must be a string, an integer or null",
    }


def test_bad_items_of_a_list_are_named_by_their_index() -> None:
    error = rejected(m.RefreshRequest, {"part_numbers": [1, "2", 3, True, 5, 6.0]})

    assert error is not None
    assert [e.field for e in error.errors] == [
        "part_numbers[1]",
        "part_numbers[3]",
        "part_numbers[5]",
    ]


def test_a_part_number_out_of_range_is_named_in_the_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        schemas.parse_complete({"parts": [{"part_number": 0, "etag": "x"}]})

    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("parts[0].part_number", "must be at least 1, got 0")
    ]


def test_a_body_with_more_problems_than_an_answer_names_says_there_are_more() -> None:
    error = rejected(m.CompleteRequest, {"parts": [{"part_number": "x", "etag": 1}] * 50_000})

    assert error is not None
    assert len(error.errors) == MAX_FIELD_ERRORS
    assert error.detail.endswith(" and more")


def test_a_field_named_with_a_lone_surrogate_is_named_back() -> None:
    error = rejected(m.MetadataUpdate, {"\ud800name": 1})

    assert error is not None
    assert [e.field for e in error.errors] == ["\ud800name"]


@pytest.mark.parametrize("body", [None, [], "x", 1])
def test_a_body_that_is_not_an_object_is_refused_as_a_whole(body: object) -> None:
    error = rejected(m.InitiateRequest, body)

    assert error is not None
    assert (error.detail, error.errors) == ("the body must be a JSON object", ())


def test_the_listing_filters_on_every_status_or_all() -> None:
    assert set(get_args(m.StatusFilter)) == {s.value for s in UploadStatus} | {"all"}
