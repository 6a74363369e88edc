"""JsonResponse writes what Starlette's JSONResponse writes, and more strings than it can."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from uploadcore.entrypoints.http.responses import JsonResponse

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
