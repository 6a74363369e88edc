"""The part-upload yardstick: a bare Starlette endpoint doing the essential work only.

It streams the body to a temporary file while hashing it with MD5 inline on
the event loop, fsyncs the file, renames it into place and fsyncs the
directory. No token, no database, no size checks: what any durable upload
endpoint must do at least. Run it with uvicorn:

    BENCH_YARDSTICK_DIR=/tmp/x uvicorn --factory bench.yardstick:app_from_environment
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DIR_VARIABLE = "BENCH_YARDSTICK_DIR"


def create_app(directory: Path) -> Starlette:
    async def upload(request: Request) -> Response:
        name = request.path_params["name"]
        if not name.isalnum():
            return PlainTextResponse("bad name", status_code=400)
        tmp = directory / f".tmp-{name}-{secrets.token_hex(8)}"
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            async for chunk in request.stream():
                md5.update(chunk)
                size += _write_all(fd, chunk)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.rename(tmp, directory / name)
        _fsync_dir(directory)
        return JSONResponse({"etag": md5.hexdigest(), "size": size})

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/upload/{name}", upload, methods=["PUT"]), Route("/ping", ping)]
    )


def app_from_environment() -> Starlette:
    return create_app(Path(os.environ[DIR_VARIABLE]))


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:  # each pass writes at least one byte, or raises
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("the disk accepted no bytes")
        view = view[written:]
    return len(data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
