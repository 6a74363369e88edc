"""The read yardstick: a bare Starlette endpoint doing one SQLAlchemy ORM primary-key read.

A sync endpoint (Starlette runs it on its thread pool, as it does any
blocking function) opens an ORM session, `session.get`s one row of a SQLite
table by its key and answers it as JSON. No authentication, no second query.
Run it with uvicorn:

    BENCH_ORM_DB=/tmp/x.db uvicorn --factory bench.orm_yardstick:app_from_environment
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DB_VARIABLE = "BENCH_ORM_DB"
ROW_ID = "0123456789abcdef0123456789abcdef"


class Base(DeclarativeBase):
    pass


class File(Base):
    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(1024))
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_content_type: Mapped[str] = mapped_column(String(255))
    upload_status: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime)
    modified: Mapped[datetime] = mapped_column(DateTime)


def create_app(path: str) -> Starlette:
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        if session.get(File, ROW_ID) is None:
            now = datetime.now(UTC)
            session.add(File(
                id=ROW_ID, owner="bench", file_name="bench.bin", file_size=3 * 5 * 2**20,
                file_content_type="application/octet-stream", upload_status="uploading",
                created=now, modified=now,
            ))  # fmt: skip

    def read(request: Request) -> Response:
        with Session(engine) as session:
            row = session.get(File, request.path_params["file_id"])
            if row is None:
                return JSONResponse({"detail": "not found"}, status_code=404)
            return JSONResponse({
                "id": row.id, "owner": row.owner, "file_name": row.file_name,
                "file_size": row.file_size, "file_content_type": row.file_content_type,
                "upload_status": row.upload_status, "created": row.created.isoformat(),
                "modified": row.modified.isoformat(),
            })  # fmt: skip

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/v1/files/uploads/{file_id}/", read), Route("/ping", ping)])


def app_from_environment() -> Starlette:
    return create_app(os.environ[DB_VARIABLE])
