"""List files: a page of those a query selects, newest first, with a signed cursor."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from uploadcore.domain.errors import FieldError, Forbidden, InvalidInput
from uploadcore.domain.listing import (
    DEFAULT_LIMIT,
    FileFilter,
    ListPosition,
    check_limit,
    owner_filter,
    parent_filter,
    status_filter,
)
from uploadcore.domain.upload import Principal, Upload
from uploadcore.ports.clock import Clock
from uploadcore.ports.repository import UploadRepository
from uploadcore.ports.signer import Signer, TokenClaims

CURSOR_PURPOSE = "list-cursor"
# A cursor stays valid for as long as the secret key does: walking a long listing
# slowly is fine, and a cursor grants nothing its holder could not ask for anew.
_CURSOR_EXPIRES = 2**53 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FileQuery:
    """A listing as a client asks for it; `ListFiles` checks every field."""

    owner: str | None = None
    upload_status: str = "completed"
    parent_content_type: str | None = None
    parent_object_id: str | None = None
    file_content_type: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class FilePage:
    """One page of a listing, and the cursor of the next one (None on the last page)."""

    files: tuple[Upload, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class ListFiles:
    """A page of the files `query` selects, newest first. Blocking.

    InvalidInput for a bad limit, status or parent, or a cursor this service
    did not issue for this principal and these filters; NotOwner when a user
    who is not an admin names another owner.
    """

    repo: UploadRepository
    signer: Signer
    clock: Clock

    def __call__(self, principal: Principal, query: FileQuery) -> FilePage:
        limit = check_limit(query.limit)
        status = status_filter(query.upload_status)
        parent = parent_filter(query.parent_content_type, query.parent_object_id)
        owner = owner_filter(principal, query.owner)
        where = FileFilter(owner, status, parent, query.file_content_type)
        binding = _binding(principal, where)
        after = None if query.cursor is None else self._position(query.cursor, binding)
        found = self.repo.list_files(where, after, limit + 1)
        page = tuple(found[:limit])
        more = len(found) > limit
        return FilePage(page, self._cursor(ListPosition.of(page[-1]), binding) if more else None)

    def _cursor(self, position: ListPosition, binding: str) -> str:
        # The token's fields carry the position (id, and `created` in microseconds) and
        # the binding to the principal and filters; the signature makes it tamper-evident.
        micros = (position.created - _EPOCH) // timedelta(microseconds=1)
        claims = TokenClaims(CURSOR_PURPOSE, position.id, binding, micros, _CURSOR_EXPIRES)
        return self.signer.sign(claims)

    def _position(self, cursor: str, binding: str) -> ListPosition:
        try:
            claims = self.signer.verify(cursor, CURSOR_PURPOSE, self.clock.now())
        except Forbidden:
            raise _bad_cursor("was not issued by this service") from None
        if claims.upload_id != binding:
            raise _bad_cursor("belongs to another user or to a listing with other filters")
        return ListPosition(_EPOCH + timedelta(microseconds=claims.part_number), claims.file_id)


def _binding(principal: Principal, where: FileFilter) -> str:
    """What a cursor is bound to: who listed, and with which filters."""
    status = None if where.status is None else where.status.value
    facts = [principal.name, where.owner, status, where.parent, where.file_content_type]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def _bad_cursor(reason: str) -> InvalidInput:
    message = f"the cursor {reason}; start again without one"
    return InvalidInput(f"cursor: {message}", errors=(FieldError("cursor", message),))


__all__ = ["CURSOR_PURPOSE", "FilePage", "FileQuery", "ListFiles"]
