"""Where uploads, their parts and users are kept."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self, runtime_checkable

from uploadcore.domain.events import Event
from uploadcore.domain.grants import UploadToken
from uploadcore.domain.listing import FileFilter, ListPosition
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus


class UploadRepository(Protocol):
    """Uploads and the parts received for them.

    Every method is atomic on its own; `transaction` makes several of them one
    unit of work. Every method raises StorageUnavailable when the database
    cannot be reached, and changes nothing then.
    """

    def transaction(self) -> AbstractContextManager[Self]:
        """A unit of work: a repository whose changes are kept together or not at all.

        Every method called on the repository the block receives runs in one
        transaction, which commits when the block exits normally. If the block
        raises, nothing it changed is kept, and the error propagates. Readers
        outside the block never see a part of its changes. Use it where a state
        change and whatever belongs with it must be written together. Keep the
        block short and free of storage calls: it may hold a database write lock.
        """

    def add_event(self, event: Event) -> None:
        """Write an event to the outbox, and a delivery due now to each endpoint wanting it.

        Call it inside the `transaction` of the change the event describes: the
        event is then kept exactly when the change is.
        """

    def add_events(self, events: Sequence[Event]) -> None:
        """`add_event` for each of many events of one change (gc's batches), at a batch's cost."""

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

    # -- files as a resource ----------------------------------------------

    def list_files(
        self, where: FileFilter, after: ListPosition | None, limit: int
    ) -> Sequence[Upload]:
        """Up to `limit` uploads matching `where`, newest first.

        Newest first is `created` descending, then `id` descending. With
        `after`, only uploads strictly after that position in this order, so a
        page never repeats or skips an upload however many are added meanwhile.
        Uploads marked deleted are never listed. The cost of a page grows with
        `limit`, not with how far into the listing `after` is (a database
        adapter seeks an index; it never skips rows with OFFSET).
        """

    def update_metadata(self, file_id: str, update: MetadataUpdate, now: datetime) -> bool:
        """Set the fields `update` names, and `modified` to `now` if it names any.

        Returns False, changing nothing, if the upload is missing or marked deleted.
        """

    def mark_deleted(self, file_id: str, now: datetime) -> bool:
        """Mark a finished upload deleted: `get` still returns it, listings no longer do.

        Only an upload in a terminal status; marking it again keeps the first
        time. Returns False, changing nothing, if it is missing or in progress.
        """

    def remove(self, file_id: str) -> bool:
        """Delete the record of an upload marked deleted, and its parts.

        Returns False, deleting nothing, if it is missing or not marked deleted.
        """

    def claim_token_file(self, token_id: str, now: datetime) -> bool:
        """Count one more upload started with an upload token, if it may start one.

        Only while the token is neither revoked nor expired at `now` and has
        started fewer uploads than its `max_files`. Returns False, changing
        nothing, otherwise. Atomic: racing claims never exceed `max_files`.
        """


@dataclass(frozen=True)
class UserAccount:
    """A user as an admin sees it: never the key, only whether there is one."""

    name: str
    is_admin: bool
    created: datetime
    has_key: bool


class UserRepository(Protocol):
    """Users and the hashes of their API keys. Raises StorageUnavailable like the above."""

    def add_user(self, name: str, key_hash: str, is_admin: bool, now: datetime) -> None:
        """Store a new user; raises AlreadyExists if the name is taken."""

    def principal_for_key(self, key_hash: str) -> Principal | None:
        """The user whose API key has this hash, or None."""

    def list_users(self) -> Sequence[UserAccount]:
        """Every user, ordered by name."""

    def set_key_hash(self, name: str, key_hash: str | None) -> bool:
        """Replace a user's API key hash; None leaves the user with no key at all.

        The old key stops authenticating at once: the next `principal_for_key`
        with its hash returns None. Returns False, changing nothing, if there
        is no user with this name.
        """

    def remove_user(self, name: str) -> bool:
        """Delete a user; their key stops authenticating at once. False if there is none.

        Their files stay (a file names its owner, it does not depend on the user).
        """


@runtime_checkable
class UploadTokenRepository(Protocol):
    """Upload tokens, kept by the hash of the token. Raises StorageUnavailable like the above."""

    def add_token(self, token: UploadToken) -> None:
        """Store a new token; its id and hash are new."""

    def token_by_hash(self, token_hash: str) -> UploadToken | None:
        """The token with this hash, revoked or expired ones included, or None."""

    def token(self, token_id: str) -> UploadToken | None:
        """The token with this id, or None."""

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        """Revoke a token at `now`; it stops authenticating at once.

        Revoking it again keeps the first time. False if there is no such token.
        """
