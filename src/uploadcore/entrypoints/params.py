"""Click parameter types: text that is UTF-8, and sizes and durations parsed as settings are."""

from __future__ import annotations

from datetime import timedelta

import click

from uploadcore.settings import is_utf8, parse_duration, parse_size


class Text(click.ParamType[str, str]):
    """Any text, as long as it is UTF-8.

    Python hands arguments whose bytes are not UTF-8 over with the bytes it
    could not decode as lone surrogates; no name, id, key or URL can hold one,
    and the database, JSON and HTTP headers all refuse to encode them.
    """

    name = "text"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not is_utf8(value):
            self.fail(f"{value!r} is not valid UTF-8 text", param, ctx)
        return value


class Duration(click.ParamType[timedelta, "str | timedelta"]):
    """Seconds, or 90s, 15m, 1h, 7d."""

    name = "duration"

    def convert(
        self, value: str | timedelta, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(f"{value!r}: {error}", param, ctx)


class Size(click.ParamType[int, "str | int"]):
    """Bytes, or 8MiB, 5MB, 1.5GiB (KB/MB/GB are powers of 10, KiB/MiB/GiB of 2)."""

    name = "size"

    def convert(
        self, value: str | int, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            size = parse_size(value)
        except ValueError as error:
            self.fail(f"{value!r}: {error}", param, ctx)
        if size < 1:
            self.fail(f"{value!r}: must be at least 1 byte", param, ctx)
        return size


def duration_text(duration: timedelta) -> str:
    """The shortest exact spelling: `7d`, `36h`, `90s`."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
