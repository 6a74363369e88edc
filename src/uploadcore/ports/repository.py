"""Where uploads, their parts and users are kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus


class UploadRepository(Protocol):
    """Uploads and the parts received for them.

    Every method is atomic on its own. Every method raises StorageUnavailable
    when the database cannot be reached, and changes nothing then.
    """

    def add(self, upload: Upload) -> None:
        """Store a new upload. Its id is new; the parts list starts empty."""

    def get(self, file_id: str) -> Upload | None:
        """The upload with this file id, or None."""

    def mark_uploading(self, file_id: str, upload_id: str, storage_key: str, now: datetime) -> bool:
        """Move a `pending` upload to `uploading`, storing where its storage lives.

        Returns False, changing nothing, if the upload is no longer pending.
        """

    def set_status(
        self,
        file_id: str,
        expected: UploadStatus,
        new: UploadStatus,
        now: datetime,
        etag: str | None = None,
    ) -> bool:
        """Change the status only if it is still `expected` (compare-and-set).

        Also sets `modified` to `now` and, when given, the final `etag`.
        Returns False, changing nothing, when another writer got there first.
        Raises InvalidState, changing nothing, if `expected -> new` is not an
        allowed transition (a terminal status is never left).
        """

    def record_part(
        self, file_id: str, part: ReceivedPart, expires_at: datetime, now: datetime
    ) -> bool:
        """Store a received part, replacing any earlier one with its number.

        Only while the upload is `uploading`; also moves its expiry to
        `expires_at`. Returns False, storing nothing, if it is not uploading.
        """

    def touch(self, file_id: str, expires_at: datetime, now: datetime) -> bool:
        """Move the expiry of an `uploading` upload; False if it is not uploading."""

    def parts(self, file_id: str) -> Sequence[ReceivedPart]:
        """The parts recorded for an upload, in part-number order."""


class UserRepository(Protocol):
    """Users and the hashes of their API keys. Raises StorageUnavailable like the above."""

    def add_user(self, name: str, key_hash: str, is_admin: bool, now: datetime) -> None:
        """Store a new user; raises AlreadyExists if the name is taken."""

    def principal_for_key(self, key_hash: str) -> Principal | None:
        """The user whose API key has this hash, or None."""
