"""The command line: choose benchmarks, run them, print one table."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.assembly import assembly
from bench.client_upload import client_upload
from bench.complete import complete
from bench.details import details
from bench.gc import gc
from bench.harness import BenchError, Context, Row, format_table, progress
from bench.initiate import initiate
from bench.initiate_http import initiate_http
from bench.listing import listing
from bench.resume import resume
from bench.s3_listing import s3_listing
from bench.s3_presign import s3_presign
from bench.uploads import memory, upload_1, upload_4

BENCHMARKS: dict[str, tuple[Callable[[Context], list[Row]], str]] = {
    "upload-1": (upload_1, "one 64 MiB part PUT vs the yardstick endpoint (throughput)"),
    "upload-4": (upload_4, "four concurrent 64 MiB part PUTs vs the yardstick (throughput)"),
    "memory": (memory, "server peak-minus-idle RSS over four concurrent part PUTs"),
    "complete": (
        complete,
        "POST complete of 64 x 16 MiB parts over HTTP vs copy_file_range and cat && sync",
    ),
    "assembly": (
        assembly,
        "in-process diagnosis: LocalDiskBlobStore.assemble vs copy_file_range and cat && sync",
    ),
    "initiate-http": (
        initiate_http,
        "POST initiate with 10,000 parts over HTTP vs a bare endpoint signing 10,000 URLs",
    ),
    "initiate": (initiate, "initiate with 10,000 parts vs signing 10,000 tokens + json.dumps"),
    "s3-presign": (
        s3_presign,
        "initiate with 10,000 parts on S3 vs 10,000 generate_presigned_url calls",
    ),
    "s3-listing": (
        s3_listing,
        "GET /v1/files/?limit=1000 req/s (wrk) on S3 storage vs local storage",
    ),
    "client-upload": (
        client_upload,
        "`uploadcore upload` of 1 GiB, --parallel 4, vs curl sending the parts in turn",
    ),
    "gc": (gc, "`uploadcore gc` over 100,000 expired uploads vs one SQL UPDATE; peak RSS"),
    "listing": (listing, "a list page 90,000 rows deep vs the first page, 100,000 files"),
    "details": (details, "GET /v1/files/{id}/ req/s (wrk) vs a bare Starlette JSON endpoint"),
    "resume": (resume, "GET /v1/files/uploads/{id}/ req/s (wrk) vs a bare ORM primary-key read"),
}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="uploadcore benchmarks; every figure is compared with a yardstick "
        "measured in the same run, interleaved round by round.",
        epilog="benchmarks: "
        + "; ".join(f"{name}: {about}" for name, (_, about) in BENCHMARKS.items()),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per benchmark (default 5)"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="scratch directory (default: a new one in /tmp)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 if every target passed, 1 if one missed, 2 if a benchmark failed."""
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.list:
        for name, (_, about) in BENCHMARKS.items():
            print(f"{name:10} {about}")
        return 0
    names = args.names or list(BENCHMARKS)
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="uploadcore-bench-", dir=args.dir))
    rows: list[Row] = []
    errors: list[str] = []
    try:
        for name in names:
            progress(f"== {name} ({args.rounds} rounds)")
            try:
                rows += BENCHMARKS[name][0](Context(args.rounds, scratch))
            except (BenchError, OSError) as failure:
                errors.append(f"{name}: {failure}")
                progress(f"{name} failed: {failure}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(format_table(rows))
    for message in errors:
        print(f"error: {message}")
    if errors:
        return 2
    return 0 if all(row.passed is not False for row in rows) else 1
