"""The `file` field of a `multipart/form-data` body, as it streams in, never held whole.

python-multipart (the parser Starlette's own forms use) is fed the body chunk
by chunk; the bytes of the `file` field come out as they are parsed, so a
100 MiB form costs a few chunks of memory. Other fields are skipped (up to a
small total), and so is anything after the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from uploadcore.domain.errors import InvalidInput

FIELD = "file"
MAX_OTHER_FIELDS = 64 * 1024  # bytes of every field but the file, together


class _Parts:
    """The parser's callbacks: which part is being read, and the file's bytes so far."""

    def __init__(self) -> None:
        self.header_name = b""
        self.header_value = b""
        self.is_file = False
        self.seen_file = False
        self.file_done = False
        self.other = 0
        self.out: list[bytes] = []

    def on_part_begin(self) -> None:
        self.is_file = False
        self.header_name = self.header_value = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            _, options = parse_options_header(self.header_value)
            self.is_file = options.get(b"name") == FIELD.encode() and not self.seen_file
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        self.seen_file = self.seen_file or self.is_file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.is_file and not self.file_done:
            self.out.append(data[start:end])
            return
        self.other += end - start
        if self.other > MAX_OTHER_FIELDS:
            raise InvalidInput(f"the form's fields besides `{FIELD}` pass {MAX_OTHER_FIELDS} bytes")

    def on_part_end(self) -> None:
        if self.is_file:
            self.file_done = True
            self.is_file = False


async def form_file(content_type: str | None, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The bytes of the form's `file` field; InvalidInput for a body that is no such form."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the file as multipart/form-data, in a field named `file`")
    parts = _Parts()
    callbacks = {
        name: getattr(parts, name)
        for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
            "on_headers_finished", "on_part_data", "on_part_end",
        )
    }  # fmt: skip
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
            if parts.out:
                for piece in parts.out:
                    yield piece
                parts.out.clear()
        parser.finalize()
    except MultipartParseError as error:
        raise InvalidInput(f"the form is not valid multipart/form-data: {error}") from None
    if not parts.file_done:
        raise InvalidInput(f"the form has no complete `{FIELD}` field")


__all__ = ["form_file"]
