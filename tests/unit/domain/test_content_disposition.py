"""A file name as an RFC 6266 header: safe for every client, exact for modern ones."""

from __future__ import annotations

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
    ],
)
def test_other_names_add_an_exact_utf8_filename_star(name: str, header: str) -> None:
    assert content_disposition(name) == header


@given(st.text(max_size=50))
def test_the_header_is_always_one_printable_ascii_line(name: str) -> None:
    header = content_disposition(name)

    assert header.isascii()
    assert all(" " <= c <= "~" for c in header)
