"""A file name as an RFC 6266 header: safe for every client, exact for modern ones."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadcore.domain.metadata import content_disposition


def test_a_plain_ascii_name_is_a_quoted_filename_alone() -> None:
    assert content_disposition("report 2026.pdf") == 'attachment; filename="report 2026.pdf"'


@pytest.mark.parametrize(
    ("name", "header"),
    [
        (
            "résumé.pdf",
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        ),
        (
            'say "hi".txt',
            "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt",
        ),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        (
            "photos/2024/a.jpg",
            "attachment; filename=\"photos_2024_a.jpg\"; filename*=UTF-8''photos%2F2024%2Fa.jpg",
        ),
        (
            "back\\slash.txt",
            "attachment; filename=\"back_slash.txt\"; filename*=UTF-8''back%5Cslash.txt",
        ),
        (
            'a\\"/b',
            "attachment; filename=\"a___b\"; filename*=UTF-8''a%5C%22%2Fb",
        ),
    ],
)
def test_other_names_add_an_exact_utf8_filename_star(name: str, header: str) -> None:
    assert content_disposition(name) == header


@given(st.text(max_size=50))
def test_the_header_is_always_one_printable_ascii_line(name: str) -> None:
    header = content_disposition(name)

    assert header.isascii()
    assert all(" " <= c <= "~" for c in header)


@given(st.text(max_size=50))
def test_the_fallback_never_holds_a_quote_a_backslash_or_a_slash(name: str) -> None:
    header = content_disposition(name)

    assert re.fullmatch(r'attachment; filename="[^"\\/]*"(; filename\*=.*)?', header)


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=50))
def test_filename_star_is_one_token_that_decodes_to_the_exact_name(name: str) -> None:
    header = content_disposition(name)
    star = header.partition("; filename*=UTF-8''")[2]

    assert not set(star) & set(' ;"\\/')
    if star:
        assert unquote(star) == name
    else:
        assert header == f'attachment; filename="{name}"'
