"""`GET /v1/files/?limit=1000` on S3 storage against the same page on local storage, over HTTP.

Two `uploadcore serve` processes, one on local storage and one on S3 (moto's
server on 127.0.0.1, fake credentials), each with 1,000 completed files of the
bench user in its database (inserted in bulk after `uploadcore users create`
migrated it). Each page signs 1,000 download URLs: presigned `GetObject` URLs
naming each file for S3, uploadcore's own signed download URLs for local
storage; nothing else differs. `wrk -t1 -c4` loads each in turn. Target: the
S3 page at most 3x the local page's time (its requests per second at least
a third).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from sqlalchemy import create_engine

from bench.details import _wrk
from bench.harness import BenchError, Context, Row, interleave, median, median_ratio, progress
from bench.s3_presign import FAKE_AWS_ENV, _moto_server
from bench.servers import Server, clean_environment, free_port, uploadcore_server
from bench.uploads import _create_user
from uploadcore.adapters.sql.tables import files

FILES = 1_000
BUCKET = "uploadcore-bench"
SECONDS = 5
TARGET = 3.0


def s3_listing(ctx: Context) -> list[Row]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    root = ctx.scratch / "s3-listing"
    root.mkdir()
    try:
        with _moto_server() as endpoint:
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            )
            s3.create_bucket(Bucket=BUCKET)
            s3_settings = {
                **FAKE_AWS_ENV,
                "UPLOADCORE_UPLOAD_STORAGE_HANDLER": "s3",
                "UPLOADCORE_AWS_STORAGE_BUCKET_NAME": BUCKET,
                "UPLOADCORE_AWS_S3_ENDPOINT_URL": endpoint,
            }
            local, local_key = _server(root / "local", {}, "files/{shard}/{id}")
            with local:
                remote, remote_key = _server(root / "s3", s3_settings, "uploadcore/{id}")
                with remote:
                    figures = _measure(ctx, (local, local_key), (remote, remote_key))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # Time ratio S3/local = local req/s over S3 req/s, per pair of runs.
    ratio = median_ratio(figures["local"], figures["s3"])
    return [
        Row(
            f"GET /v1/files/?limit={FILES} (wrk -t1 -c4): S3 vs local storage",
            f"{median(figures['s3']):,.1f} req/s",
            f"{median(figures['local']):,.1f} req/s",
            f"{ratio:.2f}x",
            f"<= {TARGET:.2f}x",
            ratio <= TARGET,
        )
    ]


def _server(root: Path, settings: dict[str, str], key_format: str) -> tuple[Server, str]:
    root.mkdir()
    port = free_port()
    environ = clean_environment({
        **settings,
        "UPLOADCORE_DATA_DIR": str(root / "data"),
        "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{port}",
    })  # fmt: skip
    key = _create_user(environ)
    _seed(root / "data" / "uploadcore.db", key_format)
    server = uploadcore_server(environ, root / "server.log", port)
    try:
        server.wait_ready("/healthz")
    except BaseException:
        server.stop()
        raise
    return server, key


def _seed(database: Path, key_format: str) -> None:
    if not database.exists():
        raise BenchError(f"no database at {database} after `uploadcore users create`")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for n in range(FILES):
        file_id = f"{n * 2654435761 % 2**32:08x}{n:024x}"
        created = start + timedelta(seconds=n)
        rows.append({
            "id": file_id, "upload_id": f"u{n}",
            "storage_key": key_format.format(shard=file_id[:2], id=file_id), "owner": "bench",
            "file_name": f"résumé {n}.pdf", "file_size": 1024,
            "file_content_type": "application/pdf", "num_parts": 1, "part_size": 1024,
            "upload_status": "completed", "etag": "0123456789abcdef0123456789abcdef-1",
            "parent_content_type": None, "parent_object_id": None, "created": created,
            "modified": created, "expires_at": created + timedelta(days=1), "deleted": None,
        })  # fmt: skip
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(files.insert(), rows)
    finally:
        engine.dispose()


def _measure(
    ctx: Context, local: tuple[Server, str], remote: tuple[Server, str]
) -> dict[str, list[float]]:
    path = f"/v1/files/?limit={FILES}"

    def load(server: Server, key: str, seconds: int) -> float:
        server.check_alive()
        return _wrk(f"{server.url}{path}", f"Authorization: Bearer {key}", seconds, 4)

    progress("s3-listing: warm-up")
    load(*local, 2)
    load(*remote, 2)
    return interleave(
        ctx.rounds,
        [("local", lambda: load(*local, SECONDS)), ("s3", lambda: load(*remote, SECONDS))],
    )
