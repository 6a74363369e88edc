"""The real clock and id generator."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """128 random bits as 32 hex characters: unguessable, URL- and path-safe."""

    def new_id(self) -> str:
        return secrets.token_hex(16)
