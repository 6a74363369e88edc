"""`uploadcore upload` of 1 GiB with `--parallel 4`, against curl sending the same parts in turn.

Both send the 128 parts of 8 MiB (the client's default plan for 1 GiB) to the
same server (`uvicorn --factory ...app_from_environment`, as `uploadcore serve`
runs it, one worker) and complete the upload, which assembles the 1 GiB file:

- uploadcore: the whole `uploadcore upload FILE --parallel 4 --json` process
  (start-up, initiate, the parts four at a time streamed from the file, complete);
- curl: one `curl` process PUTting the parts one after the other on one
  connection (`-T part -H 'Expect:' URL`, repeated), then `curl` POSTing the
  completion. Its initiate is untimed, and its parts are pre-split files.

Figure: throughput in MiB/s (1 GiB over the time from start to exit). The
client's peak RSS (GNU time's %M) is reported against curl's: the file
is streamed, never held whole. Each run's final file is checked (its etag is
the multipart etag of the parts' MD5s) and deleted untimed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

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
    throughput,
)
from bench.processes import Measured, run_measured
from bench.servers import clean_environment, free_port, uploadcore_server
from bench.uploads import _create_user
from uploadcore.domain.parts import multipart_etag

FILE_SIZE = 1 * GiB
PART_SIZE = 8 * MiB  # what `uploadcore upload` plans for 1 GiB
NUM_PARTS = FILE_SIZE // PART_SIZE
PARALLEL = 4
RUN_TIMEOUT = 600
UPLOADCORE = Path(sys.executable).with_name("uploadcore")


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[Measured, str]:
    run = run_measured(command, env)
    return run, run.stdout


class Rig:
    """A server, an API key, the 1 GiB source and its parts as files (for curl)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "source.bin"
        self.parts_dir = root / "parts"
        self.parts_dir.mkdir()
        self.md5s = self._make_source()
        self.expected_etag = multipart_etag(self.md5s)
        port = free_port()
        self.data_dir = root / "data"
        self.environ = clean_environment(
            {"UPLOADCORE_DATA_DIR": str(self.data_dir),
             "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{port}"}
        )  # fmt: skip
        self.key = _create_user(self.environ)
        self.server = uploadcore_server(self.environ, root / "server.log", port)
        self.server.wait_ready("/healthz")

    def _make_source(self) -> list[str]:
        md5s = []
        with self.source.open("wb") as out:
            for n in range(1, NUM_PARTS + 1):
                block = os.urandom(PART_SIZE)
                out.write(block)
                (self.parts_dir / f"{n:05d}").write_bytes(block)
                md5s.append(hashlib.md5(block, usedforsecurity=False).hexdigest())
        return md5s

    def close(self) -> None:
        self.server.stop()

    # -- the contenders ---------------------------------------------------------

    def uploadcore_run(self) -> Measured:
        self.server.check_alive()
        command = [
            str(UPLOADCORE), "upload", str(self.source), "--url", self.server.url,
            "--parallel", str(PARALLEL), "--json",
        ]  # fmt: skip
        run, stdout = _timed(command, {**self.environ, "UPLOADCORE_API_KEY": self.key})
        self._check_and_clean(json.loads(stdout))
        return run

    def curl_run(self) -> Measured:
        self.server.check_alive()
        answer = self._api("POST", "/v1/files/uploads/", {
            "file_name": "source.bin", "file_size": FILE_SIZE,
            "file_content_type": "application/octet-stream",
            "num_parts": NUM_PARTS, "part_size": PART_SIZE,
        })  # fmt: skip
        file_id = answer["file_obj"]["id"]
        completion = self.root / "complete.json"
        parts = [{"part_number": n, "etag": md5} for n, md5 in enumerate(self.md5s, 1)]
        completion.write_text(json.dumps({"parts": parts}))
        command = ["curl", "-sS", "-g", "--fail", "-H", "Expect:", "-o", "/dev/null"]
        for url in answer["presigned_urls"]:
            n = url["part_number"]
            command += ["-T", str(self.parts_dir / f"{n:05d}"), _bare(url["url"])]
        parts_run, _ = _timed(command)
        complete = [
            "curl", "-sS", "--fail", "-X", "POST", "-H", f"Authorization: Bearer {self.key}",
            "-H", "Content-Type: application/json", "--data-binary", f"@{completion}",
            f"{self.server.url}/v1/files/uploads/{file_id}/complete/",
        ]  # fmt: skip
        complete_run, stdout = _timed(complete)
        self._check_and_clean(json.loads(stdout))
        return Measured(parts_run.seconds + complete_run.seconds, parts_run.peak_rss, "")

    # -- helpers ------------------------------------------------------------------

    def _check_and_clean(self, file: dict[str, Any]) -> None:
        if file.get("etag") != self.expected_etag or file.get("file_size") != FILE_SIZE:
            raise BenchError(f"the uploaded file is not the source: {file}")
        file_id = str(file["id"])
        (self.data_dir / "media" / "files" / file_id[:2] / file_id).unlink()
        os.sync()

    def _api(self, method: str, path: str, body: Any) -> Any:
        request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
            self.server.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read())


def _bare(url: str) -> str:
    """curl -T appends the file name to a path ending in '/'; the API takes both forms."""
    path, mark, query = url.partition("?")
    return path.rstrip("/") + mark + query


def client_upload(ctx: Context) -> list[Row]:
    if not UPLOADCORE.exists():
        raise BenchError(f"{UPLOADCORE} is missing: install the project (make install)")
    check_free_space(ctx.scratch, 5 * GiB, "client-upload")
    root = ctx.scratch / "client-upload"
    root.mkdir()
    runs: dict[str, list[Measured]] = {"uploadcore": [], "curl": []}

    def measure(name: str, run: Measured) -> float:
        runs[name].append(run)
        return run.seconds

    try:
        progress("client-upload: writing 1 GiB of random data")
        rig = Rig(root)
        try:
            progress("client-upload: warm-up")
            rig.uploadcore_run()
            rig.curl_run()
            figures = interleave(
                ctx.rounds,
                [
                    ("uploadcore", lambda: measure("uploadcore", rig.uploadcore_run())),
                    ("curl", lambda: measure("curl", rig.curl_run())),
                ],
            )
        finally:
            rig.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = median_ratio(figures["curl"], figures["uploadcore"])  # throughput ratio
    ours_rss = median([r.peak_rss / MiB for r in runs["uploadcore"]])
    curl_rss = median([r.peak_rss / MiB for r in runs["curl"]])
    return [
        Row(
            "upload 1 GiB, 128 x 8 MiB: --parallel 4 vs curl in turn",
            f"{median(throughput(FILE_SIZE, figures['uploadcore'])):.0f} MiB/s",
            f"{median(throughput(FILE_SIZE, figures['curl'])):.0f} MiB/s",
            f"{ratio:.2f}x",
            ">= 1.00x",
            ratio >= 1.0,
        ),
        Row(
            "upload 1 GiB: client peak RSS",
            f"{ours_rss:.0f} MiB",
            f"{curl_rss:.0f} MiB",
            "-",
            "uploadcore <= 128 MiB",
            ours_rss <= 128,
        ),
    ]
