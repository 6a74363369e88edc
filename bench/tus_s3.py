"""tus on S3 through `uploadcore serve` against presigned part PUTs straight to the bucket.

`python -m bench.tus_s3 --endpoint URL [--mib 1024] [--chunk-mib 8] [--rounds 3]
[--rss-mib 256] [--dir DIR]`

For an S3-compatible endpoint you run (MinIO, Ceph RGW: `.ci/rgw-start`),
credentials from boto3's usual chain (`AWS_ACCESS_KEY_ID`, ...). A new
bucket is made and dropped. The same `uploadcore serve` (storage `s3`) takes:

- **tus on S3**: a tus upload in `--chunk-mib` MiB PATCHes; every byte goes
  through the service, is staged on its disk and sent on as multipart parts;
- **parts on S3**: the same bytes as REST parts of `--chunk-mib` MiB, each PUT
  to its presigned URL straight to the bucket (the service is not in the data path).

Rounds alternate the two, deleting each file untimed; then four tus uploads of
`--rss-mib` MiB at once, with the server's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx2

from bench.harness import interleave, median, median_ratio, throughput
from bench.servers import HOST, clean_environment, free_port
from bench.tus_throughput import (
    MiB,
    Process,
    concurrently,
    part_upload,
    timed,
    tus_upload,
    uploadcore_command,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-mib", type=int, default=256)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1")
    bucket = f"tus-bench-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    root = Path(tempfile.mkdtemp(prefix="tus-s3-bench-", dir=args.dir))
    try:
        run(args, root, bucket)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for found in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=found["Key"])
        s3.delete_bucket(Bucket=bucket)


def run(args: argparse.Namespace, root: Path, bucket: str) -> None:
    chunk, data = args.chunk_mib * MiB, os.urandom(args.mib * MiB)
    environ = clean_environment({
        "UPLOADCORE_DATA_DIR": str(root / "uploadcore"),
        "UPLOADCORE_UPLOAD_STORAGE_HANDLER": "s3",
        "UPLOADCORE_AWS_STORAGE_BUCKET_NAME": bucket,
        "UPLOADCORE_AWS_S3_ENDPOINT_URL": args.endpoint,
    })  # fmt: skip
    command = uploadcore_command()
    created = subprocess.run([*command, "users", "create", "bench"], env=environ,
                             capture_output=True, text=True, check=True)  # fmt: skip
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    port = free_port()
    url = f"http://{HOST}:{port}"
    serve = [*command, "serve", "--host", HOST, "--port", str(port)]
    server = Process("uploadcore serve", serve, environ, root / "uploadcore.log")
    try:
        server.wait_ready(url + "/v1/tus/")
        with httpx2.Client(base_url=url, timeout=600, trust_env=False) as http:

            def delete(location: str) -> None:
                http.delete(location.replace("/v1/tus/", "/v1/files/") + "/", headers=auth)

            tus, parts = tus_upload("/v1/tus/", auth, chunk), part_upload(auth, chunk)
            contenders: list[tuple[str, Callable[[], float]]] = [
                ("tus on S3", lambda: timed(http, tus, data, delete)),
                ("parts on S3", lambda: timed(http, parts, data, delete)),
            ]
            for _, warm_up in contenders:
                warm_up()
            seconds = interleave(args.rounds, contenders)
        speed = {name: throughput(len(data), s) for name, s in seconds.items()}
        print(f"{args.mib} MiB in {args.chunk_mib} MiB requests to S3 at {args.endpoint}, "
              f"{args.rounds} rounds (median MiB/s):")  # fmt: skip
        for name, figures in speed.items():
            print(f"  {name:12} {median(figures):7.0f}   rounds: "
                  + ", ".join(f"{f:.0f}" for f in figures))  # fmt: skip
        ratio = median_ratio(speed["tus on S3"], speed["parts on S3"])
        print(f"  tus / presigned parts   {ratio:.2f}x")
        idle, peak = concurrently(url, tus, data[: args.rss_mib * MiB], server.process.pid)
        grew = (peak - idle) // 1024
        print(f"RSS of uploadcore during 4 concurrent {args.rss_mib} MiB tus uploads to S3: "
              f"{idle // 1024} MiB idle, {peak // 1024} MiB peak (+{grew} MiB)")  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
