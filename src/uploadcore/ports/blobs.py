"""Where the bytes go: a store for parts and final files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from uploadcore.domain.digest import Digest
from uploadcore.domain.parts import ReceivedPart
from uploadcore.domain.upload import Upload


@dataclass(frozen=True)
class PreparedUpload:
    """What storage chose when it prepared an upload."""

    upload_id: str
    storage_key: str


class BlobStore(Protocol):
    """Stores parts while an upload runs and the final file after it completes.

    Every method raises StorageUnavailable when the backend cannot be reached
    (retrying may succeed) and InsufficientStorage when it is full; neither
    leaves a partial object that looks whole.
    """

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        """Make room for the parts of a new upload; returns its storage ids."""

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        """The parts storage holds for an upload, in part-number order.

        Once its parts are freed, an upload lists no parts, or, on a store that
        keeps a record of each multipart upload (S3), raises PartMissing: storage
        no longer knows the upload at all (completed, aborted or expired there).
        """

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> str | None:
        """Concatenate `parts` (in the order given) into the final object.

        Durable when it returns: the final object survives a power cut.
        Idempotent. Raises PartMissing naming a part storage no longer holds.
        Keeps the parts: call `release_parts` once the completion is recorded.

        Returns the final object's etag when storage computes its own (S3),
        None when the service is to compute the S3-style multipart etag.
        A store that turns the parts into the object (S3) may keep no parts
        afterwards, and assembles only in ascending part-number order, which
        is the order the service always gives.
        """

    def release_parts(self, upload: Upload) -> None:
        """Free the parts of an upload whose final object is in place. Idempotent."""

    def abort(self, upload: Upload) -> None:
        """Free every part of an upload that will never complete. Idempotent."""

    def delete(self, upload: Upload) -> None:
        """Remove the final object, if there is one. Idempotent."""


class PartWriter(Protocol):
    """One part being received. Used from one thread at a time."""

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes (blocking: call it off the event loop)."""

    @property
    def digest(self) -> Digest:
        """The md5 of every byte written so far (the part's etag is its hex form)."""

    def commit(self) -> ReceivedPart:
        """Make the part durable and visible, atomically replacing an earlier one."""

    def discard(self) -> None:
        """Drop what was written; nothing of it is kept. Idempotent."""


@runtime_checkable
class ReceivesParts(Protocol):
    """A store the service itself streams part bodies into (local disk).

    Stores without it (S3) receive parts straight from clients.
    """

    def open_part(self, upload: Upload, part_number: int) -> PartWriter:
        """Start receiving a part; raises InvalidState if the upload's storage is gone."""


@runtime_checkable
class PresignsUrls(Protocol):
    """A store clients talk to directly, through URLs it signs itself (S3).

    The service hands out these URLs instead of its own token-signed ones.
    Signing is local work: neither method calls the backend for each URL.
    """

    def part_urls(
        self,
        upload: Upload,
        part_numbers: Sequence[int],
        now: datetime,
        expires_in: timedelta,
        *,
        sized: bool = True,
    ) -> Sequence[str]:
        """One `PUT` URL per part number, in the order given.

        Each URL is signed at `now`, is valid for `expires_in`, and (`sized`)
        binds the part's planned size, so storage itself refuses a body of
        another length. An upload of open length has no planned sizes: its
        URLs are not `sized`.
        """

    def file_url(self, upload: Upload, now: datetime, expires_in: timedelta) -> str:
        """A URL that fetches the completed upload's file as it is.

        Signed at `now` and valid for `expires_in`, naming the file's name for
        a download, unless storage is public behind a CDN (then a plain URL).
        """


@dataclass(frozen=True)
class PostForm:
    """Where a browser POSTs a whole file as `multipart/form-data`: every field, then `file`."""

    url: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class StoredObject:
    """An object that arrived in storage by itself: its size and storage's etag."""

    size: int
    etag: str


@runtime_checkable
class PostsForms(Protocol):
    """A store browsers POST whole files to, under a policy it signs (S3's POST policy).

    The file never passes through the service, which learns of it by asking
    (`stored`).
    """

    def prepare_form(self, file_id: str, content_type: str) -> PreparedUpload:
        """The key of a file to arrive in one form (no multipart upload: `upload_id` is "")."""

    def form(self, upload: Upload, max_size: int, expires_in: timedelta) -> PostForm:
        """A form for the upload's key and content type, of 0 to `max_size` bytes.

        Storage itself refuses another key, type or size, and after `expires_in`.
        """

    def stored(self, upload: Upload) -> StoredObject | None:
        """The object once it arrived, else None (local work: one HEAD request)."""


@dataclass(frozen=True)
class OpenedFile:
    """A completed upload's final file, open for reading: the caller closes `fd`."""

    fd: int
    size: int
    modified_ns: int  # nanoseconds since the epoch


@runtime_checkable
class ServesFiles(Protocol):
    """A store whose final files the service itself serves (local disk)."""

    def open_file(self, upload: Upload) -> OpenedFile:
        """Open a completed upload's final file; UploadNotFound if it is no longer stored."""


@runtime_checkable
class ChecksReadiness(Protocol):
    """A store that can say whether it is usable now (for `/readyz`)."""

    def check_ready(self) -> None:
        """Return if the store can be used now; StorageUnavailable naming the trouble if not.

        Cheap and side-effect free (S3: HeadBucket; local disk: the root is a
        writable directory), so a load balancer may call it every few seconds.
        """
