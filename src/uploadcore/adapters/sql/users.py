"""Users and their API keys on SQLAlchemy Core: the part of SqlAlchemyRepository that keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from uploadcore.adapters.sql.point_reads import SqlitePointReads
from uploadcore.adapters.sql.tables import users
from uploadcore.domain.errors import AlreadyExists
from uploadcore.domain.upload import Principal
from uploadcore.ports.repository import UserAccount


class UserQueries:
    """UserRepository, over the repository's transactions and point reads."""

    _point_reads: SqlitePointReads | None

    def _begin(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # the repository's own

    def add_user(self, name: str, key_hash: str, is_admin: bool, now: datetime) -> None:
        try:
            with self._begin() as connection:
                connection.execute(
                    users.insert().values(
                        name=name, key_hash=key_hash, is_admin=is_admin, created=now
                    )
                )
        except IntegrityError as error:
            raise AlreadyExists(f"a user named {name} exists") from error

    def principal_for_key(self, key_hash: str) -> Principal | None:
        if self._point_reads is not None:
            user = self._point_reads.user(key_hash)
            return None if user is None else Principal(*user)
        query = select(users.c.name, users.c.is_admin).where(users.c.key_hash == key_hash)
        with self._begin() as connection:
            row = connection.execute(query).first()
        return None if row is None else Principal(row.name, row.is_admin)

    def list_users(self) -> Sequence[UserAccount]:
        query = select(users).order_by(users.c.name)
        with self._begin() as connection:
            return [
                UserAccount(row.name, row.is_admin, row.created, row.key_hash is not None)
                for row in connection.execute(query)
            ]

    def remove_user(self, name: str) -> bool:
        with self._begin() as connection:
            return connection.execute(users.delete().where(users.c.name == name)).rowcount == 1

    def set_key_hash(self, name: str, key_hash: str | None) -> bool:
        statement = users.update().where(users.c.name == name).values(key_hash=key_hash)
        with self._begin() as connection:
            return connection.execute(statement).rowcount == 1
