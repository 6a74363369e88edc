"""JsonResponse writes what Starlette's JSONResponse writes, and more strings than it can."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from uploadcore.entrypoints.http.responses import JsonResponse


@dataclass
class Point:
    x: int
    y: int


# What the API answers with: no floats anywhere (sizes, counts and times are integers
# or strings), integers of any size, any text, lone surrogates included.
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(VALUES)
def test_the_body_is_starlettes_or_ascii_escaped_json_of_the_same_value(value: object) -> None:
    body = bytes(JsonResponse(value).body)

    assert json.loads(body) == value
    try:
        expected = JSONResponse(value).body
    except UnicodeEncodeError:  # a lone surrogate: Starlette cannot write it at all
        assert body.isascii()
    else:
        assert body == expected


def test_a_lone_surrogate_is_escaped() -> None:
    assert JsonResponse({"\ud800": "x\udfff"}).body == b'{"\\ud800":"x\\udfff"}'


def test_the_media_type_and_status_are_starlettes() -> None:
    response = JsonResponse({"a": 1}, status_code=201, media_type="application/problem+json")

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/problem+json"
    assert JsonResponse({}).headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 1, tzinfo=UTC), Point(1, 2), {"at": date(2026, 1, 1)}],
    ids=["datetime", "dataclass", "nested-date"],
)
def test_what_json_has_no_type_for_is_refused_as_starlette_refuses_it(value: object) -> None:
    with pytest.raises(TypeError):
        JSONResponse(value)
    with pytest.raises(TypeError):
        JsonResponse(value)
