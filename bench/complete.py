"""`POST .../complete/` of 1 GiB in 64 parts over HTTP, against the least any assembly does.

One `uploadcore serve` on a fresh data dir. Each round uploads a fresh upload's
64 parts of 16 MiB with curl (untimed; they stay warm in the page cache), then
runs three contenders over those same part files, one after the other, each
producing a durable 1 GiB file that is removed untimed (and the disk synced)
afterwards:

- copy_file_range: a plain `os.copy_file_range` loop over the parts (read in
  the server's part directory) into a new file, then fsync;
- cat: `cat parts > out && sync` in a shell;
- uploadcore: curl POSTing the completion, timed from curl's start to its exit:
  the API key and upload checks, the part list, the kernel copies, fsync,
  rename, directory fsync, the database update and the answer. Freeing the
  parts happens after the answer; the round waits (untimed) until they are
  gone before the next step.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.assembly import _cat_and_sync, _copy_file_range, _warm
from bench.details import _call
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
    wait_until,
)
from bench.servers import Server, clean_environment, free_port, uploadcore_server
from bench.uploads import _create_user

NUM_PARTS = 64
PART_SIZE = 16 * MiB
CURL_TIMEOUT = 300


class CompletionRig:
    """The server, an API key and one 16 MiB part body; one upload of 64 parts per round."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.body = root / "part.bin"
        block = os.urandom(PART_SIZE)
        self.body.write_bytes(block)
        self.etag = hashlib.md5(block, usedforsecurity=False).hexdigest()
        port = free_port()
        self.media = root / "data" / "media"
        self.environ = clean_environment(
            {"UPLOADCORE_DATA_DIR": str(root / "data"),
             "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{port}"}
        )  # fmt: skip
        self.key = _create_user(self.environ)
        self.server: Server = uploadcore_server(self.environ, root / "server.log", port)
        self.server.wait_ready("/healthz")
        self.file_id = ""
        self.sources: list[Path] = []

    def close(self) -> None:
        self.server.stop()

    def upload_parts(self) -> None:
        """A fresh upload with its 64 parts received (untimed)."""
        self.server.check_alive()
        answer = self._api("POST", "/v1/files/uploads/", {
            "file_name": "bench.bin", "file_size": NUM_PARTS * PART_SIZE,
            "file_content_type": "application/octet-stream",
            "num_parts": NUM_PARTS, "part_size": PART_SIZE,
        })  # fmt: skip
        self.file_id = str(answer["file_obj"]["id"])
        command = ["curl", "-sS", "-g", "--fail", "-H", "Expect:", "-o", "/dev/null"]
        for url in answer["presigned_urls"]:
            path, mark, query = url["url"].partition("?")
            command += ["-T", str(self.body), path.rstrip("/") + mark + query]
        subprocess.run(command, check=True, timeout=CURL_TIMEOUT, stdout=subprocess.DEVNULL)
        (part_dir,) = [p for p in (self.media / "temp_uploads").iterdir() if p.name[0] != "."]
        self.sources = sorted(p for p in part_dir.iterdir() if not p.name.startswith("."))
        if len(self.sources) != NUM_PARTS:
            raise BenchError(f"expected {NUM_PARTS} parts in {part_dir}, found {self.sources}")
        os.sync()
        _warm(self.sources)

    def complete(self) -> float:
        """Seconds from curl's start to its exit, for the completion of this round's upload."""
        body = {"parts": [{"part_number": n, "etag": self.etag} for n in range(1, 65)]}
        command = [
            "curl", "-sS", "--fail", "-X", "POST", "-H", f"Authorization: Bearer {self.key}",
            "-H", "Content-Type: application/json", "--data-binary", json.dumps(body),
            f"{self.server.url}/v1/files/uploads/{self.file_id}/complete/",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False, timeout=CURL_TIMEOUT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise BenchError(f"the completion failed: {done.stderr.decode(errors='replace')}")
        answer = json.loads(done.stdout)
        if answer.get("upload_status") != "completed" or answer.get("file_size") != GiB:
            raise BenchError(f"the completion answered {answer}")
        final = self.media / "files" / self.file_id[:2] / self.file_id
        if final.stat().st_size != GiB:
            raise BenchError(f"{final} is not 1 GiB")
        # Untimed: the parts leave in the background; the next contender must not share
        # the disk with that, nor with this file's removal.
        trash = self.media / "temp_uploads"
        wait_until(lambda: not any(trash.iterdir()), 120, "the completed upload's parts to go")
        final.unlink()
        os.sync()
        return seconds

    def plain(self, action: str) -> float:
        target = self.root / f"{action}.out"
        os.sync()
        started = time.perf_counter()
        if action == "copy_file_range":
            _copy_file_range(self.sources, target)
        else:
            _cat_and_sync(self.sources, target)
        seconds = time.perf_counter() - started
        size = target.stat().st_size
        target.unlink()
        os.sync()
        if size != GiB:
            raise BenchError(f"{action} wrote {size} bytes, not 1 GiB")
        return seconds

    def _api(self, method: str, path: str, body: Any) -> Any:
        return _call(self.server.url, self.key, method, path, body)


def complete(ctx: Context) -> list[Row]:
    check_free_space(ctx.scratch, 3 * GiB, "complete")
    root = ctx.scratch / "complete"
    root.mkdir()
    try:
        rig = CompletionRig(root)
        try:

            def with_parts(contender: str) -> float:
                """Each round's first contender uploads the parts all three use."""
                if contender == "copy_file_range":
                    rig.upload_parts()
                if contender == "uploadcore":
                    return rig.complete()
                return rig.plain(contender)

            progress("complete: warm-up")
            for name in ("copy_file_range", "cat", "uploadcore"):
                with_parts(name)
            figures = interleave(
                ctx.rounds,
                [
                    ("copy_file_range", lambda: with_parts("copy_file_range")),
                    ("cat", lambda: with_parts("cat")),
                    ("uploadcore", lambda: with_parts("uploadcore")),
                ],
            )
        finally:
            rig.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ours = median(figures["uploadcore"])
    versus_copy = median_ratio(figures["uploadcore"], figures["copy_file_range"])
    versus_cat = median_ratio(figures["uploadcore"], figures["cat"])
    name = "POST complete, 1 GiB / 64 parts, HTTP"
    return [
        Row(
            f"{name}, vs copy_file_range+fsync",
            f"{ours:.3f} s",
            f"{median(figures['copy_file_range']):.3f} s",
            f"{versus_copy:.2f}x",
            "<= 1.15x",
            versus_copy <= 1.15,
        ),
        Row(
            f"{name}, vs cat > out && sync",
            f"{ours:.3f} s",
            f"{median(figures['cat']):.3f} s",
            f"{versus_cat:.2f}x",
            "<= 1.25x",
            versus_cat <= 1.25,
        ),
    ]
