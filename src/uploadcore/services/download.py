"""Open a download: the completed file a download token grants, open for reading."""

from __future__ import annotations

from dataclasses import dataclass

from uploadcore.domain.errors import InvalidState
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import OpenedFile, ServesFiles
from uploadcore.ports.repository import UploadRepository
from uploadcore.services.records import find_upload
from uploadcore.services.urls import Urls


@dataclass(frozen=True)
class Download:
    upload: Upload
    file: OpenedFile  # the caller closes it


@dataclass(frozen=True)
class OpenDownload:
    """The completed file a download token grants, opened; the token errors otherwise.

    Opened before anything is answered, so a file deleted meanwhile is
    UploadNotFound rather than a broken response. Blocking.
    """

    repo: UploadRepository
    store: ServesFiles
    urls: Urls

    def __call__(self, file_id: str, token: str | None) -> Download:
        self.urls.check_download_token(token, file_id)
        return self.opened(find_upload(self.repo, file_id))

    def opened(self, upload: Upload) -> Download:
        """A completed upload's file, opened (for a caller already allowed to read it)."""
        if upload.status is not UploadStatus.COMPLETED:
            raise InvalidState(f"file {upload.id} is {upload.status}; there is nothing to download")
        return Download(upload, self.store.open_file(upload))


__all__ = ["Download", "OpenDownload"]
