"""The client's side of the part plan: sizes, and part bodies streamed from the file.

A part body is read in `CHUNK` pieces as it is sent, so a 5 GiB part costs
one chunk of memory, and the file is never read whole.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uploadcore.entrypoints.client.api import ClientError, Stopped

MiB = 1024 * 1024
CHUNK = MiB
DEFAULT_PART_SIZE = 8 * MiB  # S3's minimum is 5 MiB; 8 MiB is what most S3 tools use
MAX_PARTS = 10_000


@dataclass(frozen=True)
class Plan:
    """`file_size` bytes in `num_parts` parts of `part_size` (the last one shorter)."""

    file_size: int
    num_parts: int
    part_size: int

    @classmethod
    def for_file(cls, file_size: int, part_size: int | None = None) -> Plan:
        """The plan for a file; without `part_size`, 8 MiB grown to stay within 10,000 parts."""
        if part_size is None:
            part_size = max(DEFAULT_PART_SIZE, math.ceil(file_size / MAX_PARTS / MiB) * MiB)
        if file_size <= part_size:
            return cls(file_size, 1, max(file_size, 1))
        return cls(file_size, math.ceil(file_size / part_size), part_size)

    @property
    def numbers(self) -> range:
        return range(1, self.num_parts + 1)

    def offset_of(self, number: int) -> int:
        return (number - 1) * self.part_size

    def size_of(self, number: int) -> int:
        if number < self.num_parts:
            return self.part_size
        return self.file_size - (self.num_parts - 1) * self.part_size


def read_part(
    path: Path,
    offset: int,
    length: int,
    on_chunk: Callable[[int], None] = lambda n: None,
    stop: threading.Event | None = None,
) -> Iterator[bytes]:
    """The bytes of one part, chunk by chunk, calling `on_chunk(len)` as each is handed on.

    Raises Stopped as soon as `stop` is set (so an interrupted upload ends its
    requests at once) and ClientError if the file got shorter meanwhile.
    """
    with path.open("rb") as source:
        source.seek(offset)
        remaining = length
        while remaining:
            if stop is not None and stop.is_set():
                raise Stopped("the upload was stopped")
            data = source.read(min(CHUNK, remaining))
            if not data:
                raise ClientError(f"{path} got shorter while it was being uploaded")
            remaining -= len(data)
            on_chunk(len(data))
            yield data


def md5_of(path: Path, offset: int, length: int) -> str:
    """The hex MD5 of a range of the file (what the server records as a part's etag)."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in read_part(path, offset, length):
        digest.update(chunk)
    return digest.hexdigest()
