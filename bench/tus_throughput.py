"""tus through `uploadcore serve`: against its own part PUTs, against @tus/server, and its RSS.

`python -m bench.tus_throughput [--mib 1024] [--chunk-mib 8] [--rounds 3] [--rss-mib 512]
[--dir DIR]`

Three contenders on 127.0.0.1, local disk, one process each, the same client
(httpx2, one request at a time, the bytes from memory):

- **tus**: `uploadcore serve` (as the README starts it, one worker; the key
  from `uploadcore users create`), a tus upload of `--mib` MiB in
  `--chunk-mib` MiB PATCHes: creation, PATCHes, until the PATCH that
  completes the file answers (each PATCH fsynced before it is answered).
- **parts**: the same server, the same bytes as REST parts of `--chunk-mib`
  MiB: initiate, one PUT per part, complete (the assembly's kernel copy included).
- **@tus/server**: @tus/server with @tus/file-store (pinned in
  bench/tus_node/package-lock.json; `npm ci --prefix bench/tus_node`), the
  same tus upload. Its file store does not fsync: a PATCH's 204 there does not
  mean the bytes survive a power cut.

Rounds run the three back to back (tus, parts, @tus/server, tus, ...), each
file deleted and `os.sync()` untimed between; the ratios are the median of
the per-round ratios. Then four tus uploads of `--rss-mib` MiB at once,
first to uploadcore then to @tus/server, while each server's peak RSS is read
(VmHWM after resetting it; see `PeakMemory`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

from bench.harness import BenchError, interleave, median, median_ratio, throughput, wait_until
from bench.servers import HOST, PeakMemory, clean_environment, free_port

MiB = 1024 * 1024
TUS_NODE = Path(__file__).resolve().parent / "tus_node"
Upload = Callable[[httpx2.Client, bytes], str]  # uploads, returns what to delete afterwards


class Process:
    """A server in a child process, stopped by its process id."""

    def __init__(self, name: str, command: list[str], environ: dict[str, str], log: Path) -> None:
        self.name, self._log_path = name, log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, env=environ, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, url: str) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited at start; see {self._log_path}")
            try:
                return httpx2.options(url, timeout=2, trust_env=False).status_code < 500
            except httpx2.TransportError:
                return False

        wait_until(answers, 30, f"{self.name} to answer {url}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self._log.close()


def uploadcore_command() -> list[str]:
    """The `uploadcore` command beside this Python (the README's `.venv/bin/uploadcore`)."""
    script = Path(sys.executable).with_name("uploadcore")
    if not script.exists():
        raise BenchError(f"{script} is missing: pip install -e . in this environment")
    return [str(script)]


def tus_upload(prefix: str, auth: dict[str, str], chunk: int) -> Upload:
    def upload(http: httpx2.Client, data: bytes) -> str:
        tus = {**auth, "Tus-Resumable": "1.0.0"}
        created = http.post(prefix, headers={**tus, "Upload-Length": str(len(data))})
        if created.status_code != 201:
            raise BenchError(f"tus creation: {created.status_code} {created.text}")
        location = created.headers["location"]
        for offset in range(0, len(data), chunk):
            headers = {**tus, "Content-Type": "application/offset+octet-stream",
                       "Upload-Offset": str(offset)}  # fmt: skip
            answer = http.patch(location, headers=headers, content=data[offset : offset + chunk])
            if answer.status_code != 204:
                raise BenchError(f"PATCH at {offset}: {answer.status_code} {answer.text}")
        return location

    return upload


def part_upload(auth: dict[str, str], chunk: int) -> Upload:
    def upload(http: httpx2.Client, data: bytes) -> str:
        count = -(-len(data) // chunk)
        new = {"file_name": "x.bin", "file_size": len(data), "num_parts": count,
               "file_content_type": "application/x", "part_size": chunk}  # fmt: skip
        started = http.post("/v1/files/uploads/", headers=auth, json=new).json()
        refs = []
        for n, url in enumerate(started["presigned_urls"]):
            answer = http.put(url["url"], content=data[n * chunk : (n + 1) * chunk])
            if answer.status_code != 200:
                raise BenchError(f"part {n + 1}: {answer.status_code} {answer.text[:200]}")
            if answer.headers.get("content-type", "").startswith("application/json"):
                etag = answer.json()["etag"]
            else:  # S3 answers a presigned PUT with the ETag header alone
                etag = answer.headers["etag"].strip('"')
            refs.append({"part_number": n + 1, "etag": etag})
        file_id = started["file_obj"]["id"]
        done = http.post(f"/v1/files/uploads/{file_id}/complete/", headers=auth,
                         json={"parts": refs})  # fmt: skip
        if done.status_code != 200:
            raise BenchError(f"complete: {done.status_code} {done.text}")
        return f"/v1/files/{file_id}/"

    return upload


def timed(http: httpx2.Client, upload: Upload, data: bytes, delete: Callable[[str], None]) -> float:
    os.sync()
    began = time.perf_counter()
    made = upload(http, data)
    took = time.perf_counter() - began
    delete(made)
    return took


def concurrently(url: str, upload: Upload, data: bytes, pid: int) -> tuple[int, int]:
    """Four uploads at once; the server's idle RSS and its peak during them (KiB)."""
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with httpx2.Client(base_url=url, timeout=600, trust_env=False) as http:
                upload(http, data)
        except BaseException as error:  # reported below
            errors.append(error)

    with PeakMemory(pid) as memory:
        workers = [threading.Thread(target=one) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return memory.idle_kib, memory.idle_kib + memory.growth // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-mib", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    if not (TUS_NODE / "node_modules" / "@tus" / "server").is_dir():
        raise SystemExit("@tus/server is not installed: npm ci --prefix bench/tus_node")
    root = Path(tempfile.mkdtemp(prefix="tus-bench-", dir=args.dir))
    try:
        run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path) -> None:
    chunk, data = args.chunk_mib * MiB, os.urandom(args.mib * MiB)
    environ = clean_environment({"UPLOADCORE_DATA_DIR": str(root / "uploadcore")})
    command = uploadcore_command()
    created = subprocess.run([*command, "users", "create", "bench"], env=environ,
                             capture_output=True, text=True, check=True)  # fmt: skip
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    port, node_port = free_port(), free_port()
    url, node_url = f"http://{HOST}:{port}", f"http://{HOST}:{node_port}"
    (root / "node").mkdir()
    serve = [*command, "serve", "--host", HOST, "--port", str(port)]
    ours = Process("uploadcore serve", serve, environ, root / "uploadcore.log")
    node_env = {**os.environ, "PORT": str(node_port), "DIR": str(root / "node")}
    node = Process("@tus/server", ["node", str(TUS_NODE / "server.mjs")], node_env,
                   root / "node.log")  # fmt: skip
    try:
        ours.wait_ready(url + "/v1/tus/")
        node.wait_ready(node_url + "/files/")
        compare(args, data, chunk, auth, url, node_url, root, ours, node)
    finally:
        ours.stop()
        node.stop()


def compare(
    args: argparse.Namespace, data: bytes, chunk: int, auth: dict[str, str], url: str,
    node_url: str, root: Path, ours: Process, node: Process,
) -> None:  # fmt: skip
    with (
        httpx2.Client(base_url=url, timeout=600, trust_env=False) as http,
        httpx2.Client(base_url=node_url, timeout=600, trust_env=False) as node_http,
    ):

        def delete_ours(location: str) -> None:
            http.delete(location.replace("/v1/tus/", "/v1/files/") + "/", headers=auth)

        def delete_node(location: str) -> None:
            node_http.delete(location, headers={"Tus-Resumable": "1.0.0"})

        ours_tus = tus_upload("/v1/tus/", auth, chunk)
        node_tus = tus_upload("/files/", {}, chunk)
        contenders: list[tuple[str, Callable[[], float]]] = [
            ("tus", lambda: timed(http, ours_tus, data, delete_ours)),
            ("parts", lambda: timed(http, part_upload(auth, chunk), data, delete_ours)),
            ("@tus/server", lambda: timed(node_http, node_tus, data, delete_node)),
        ]
        for _, warm_up in contenders:
            warm_up()
        seconds = interleave(args.rounds, contenders)
    size = len(data)
    speed = {name: throughput(size, s) for name, s in seconds.items()}
    print(f"{args.mib} MiB in {args.chunk_mib} MiB requests, {args.rounds} rounds (median MiB/s):")
    for name, figures in speed.items():
        print(f"  {name:12} {median(figures):7.0f}   rounds: "
              + ", ".join(f"{f:.0f}" for f in figures))  # fmt: skip
    print(f"  tus / parts         {median_ratio(speed['tus'], speed['parts']):.2f}x")
    print(f"  tus / @tus/server   {median_ratio(speed['tus'], speed['@tus/server']):.2f}x")
    rss_data = data[: args.rss_mib * MiB]
    for name, server, base, prefix, headers in (
        ("uploadcore", ours, url, "/v1/tus/", auth),
        ("@tus/server", node, node_url, "/files/", {}),
    ):
        idle, peak = concurrently(base, tus_upload(prefix, headers, chunk), rss_data,
                                  server.process.pid)  # fmt: skip
        grew = (peak - idle) // 1024
        print(f"RSS of {name} during 4 concurrent {args.rss_mib} MiB tus uploads: "
              f"{idle // 1024} MiB idle, {peak // 1024} MiB peak (+{grew} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
