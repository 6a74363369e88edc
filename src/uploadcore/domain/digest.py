"""A digest: the algorithm that made it and its bytes, never a bare hex string."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from uploadcore.domain.errors import BadDigest

#: The algorithms a digest may name, as hashlib names them.
ALGORITHMS = frozenset({"md5", "sha1", "sha256"})


@dataclass(frozen=True)
class Digest:
    """The digest of some bytes under `algorithm`; two are equal when both parts are."""

    algorithm: str
    value: bytes

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise BadDigest(f"unknown digest algorithm {self.algorithm[:20]!r}")
        if len(self.value) != hashlib.new(self.algorithm).digest_size:
            raise BadDigest(
                f"a {self.algorithm} digest is {hashlib.new(self.algorithm).digest_size} bytes,"
                f" not {len(self.value)}"
            )

    @classmethod
    def of(cls, algorithm: str, data: bytes) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data, usedforsecurity=False).digest())

    def hex(self) -> str:
        return self.value.hex()


__all__ = ["ALGORITHMS", "Digest"]
