"""Where the service's own URLs point: the entrypoint that serves them knows, the core does not."""

from __future__ import annotations

from typing import Protocol


class Links(Protocol):
    """Absolute URLs of the service's token-signed endpoints.

    The use cases name a link and hand over the token that authorises it; the
    entrypoint serving those endpoints implements this from its own routes and
    from where it is mounted (its base URL and ASGI `root_path`).
    """

    def part_upload(self, file_id: str, part_number: int, token: str) -> str:
        """The URL a client PUTs one part of a file's upload to."""

    def download(self, file_id: str, token: str) -> str:
        """The URL a client GETs a completed file's bytes from."""

    def form_upload(self, file_id: str, token: str) -> str:
        """The URL a browser POSTs a whole file to, as `multipart/form-data` (Uppy)."""
