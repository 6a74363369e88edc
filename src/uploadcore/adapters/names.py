"""Names that may become path components on the local disk.

Ids, upload ids, etags and random suffixes are hex or URL-safe base64: ASCII
letters, digits, `-` and `_`. Anything else (a `/`, `..`, a NUL, a non-ASCII
letter) never reaches a path.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")


def is_plain_name(name: str) -> bool:
    """Whether `name` is one non-empty run of ASCII letters, digits, `-` and `_`."""
    return _PLAIN.fullmatch(name) is not None


def safe_name(name: str, what: str = "path component") -> str:
    """`name` itself when it is plain; ValueError otherwise."""
    if _PLAIN.fullmatch(name) is None:
        raise ValueError(f"not a safe {what}: {name!r}")
    return name
