"""Assembly of 1 GiB from 64 committed parts of 16 MiB, durable, parts warm in the page cache.

Three contenders, interleaved, each writing a fresh 1 GiB file that is
removed (and the disk synced) untimed afterwards:

- uploadcore: `LocalDiskBlobStore.assemble` called directly on a store that
  holds the 64 parts (temp file, kernel copies, fsync, rename, directory fsync);
- copy_file_range: a plain `os.copy_file_range` loop over the same parts, then fsync;
- cat: `cat parts > out && sync` in a shell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import (
    BenchError,
    Context,
    GiB,
    MiB,
    Row,
    check_free_space,
    interleave,
    median,
    median_ratio,
    progress,
)
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus

NUM_PARTS = 64
PART_SIZE = 16 * MiB
FILE_ID = "0123456789abcdef0123456789abcdef"
CAT_TIMEOUT = 300


def _committed_parts(store: LocalDiskBlobStore) -> tuple[Upload, list[ReceivedPart]]:
    """An uploading upload whose 64 parts the store holds, written through its own writer."""
    prepared = store.prepare(FILE_ID, "application/octet-stream")
    now = datetime.now(UTC)
    upload = Upload(
        id=FILE_ID,
        upload_id=prepared.upload_id,
        storage_key=prepared.storage_key,
        owner="bench",
        file_name="bench.bin",
        file_content_type="application/octet-stream",
        plan=PartPlan(NUM_PARTS * PART_SIZE, NUM_PARTS, PART_SIZE),
        status=UploadStatus.UPLOADING,
        created=now,
        modified=now,
        expires_at=now + timedelta(days=1),
    )
    block = bytearray(os.urandom(PART_SIZE))
    parts = []
    for number in range(1, NUM_PARTS + 1):
        block[:8] = number.to_bytes(8, "big")  # every part differs
        writer = store.open_part(upload, number)
        writer.write(block)
        parts.append(writer.commit())
    return upload, parts


def _warm(paths: list[Path]) -> None:
    """Read every part once so the timed runs find them in the page cache."""
    for path in paths:
        with path.open("rb") as source:
            while source.read(8 * MiB):  # ends at the part's end
                pass


def _copy_file_range(sources: list[Path], target: Path) -> None:
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        for path in sources:
            src = os.open(path, os.O_RDONLY)
            try:
                remaining = os.fstat(src).st_size
                while remaining > 0:  # each call copies at least one byte, or we stop
                    copied = os.copy_file_range(src, out, remaining)
                    if copied <= 0:
                        raise BenchError(f"copy_file_range stopped early on {path}")
                    remaining -= copied
            finally:
                os.close(src)
        os.fsync(out)
    finally:
        os.close(out)


def _cat_and_sync(sources: list[Path], target: Path) -> None:
    subprocess.run(
        ["sh", "-c", 'out="$1"; shift; cat "$@" > "$out" && sync', "sh", str(target)]
        + [str(p) for p in sources],
        check=True,
        timeout=CAT_TIMEOUT,
    )


def assembly(ctx: Context) -> list[Row]:
    check_free_space(ctx.scratch, 3 * GiB, "assembly")
    root = ctx.scratch / "assembly"
    root.mkdir()
    try:
        store = LocalDiskBlobStore(root / "media")
        progress("assembly: writing 64 parts of 16 MiB")
        upload, parts = _committed_parts(store)
        part_dir = store.temp_dir(upload.upload_id)
        sources = sorted(p for p in part_dir.iterdir() if not p.name.startswith("."))
        if len(sources) != NUM_PARTS:
            raise BenchError(f"expected {NUM_PARTS} parts in {part_dir}, found {len(sources)}")
        _warm(sources)
        final = store.path_of(upload.storage_key)
        plain = root / "copy_file_range.out"
        catted = root / "cat.out"

        def timed(action: str, target: Path) -> float:
            os.sync()
            started = time.perf_counter()
            if action == "uploadcore":
                store.assemble(upload, parts)
            elif action == "copy_file_range":
                _copy_file_range(sources, target)
            else:
                _cat_and_sync(sources, target)
            seconds = time.perf_counter() - started
            size = target.stat().st_size
            target.unlink()
            os.sync()
            if size != NUM_PARTS * PART_SIZE:
                raise BenchError(f"{action} wrote {size} bytes, not {NUM_PARTS * PART_SIZE}")
            return seconds

        progress("assembly: warm-up")
        timed("uploadcore", final)
        timed("copy_file_range", plain)
        timed("cat", catted)
        figures = interleave(
            ctx.rounds,
            [
                ("uploadcore", lambda: timed("uploadcore", final)),
                ("copy_file_range", lambda: timed("copy_file_range", plain)),
                ("cat", lambda: timed("cat", catted)),
            ],
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ours = median(figures["uploadcore"])
    versus_copy = median_ratio(figures["uploadcore"], figures["copy_file_range"])
    versus_cat = median_ratio(figures["uploadcore"], figures["cat"])
    return [
        Row(
            "in-process: assemble 1 GiB / 64 parts vs copy_file_range+fsync",
            f"{ours:.3f} s",
            f"{median(figures['copy_file_range']):.3f} s",
            f"{versus_copy:.2f}x",
            "(info)",
            None,
        ),
        Row(
            "in-process: assemble 1 GiB / 64 parts vs cat > out && sync",
            f"{ours:.3f} s",
            f"{median(figures['cat']):.3f} s",
            f"{versus_cat:.2f}x",
            "(info)",
            None,
        ),
    ]
