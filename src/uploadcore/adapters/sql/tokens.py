"""Upload tokens on SQLAlchemy Core: the part of SqlAlchemyRepository that keeps them."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, literal, or_, select, update

from uploadcore.adapters.sql.tables import UtcDateTime, upload_tokens
from uploadcore.domain.grants import UploadLimits, UploadToken


class TokenQueries:
    """UploadTokenRepository and `claim_token_file`, over the repository's transactions."""

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # the repository's own

    def add_token(self, token: UploadToken) -> None:
        limits = token.limits
        with self._begin() as connection:
            connection.execute(
                upload_tokens.insert().values(
                    id=token.id,
                    owner=token.owner,
                    token_hash=token.token_hash,
                    created=token.created,
                    expires_at=token.expires_at,
                    revoked=token.revoked,
                    max_file_size=limits.max_file_size,
                    max_files=limits.max_files,
                    files_started=token.files_started,
                    allowed_content_types=json.dumps(list(limits.allowed_content_types)),
                    parent_content_type=limits.parent_content_type,
                    parent_object_id=limits.parent_object_id,
                )
            )

    def token_by_hash(self, token_hash: str) -> UploadToken | None:
        return self._one_token(upload_tokens.c.token_hash == token_hash)

    def token(self, token_id: str) -> UploadToken | None:
        return self._one_token(upload_tokens.c.id == token_id)

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        statement = (
            update(upload_tokens)
            .where(upload_tokens.c.id == token_id)
            .values(revoked=func.coalesce(upload_tokens.c.revoked, literal(now, UtcDateTime)))
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def claim_token_file(self, token_id: str, now: datetime) -> bool:
        statement = (
            update(upload_tokens)
            .where(
                upload_tokens.c.id == token_id,
                upload_tokens.c.revoked.is_(None),
                upload_tokens.c.expires_at > now,
                or_(
                    upload_tokens.c.max_files.is_(None),
                    upload_tokens.c.files_started < upload_tokens.c.max_files,
                ),
            )
            .values(files_started=upload_tokens.c.files_started + 1)
        )
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1

    def _one_token(self, condition: Any) -> UploadToken | None:
        with self._begin() as connection:
            row = connection.execute(select(upload_tokens).where(condition)).first()
        return None if row is None else _token_of(row)


def _token_of(row: Row[Any]) -> UploadToken:
    return UploadToken(
        id=row.id,
        owner=row.owner,
        token_hash=row.token_hash,
        created=row.created,
        expires_at=row.expires_at,
        limits=UploadLimits(
            max_file_size=row.max_file_size,
            max_files=row.max_files,
            allowed_content_types=tuple(json.loads(row.allowed_content_types)),
            parent_content_type=row.parent_content_type,
            parent_object_id=row.parent_object_id,
        ),
        revoked=row.revoked,
        files_started=row.files_started,
    )
