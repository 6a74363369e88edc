"""Sizes as people read them: `8 MiB`, and for limits `5 GiB (5368709120 bytes)`."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def short_size(size: int) -> str:
    """`8 MiB`, `1.5 KiB`, `4.8 MiB`, `100 bytes`: binary units, one decimal unless exact."""
    if abs(size) < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    value, unit = float(size), _UNITS[-1]
    for candidate in _UNITS:
        value /= 1024
        if abs(value) < 1024 or candidate == _UNITS[-1]:
            unit = candidate
            break
    shown = f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    return f"{shown} {unit}"


def size_text(size: int) -> str:
    """A size in a message: `5 GiB (5368709120 bytes)`, or `100 bytes` when small."""
    short = short_size(size)
    return short if abs(size) < 1024 else f"{short} ({size} bytes)"
