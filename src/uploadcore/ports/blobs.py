"""Where the bytes go: a store for parts and final files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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
        """The parts storage holds for an upload, in part-number order."""

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        """Concatenate `parts` (in the order given) into the final object.

        Durable when it returns: the final object survives a power cut.
        Idempotent. Raises PartMissing naming a part storage no longer holds.
        Keeps the parts: call `release_parts` once the completion is recorded.
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
    def etag(self) -> str:
        """The hex md5 of every byte written so far."""

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
class ServesFiles(Protocol):
    """A store whose final files the service itself serves (local disk)."""

    def file_path(self, upload: Upload) -> str:
        """The filesystem path of a completed upload's final file."""
