"""The paths of the service's token-signed endpoints, and the Links that build their URLs.

The part upload and download paths are part of the API contract: clients and
other entrypoints take them from here, and the HTTP routes are made from them.
"""

from __future__ import annotations

PART_UPLOAD_PATH = "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/"
DOWNLOAD_PATH = "/v1/files/{file_id}/download/"
FORM_UPLOAD_PATH = "/v1/uppy/forms/{file_id}/"


class HttpLinks:
    """Links under one absolute base URL: the service's address plus where its app is mounted.

    `HttpLinks("https://files.example.com/uploads")` gives
    `https://files.example.com/uploads/v1/files/…/download/?token=…`.
    """

    __slots__ = ("base",)

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def part_upload(self, file_id: str, part_number: int, token: str) -> str:
        return (
            f"{self.base}/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/"
            f"?token={token}"
        )

    def download(self, file_id: str, token: str) -> str:
        return f"{self.base}/v1/files/{file_id}/download/?token={token}"

    def form_upload(self, file_id: str, token: str) -> str:
        return f"{self.base}/v1/uppy/forms/{file_id}/?token={token}"


__all__ = ["DOWNLOAD_PATH", "FORM_UPLOAD_PATH", "PART_UPLOAD_PATH", "HttpLinks"]
