"""Part uploads over HTTP with curl: uploadcore's part endpoint against the yardstick app.

Both servers run side by side as `uvicorn --loop uvloop --http httptools`
with one worker. Each uploadcore run gets a fresh upload (initiated over HTTP
with an API key from `uploadcore users create`, untimed) and is aborted
afterwards (untimed); only the curl PUTs are timed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
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
    median_difference,
    median_ratio,
    progress,
    throughput,
)
from bench.servers import (
    PeakMemory,
    Server,
    clean_environment,
    free_port,
    rss_kib,
    uploadcore_server,
    yardstick_server,
)
from bench.yardstick import DIR_VARIABLE

PART_SIZE = 64 * MiB
CURL_TIMEOUT = 300  # seconds for one PUT; far beyond any healthy run
YARDSTICK_FACTORY = "bench.yardstick:app_from_environment"


@dataclass(frozen=True)
class Source:
    """A file of random bytes to send as a part body."""

    path: Path
    size: int
    md5: str

    @classmethod
    def make(cls, path: Path, size: int) -> Source:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("wb") as out:
            for _ in range(size // MiB):
                block = os.urandom(MiB)
                digest.update(block)
                out.write(block)
        return cls(path, size, digest.hexdigest())


@dataclass(frozen=True)
class Run:
    seconds: float
    memory_growth: int  # bytes of peak RSS over idle RSS in the server; 0 if not measured


@dataclass(frozen=True)
class _Put:
    source: Source
    url: str
    response: Path


class UploadRig:
    """Both servers, an API key and the source files under `root`; stops the servers on exit.

    The caller removes `root`.
    """

    def __init__(self, root: Path, sizes: tuple[int, ...]) -> None:
        self.root = root
        self.sources = {
            size: Source.make(root / f"source-{size // MiB}MiB.bin", size) for size in sizes
        }
        self._runs = 0
        data_dir = root / "uploadcore-data"
        self.yardstick_dir = root / "yardstick-out"
        self.yardstick_dir.mkdir()
        uploadcore_port, yardstick_port = free_port(), free_port()
        environ = clean_environment(
            {
                "UPLOADCORE_DATA_DIR": str(data_dir),
                "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{uploadcore_port}",
            }
        )
        self.api_key = _create_user(environ)
        self.uploadcore = uploadcore_server(environ, root / "uploadcore.log", uploadcore_port)
        try:
            self.yardstick = yardstick_server(
                "yardstick",
                YARDSTICK_FACTORY,
                clean_environment({DIR_VARIABLE: str(self.yardstick_dir)}),
                root / "yardstick.log",
                yardstick_port,
            )
        except BaseException:
            self.uploadcore.stop()
            raise

    def __enter__(self) -> UploadRig:
        try:
            self.uploadcore.wait_ready("/healthz")
            self.yardstick.wait_ready("/ping")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.uploadcore.stop()
        self.yardstick.stop()

    # -- one run each ---------------------------------------------------------

    def uploadcore_run(self, streams: int, size: int, *, memory: bool = False) -> Run:
        """`streams` parts of one fresh upload, PUT concurrently."""
        source = self.sources[size]
        file_id, urls = self._initiate(streams, size)
        puts = [
            _Put(source, url, self.root / f"response-{n}.json")
            for n, url in enumerate(urls, start=1)
        ]
        try:
            run = self._timed(self.uploadcore, puts, memory)
            for put in puts:
                body = json.loads(put.response.read_bytes())
                if body.get("etag") != source.md5:
                    raise BenchError(f"uploadcore answered {body}, expected etag {source.md5}")
        finally:
            self._request("DELETE", f"/v1/files/uploads/{file_id}/")
            os.sync()
        return run

    def yardstick_run(self, streams: int, size: int, *, memory: bool = False) -> Run:
        source = self.sources[size]
        self._runs += 1
        names = [f"r{self._runs}s{n}" for n in range(streams)]
        puts = [
            _Put(source, f"{self.yardstick.url}/upload/{name}", self.root / f"response-{n}.json")
            for n, name in enumerate(names)
        ]
        try:
            run = self._timed(self.yardstick, puts, memory)
            for put in puts:
                body = json.loads(put.response.read_bytes())
                if body.get("etag") != source.md5:
                    raise BenchError(f"the yardstick answered {body}, expected {source.md5}")
        finally:
            for name in names:
                (self.yardstick_dir / name).unlink(missing_ok=True)
            os.sync()
        return run

    def _timed(self, server: Server, puts: list[_Put], memory: bool) -> Run:
        server.check_alive()
        monitor = PeakMemory(server.pid) if memory else None
        with monitor if monitor is not None else contextlib.nullcontext():
            started = time.perf_counter()
            seconds = _curl_all(puts) - started
        return Run(seconds, monitor.growth if monitor is not None else 0)

    # -- the API --------------------------------------------------------------

    def _initiate(self, num_parts: int, part_size: int) -> tuple[str, list[str]]:
        body = {
            "file_name": "bench.bin",
            "file_size": num_parts * part_size,
            "file_content_type": "application/octet-stream",
            "num_parts": num_parts,
            "part_size": part_size,
        }
        answer = self._request("POST", "/v1/files/uploads/", body)
        urls = [_without_trailing_slash(u["url"]) for u in answer["presigned_urls"]]
        return str(answer["file_obj"]["id"]), urls

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        # Always http://127.0.0.1:PORT, our own server.
        request = urllib.request.Request(  # noqa: S310
            self.uploadcore.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None


def _create_user(environ: dict[str, str]) -> str:
    """`uploadcore users create bench` in the bench's data dir; the key is the last line."""
    command = Path(sys.executable).with_name("uploadcore")
    if not command.exists():
        raise BenchError(f"{command} is missing: install the project (make install)")
    done = subprocess.run(
        [str(command), "users", "create", "bench"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"uploadcore users create failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def _without_trailing_slash(url: str) -> str:
    """curl -T appends the file name to a path ending in '/'; the API takes both forms."""
    path, mark, query = url.partition("?")
    return path.rstrip("/") + mark + query


def _curl_command(put: _Put) -> list[str]:
    return [
        "curl", "-sS", "-g", "--max-time", str(CURL_TIMEOUT), "-T", str(put.source.path),
        "-H", "Expect:", "-o", str(put.response), "-w", "%{http_code}", put.url,
    ]  # fmt: skip


def _curl_all(puts: list[_Put]) -> float:
    """Start one curl per PUT at once, wait for all; returns perf_counter at the last exit."""
    processes = [
        subprocess.Popen(_curl_command(put), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for put in puts
    ]
    failures = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=CURL_TIMEOUT + 10)
            if process.returncode != 0 or out != b"200":
                failures.append(f"curl exit {process.returncode}, HTTP {out.decode()}: {err!r}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    ended = time.perf_counter()
    if failures:
        raise BenchError("a part upload failed: " + "; ".join(failures))
    return ended


# -- the benchmarks -------------------------------------------------------------


def _rig(ctx: Context, name: str, sizes: tuple[int, ...], needed: int) -> UploadRig:
    check_free_space(ctx.scratch, needed, name)
    root = ctx.scratch / name
    root.mkdir()
    return UploadRig(root, sizes)


def _throughput_row(ctx: Context, name: str, streams: int) -> Row:
    root = ctx.scratch / name
    try:
        with _rig(ctx, name, (PART_SIZE,), 2 * GiB) as rig:
            progress(f"{name}: warm-up")
            rig.uploadcore_run(streams, PART_SIZE)
            rig.yardstick_run(streams, PART_SIZE)
            figures = interleave(
                ctx.rounds,
                [
                    ("uploadcore", lambda: rig.uploadcore_run(streams, PART_SIZE).seconds),
                    ("yardstick", lambda: rig.yardstick_run(streams, PART_SIZE).seconds),
                ],
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    size = streams * PART_SIZE
    # Throughput ratio uploadcore/yardstick = yardstick time / uploadcore time, per pair.
    ratio = median_ratio(figures["yardstick"], figures["uploadcore"])
    target = TARGETS[streams]
    return Row(
        f"part upload, {streams} stream{'s' if streams > 1 else ''} x 64 MiB",
        f"{median(throughput(size, figures['uploadcore'])):.0f} MiB/s",
        f"{median(throughput(size, figures['yardstick'])):.0f} MiB/s",
        f"{ratio:.2f}x",
        f">= {target:.2f}x",
        ratio >= target,
    )


# uploadcore hashes on worker threads while the event loop receives; the yardstick
# does everything in turn on its event loop.
TARGETS = {1: 1.4, 4: 1.5}


def upload_1(ctx: Context) -> list[Row]:
    return [_throughput_row(ctx, "upload-1", 1)]


def upload_4(ctx: Context) -> list[Row]:
    return [_throughput_row(ctx, "upload-4", 4)]


MEMORY_LIMIT = 12 * MiB
MEMORY_SPREAD = 4 * MiB
IDLE_LIMIT = 45 * MiB


def memory(ctx: Context) -> list[Row]:
    """Server RSS growth over 4 concurrent part uploads (peak minus idle)."""
    name = "memory"
    big, small = 256 * MiB, 16 * MiB
    root = ctx.scratch / name
    try:
        with _rig(ctx, name, (PART_SIZE, big, small), 2 * GiB) as rig:
            # Just started, one /healthz answered: what a server costs before any upload.
            idle = {s.name: rss_kib(s.pid) * 1024 / MiB for s in (rig.uploadcore, rig.yardstick)}
            progress(f"{name}: idle RSS uploadcore {idle['uploadcore']:.1f} MiB, "
                     f"yardstick {idle['yardstick']:.1f} MiB")  # fmt: skip
            progress(f"{name}: warm-up")
            for size in (PART_SIZE, big, small):
                rig.uploadcore_run(4, size)
            rig.yardstick_run(4, PART_SIZE)

            def growth(run: Run) -> float:
                return run.memory_growth / MiB

            figures = interleave(
                ctx.rounds,
                [
                    ("uc64", lambda: growth(rig.uploadcore_run(4, PART_SIZE, memory=True))),
                    ("ys64", lambda: growth(rig.yardstick_run(4, PART_SIZE, memory=True))),
                    ("uc256", lambda: growth(rig.uploadcore_run(4, big, memory=True))),
                    ("uc16", lambda: growth(rig.uploadcore_run(4, small, memory=True))),
                ],
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    uc, ys = median(figures["uc64"]), median(figures["ys64"])
    comparable = all(v > 0 for v in figures["ys64"])
    spread = median_difference(figures["uc256"], figures["uc16"])
    return [
        Row(
            "memory: idle RSS after start-up (local storage)",
            f"{idle['uploadcore']:.1f} MiB",
            f"{idle['yardstick']:.1f} MiB",
            f"{idle['uploadcore'] / idle['yardstick']:.2f}x",
            "uploadcore <= 45 MiB",
            idle["uploadcore"] * MiB <= IDLE_LIMIT,
        ),
        Row(
            "memory, 4 streams x 64 MiB: peak-idle RSS",
            f"{uc:.1f} MiB",
            f"{ys:.1f} MiB",
            f"{median_ratio(figures['uc64'], figures['ys64']):.2f}x" if comparable else "-",
            "uploadcore <= 12 MiB",
            uc * MiB <= MEMORY_LIMIT,
        ),
        Row(
            "memory, 4 streams: 256 MiB parts vs 16 MiB",
            f"{median(figures['uc256']):.1f} MiB",
            f"{median(figures['uc16']):.1f} MiB",
            f"{spread:+.1f} MiB",
            "|difference| <= 4 MiB",
            abs(spread) * MiB <= MEMORY_SPREAD,
        ),
    ]
