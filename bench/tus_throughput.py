"""tus PATCHes against the REST API's own part PUTs, and the server's memory under tus.

`python -m bench.tus_throughput [--mib 256] [--chunk-mib 8] [--dir DIR]`

One `uvicorn` worker on 127.0.0.1 with local storage (as `uploadcore serve`),
the same bytes sent once in `--chunk-mib` PATCHes and once as parts of that
size, one request at a time; then four tus uploads at once while the
server's RSS is sampled. Prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2

from bench.servers import clean_environment, free_port, uploadcore_server
from uploadcore import bootstrap
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

MiB = 1024 * 1024


def tus_upload(http: httpx2.Client, auth: dict[str, str], data: bytes, chunk: int) -> None:
    tus = {**auth, "Tus-Resumable": "1.0.0"}
    created = http.post("/v1/tus/", headers={**tus, "Upload-Length": str(len(data))})
    location = created.headers["location"]
    for offset in range(0, len(data), chunk):
        headers = {**tus, "Content-Type": "application/offset+octet-stream",
                   "Upload-Offset": str(offset)}  # fmt: skip
        answer = http.patch(location, headers=headers, content=data[offset : offset + chunk])
        if answer.status_code != 204:
            raise SystemExit(f"PATCH at {offset}: {answer.status_code} {answer.text}")


def part_upload(http: httpx2.Client, auth: dict[str, str], data: bytes, chunk: int) -> None:
    count = -(-len(data) // chunk)
    new = {"file_name": "x.bin", "file_size": len(data), "file_content_type": "application/x",
           "num_parts": count, "part_size": chunk}  # fmt: skip
    started = http.post("/v1/files/uploads/", headers=auth, json=new).json()
    refs = []
    for n, url in enumerate(started["presigned_urls"]):
        answer = http.put(url["url"], content=data[n * chunk : (n + 1) * chunk])
        refs.append({"part_number": n + 1, "etag": answer.json()["etag"]})
    file_id = started["file_obj"]["id"]
    done = http.post(f"/v1/files/uploads/{file_id}/complete/", headers=auth, json={"parts": refs})
    if done.status_code != 200:
        raise SystemExit(f"complete: {done.status_code} {done.text}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="tus-bench-"))
    environ = {"UPLOADCORE_DATA_DIR": str(root), "UPLOADCORE_SECRET_KEY": "bench" * 8}
    settings = bootstrap.prepare(Settings.from_env(environ))
    core = bootstrap.build(settings)
    key = create_user(core.users, "bench", False, datetime.now(UTC)).api_key
    core.close()
    auth = {"Authorization": f"Bearer {key}"}
    data, chunk = os.urandom(args.mib * MiB), args.chunk_mib * MiB
    server = uploadcore_server(clean_environment(environ), root / "server.log", free_port())
    try:
        server.wait_ready("/healthz")
        with httpx2.Client(base_url=server.url, timeout=300) as http:
            tus_upload(http, auth, data[: 8 * MiB], chunk)  # warm up
            for name, upload in (("tus PATCH", tus_upload), ("part PUT", part_upload)):
                began = time.perf_counter()
                upload(http, auth, data, chunk)
                took = time.perf_counter() - began
                print(f"{name:10} {args.mib} MiB in {args.chunk_mib} MiB requests: "
                      f"{took:.2f} s, {args.mib / took:.0f} MiB/s")  # fmt: skip
        idle = rss_kib(server.pid)
        peak, stop = [idle], threading.Event()

        def sample() -> None:
            while not stop.wait(0.02):
                peak.append(rss_kib(server.pid))

        def one() -> None:
            with httpx2.Client(base_url=server.url, timeout=300) as http:
                tus_upload(http, auth, data, chunk)

        sampler = threading.Thread(target=sample)
        sampler.start()
        workers = [threading.Thread(target=one) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stop.set()
        sampler.join()
        print(f"server RSS: {idle // 1024} MiB idle, {max(peak) // 1024} MiB peak during"
              f" 4 concurrent {args.mib} MiB tus uploads")  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    main()
