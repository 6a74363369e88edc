"""Who is calling."""

from __future__ import annotations

from typing import Protocol

from uploadcore.domain.upload import Principal


class Authenticator(Protocol):
    def authenticate(self, credential: str) -> Principal | None:
        """The principal a bearer credential stands for, or None if it is unknown.

        May block (a database lookup): the HTTP app calls it off the event loop.
        Raises StorageUnavailable if it cannot tell.
        """
