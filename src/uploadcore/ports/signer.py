"""Tokens that grant one narrow action (upload this part, download this file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class TokenClaims:
    """What a token grants, to whom, until when (`expires`: Unix seconds)."""

    purpose: str
    file_id: str
    upload_id: str
    part_number: int
    expires: int


class Signer(Protocol):
    def sign(self, claims: TokenClaims) -> str:
        """A URL-safe token carrying the claims, signed with the service's secret."""

    def verify(self, token: str, purpose: str, now: datetime) -> TokenClaims:
        """The claims of a genuine token minted for `purpose`.

        Raises TokenInvalid if it was tampered with, signed with another key or
        minted for another purpose, and TokenExpired if `now` is past its expiry.
        """
