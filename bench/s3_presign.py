"""Initiating an upload of 10,000 parts on S3, measured in-process.

uploadcore: `InitiateUpload` (`core.initiate`) on the real adapters (SQLite database,
`S3BlobStore` on the one boto3 client `bootstrap.s3_client` builds, against
moto's server on 127.0.0.1), plus rendering the 201 body the way the route
does, minus the time spent in the `CreateMultipartUpload` round trip (timed
around that one client call): 10,000 presigned `UploadPart` URLs, each
signing its part's Content-Length.

Yardstick: 10,000 `generate_presigned_url('upload_part', ...)` calls on the
same reused client, with the same bucket, key, upload id and Content-Lengths:
the naive loop, and nothing else (no database, no JSON).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from moto.server import ThreadedMotoServer

from bench.harness import (
    BenchError,
    Context,
    GiB,
    MiB,
    Row,
    interleave,
    median,
    median_ratio,
    progress,
)
from uploadcore.bootstrap import build, prepare, s3_blob_store, s3_client
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.initiate import NewUpload
from uploadcore.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NUM_PARTS = 10_000
PART_SIZE = 5 * MiB
LAST_PART = 1234
BUCKET = "uploadcore-bench"
TARGET = 0.35
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


class TimedClient:
    """The boto3 client, with the time spent in CreateMultipartUpload added up."""

    def __init__(self, client: S3Client) -> None:
        self.client = client
        self.create_seconds = 0.0

    def create_multipart_upload(self, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.client.create_multipart_upload(**kwargs)
        finally:
            self.create_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@contextmanager
def _fake_credentials() -> Iterator[None]:
    """boto3's usual chain finds these, and no profile of this machine."""
    saved = {name: os.environ.get(name) for name in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _moto_server() -> Iterator[str]:
    """moto's S3 on 127.0.0.1, a free port, without its request log on stderr."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


def s3_presign(ctx: Context) -> list[Row]:
    root = ctx.scratch / "s3-presign"
    root.mkdir()
    try:
        with _fake_credentials(), _moto_server() as endpoint:
            figures = _measure(ctx, root, endpoint)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = median_ratio(figures["uploadcore"], figures["yardstick"])
    return [
        Row(
            "in-process: initiate 10,000 parts on S3 (presign)",
            f"{median(figures['uploadcore']) * 1000:.0f} ms",
            f"{median(figures['yardstick']) * 1000:.0f} ms",
            f"{ratio:.2f}x",
            f"<= {TARGET:.2f}x",
            ratio <= TARGET,
        )
    ]


def _measure(ctx: Context, root: Path, endpoint: str) -> dict[str, list[float]]:
    settings = prepare(
        Settings(
            data_dir=root,
            upload_storage_handler="s3",
            aws_storage_bucket_name=BUCKET,
            aws_s3_endpoint_url=endpoint,
            max_file_upload_size=64 * GiB,
        )
    )
    client = s3_client(settings)
    client.create_bucket(Bucket=BUCKET)
    timed = TimedClient(client)
    store = s3_blob_store(settings, cast("S3Client", timed))
    core = build(settings, blobs=store)
    principal = Principal("bench")
    request = NewUpload(
        file_name="bench.bin",
        file_size=(NUM_PARTS - 1) * PART_SIZE + LAST_PART,
        file_content_type="application/octet-stream",
        num_parts=NUM_PARTS,
        part_size=PART_SIZE,
    )
    expires_in = core.policy.url_expires_in_seconds
    last: dict[str, str] = {}

    def ours() -> float:
        timed.create_seconds = 0.0
        started = time.perf_counter()
        initiated = core.initiate(principal, request, HttpLinks("http://127.0.0.1:8000"))
        JsonResponse(schemas.initiated_json(initiated), status_code=201)
        seconds = time.perf_counter() - started - timed.create_seconds
        if len(initiated.presigned_urls) != NUM_PARTS or store.presigner._warned:
            raise BenchError("initiate did not presign one fast URL per part")
        last.update(key=initiated.upload.storage_key, upload_id=initiated.upload.upload_id)
        core.abort(principal, initiated.upload.id)  # untimed: frees the multipart upload
        return seconds

    def theirs() -> float:
        started = time.perf_counter()
        for number in range(1, NUM_PARTS + 1):
            client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": BUCKET,
                    "Key": last["key"],
                    "UploadId": last["upload_id"],
                    "PartNumber": number,
                    "ContentLength": PART_SIZE if number < NUM_PARTS else LAST_PART,
                },
                ExpiresIn=expires_in,
            )
        return time.perf_counter() - started

    try:
        progress("s3-presign: warm-up")
        ours()
        theirs()
        return interleave(ctx.rounds, [("uploadcore", ours), ("yardstick", theirs)])
    finally:
        core.close()
