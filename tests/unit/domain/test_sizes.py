"""Sizes in messages: binary units a person reads, and the exact bytes for a limit."""

from __future__ import annotations

import pytest

from uploadcore.domain.sizes import short_size, size_text


@pytest.mark.parametrize(
    ("size", "short", "text"),
    [
        (0, "0 bytes", "0 bytes"),
        (1, "1 byte", "1 byte"),
        (1023, "1023 bytes", "1023 bytes"),
        (1024, "1 KiB", "1 KiB (1024 bytes)"),
        (1536, "1.5 KiB", "1.5 KiB (1536 bytes)"),
        (5 * 2**20, "5 MiB", "5 MiB (5242880 bytes)"),
        (5_000_000, "4.8 MiB", "4.8 MiB (5000000 bytes)"),
        (5 * 2**30, "5 GiB", "5 GiB (5368709120 bytes)"),
        (2**50, "1024 TiB", "1024 TiB (1125899906842624 bytes)"),
    ],
)
def test_a_size_reads_in_the_largest_binary_unit(size: int, short: str, text: str) -> None:
    assert short_size(size) == short
    assert size_text(size) == text
