"""A digest: the algorithm that made it and its bytes, never a bare hex string."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Protocol

from uploadcore.domain.errors import BadDigest

#: The algorithms a digest may name: hashlib's names, and crc32 (4 bytes, big-endian).
ALGORITHMS = frozenset({"crc32", "md5", "sha1", "sha256"})
_SIZES = {"crc32": 4, "md5": 16, "sha1": 20, "sha256": 32}


class Hasher(Protocol):
    """What hashlib's objects do, and `Crc32`."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class Crc32:
    """zlib's CRC-32 as a hasher: its digest is the 4 bytes, big-endian (as tusd sends it)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def hasher(algorithm: str) -> Hasher:
    """A new hasher for one of `ALGORITHMS` (BadDigest for another)."""
    if algorithm not in ALGORITHMS:
        raise BadDigest(f"unknown digest algorithm {algorithm[:20]!r}")
    if algorithm == "crc32":
        return Crc32()
    return hashlib.new(algorithm, usedforsecurity=False)


class Hashes:
    """What a writer hashes as bytes go by: md5 if `md5` (an etag), and `algorithm` if asked.

    Either may be off: each byte is hashed at most once per algorithm needed.
    """

    def __init__(self, *, md5: bool, algorithm: str | None) -> None:
        self.algorithm = algorithm
        self.md5 = hasher("md5") if md5 or algorithm == "md5" else None
        self._other = None if algorithm in (None, "md5") else hasher(algorithm)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        if self._other is not None:
            self._other.update(data)

    def digest(self) -> Digest:
        """The digest in `algorithm`; ValueError if none was asked for."""
        hashed = self.md5 if self.algorithm == "md5" else self._other
        if self.algorithm is None or hashed is None:
            raise ValueError("no digest was asked for when the bytes were hashed")
        return Digest(self.algorithm, hashed.digest())


@dataclass(frozen=True)
class Digest:
    """The digest of some bytes under `algorithm`; two are equal when both parts are."""

    algorithm: str
    value: bytes

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise BadDigest(f"unknown digest algorithm {self.algorithm[:20]!r}")
        if len(self.value) != _SIZES[self.algorithm]:
            raise BadDigest(
                f"a {self.algorithm} digest is {_SIZES[self.algorithm]} bytes,"
                f" not {len(self.value)}"
            )

    @classmethod
    def of(cls, algorithm: str, data: bytes) -> Digest:
        digest = hasher(algorithm)
        digest.update(data)
        return cls(algorithm, digest.digest())

    def hex(self) -> str:
        return self.value.hex()


__all__ = ["ALGORITHMS", "Crc32", "Digest", "Hasher", "Hashes", "hasher"]
