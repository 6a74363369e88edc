"""UploadRepository and UserRepository on SQLAlchemy 2 Core (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from uploadcore.adapters.sql.tables import files, parts, users
from uploadcore.domain.errors import AlreadyExists, StorageUnavailable
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Principal, Upload, UploadStatus, check_transition


class SqlAlchemyRepository:
    """Uploads, parts (one row each) and users in a relational database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        self._insert = dialect.insert

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
                raise StorageUnavailable("the database is unavailable; retry shortly") from error
            raise

    def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""
        with self._begin() as connection:
            connection.exec_driver_sql("SELECT 1")

    # -- uploads ----------------------------------------------------------

    def add(self, upload: Upload) -> None:
        with self._begin() as connection:
            connection.execute(files.insert().values(**_row_of(upload)))

    def get(self, file_id: str) -> Upload | None:
        with self._begin() as connection:
            row = connection.execute(select(files).where(files.c.id == file_id)).first()
        return None if row is None else _upload_of(row)

    def mark_uploading(self, file_id: str, upload_id: str, storage_key: str, now: datetime) -> bool:
        return self._update_if(
            file_id,
            UploadStatus.PENDING,
            upload_id=upload_id,
            storage_key=storage_key,
            upload_status=UploadStatus.UPLOADING.value,
            modified=now,
        )

    def set_status(
        self,
        file_id: str,
        expected: UploadStatus,
        new: UploadStatus,
        now: datetime,
        etag: str | None = None,
    ) -> bool:
        check_transition(expected, new)  # a terminal status is never overwritten
        values: dict[str, Any] = {"upload_status": new.value, "modified": now}
        if etag is not None:
            values["etag"] = etag
        return self._update_if(file_id, expected, **values)

    def record_part(
        self, file_id: str, part: ReceivedPart, expires_at: datetime, now: datetime
    ) -> bool:
        with self._begin() as connection:
            # The UPDATE comes first: it takes the row (or SQLite's write) lock, so an
            # abort or completion racing us either sees this part or makes us store nothing.
            if not _update_if(
                connection, file_id, UploadStatus.UPLOADING, expires_at=expires_at, modified=now
            ):
                return False
            connection.execute(self._upsert_part(file_id, part, now))
            return True

    def touch(self, file_id: str, expires_at: datetime, now: datetime) -> bool:
        return self._update_if(file_id, UploadStatus.UPLOADING, expires_at=expires_at, modified=now)

    def parts(self, file_id: str) -> Sequence[ReceivedPart]:
        query = (
            select(parts.c.part_number, parts.c.etag, parts.c.size)
            .where(parts.c.file_id == file_id)
            .order_by(parts.c.part_number)
        )
        with self._begin() as connection:
            return [ReceivedPart(*row) for row in connection.execute(query)]

    def _update_if(self, file_id: str, expected: UploadStatus, **values: Any) -> bool:
        with self._begin() as connection:
            return _update_if(connection, file_id, expected, **values)

    def _upsert_part(self, file_id: str, part: ReceivedPart, now: datetime) -> Insert:
        statement = self._insert(parts).values(
            file_id=file_id,
            part_number=part.part_number,
            etag=part.etag,
            size=part.size,
            received=now,
        )
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[parts.c.file_id, parts.c.part_number],
            set_={"etag": part.etag, "size": part.size, "received": now},
        )

    # -- users ------------------------------------------------------------

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
        query = select(users.c.name, users.c.is_admin).where(users.c.key_hash == key_hash)
        with self._begin() as connection:
            row = connection.execute(query).first()
        return None if row is None else Principal(row.name, row.is_admin)


def _update_if(connection: Connection, file_id: str, expected: UploadStatus, **values: Any) -> bool:
    result = connection.execute(
        update(files)
        .where(files.c.id == file_id, files.c.upload_status == expected.value)
        .values(**values)
    )
    return result.rowcount == 1


def _row_of(upload: Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "upload_id": upload.upload_id,
        "storage_key": upload.storage_key,
        "owner": upload.owner,
        "file_name": upload.file_name,
        "file_size": upload.plan.file_size,
        "file_content_type": upload.file_content_type,
        "num_parts": upload.plan.num_parts,
        "part_size": upload.plan.part_size,
        "upload_status": upload.status.value,
        "etag": upload.etag,
        "parent_content_type": upload.parent_content_type,
        "parent_object_id": upload.parent_object_id,
        "created": upload.created,
        "modified": upload.modified,
        "expires_at": upload.expires_at,
    }


def _upload_of(row: Row[Any]) -> Upload:
    return Upload(
        id=row.id,
        upload_id=row.upload_id,
        storage_key=row.storage_key,
        owner=row.owner,
        file_name=row.file_name,
        file_content_type=row.file_content_type,
        plan=PartPlan(row.file_size, row.num_parts, row.part_size),
        status=UploadStatus(row.upload_status),
        created=row.created,
        modified=row.modified,
        expires_at=row.expires_at,
        etag=row.etag,
        parent_content_type=row.parent_content_type,
        parent_object_id=row.parent_object_id,
    )
