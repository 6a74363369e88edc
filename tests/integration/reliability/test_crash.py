"""SIGKILL `uploadcore serve` 30 times while parts upload and uploads complete; lose nothing.

A seeded random schedule picks each kill: a number of requests to let start,
then a short random pause, so kills land before, inside and after the
server's writes. After every restart the invariants hold:

- a part the server recorded has its bytes on disk, whole (size and md5);
- a part the client was told is stored is still recorded;
- an upload whose completion was answered is completed, and a completed
  upload's file equals the original, byte for byte;
- every final file on disk is whole (a cut-short assembly stays `.tmp-*`);
- the client resumes from the upload state with the URLs it got at initiate.

At the end every upload completes, and `uploadcore gc` removes every
temporary file the crashes left.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from tests.integration.reliability.server import UPLOADCORE, Server, api_key, server_env
from tests.integration.tally import count

SEED = 60_606
KILLS = 30
ACTIVE = 3  # uploads in progress at any time
PART = 128 * 1024
PARTS = 12
THREADS = 4
KILL_DELAY = 0.02  # at most this long after the chosen request starts
TRIGGER_TIMEOUT = 20.0
DAY = 86_400


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass
class Tracked:
    """An upload as its client knows it."""

    file_id: str
    upload_id: str
    data: bytes
    urls: dict[int, str]
    acked: dict[int, str] = field(default_factory=dict)  # parts answered 200
    recorded: set[int] = field(default_factory=set)  # parts the server listed last time
    completed: bool = False

    @property
    def chunks(self) -> dict[int, bytes]:
        return {n: self.data[(n - 1) * PART : n * PART] for n in range(1, PARTS + 1)}

    def refs(self) -> list[dict[str, object]]:
        return [{"part_number": n, "etag": md5(c)} for n, c in self.chunks.items()]

    @property
    def missing(self) -> list[int]:
        return [n for n in range(1, PARTS + 1) if n not in self.recorded]


class Round:
    """Requests sent from a few threads until the server is killed under them."""

    def __init__(self, http: httpx2.Client, trigger_at: int) -> None:
        self.http = http
        self.trigger_at = trigger_at
        self.triggered = threading.Event()
        self.lock = threading.Lock()
        self.started = 0
        self.in_flight: dict[str, int] = {"part": 0, "complete": 0}
        self.down = threading.Event()

    def send(self, what: str, request: Callable[[], httpx2.Response]) -> httpx2.Response | None:
        if self.down.is_set():
            return None
        with self.lock:
            self.started += 1
            self.in_flight[what] += 1
            if self.started >= self.trigger_at:
                self.triggered.set()
        try:
            return request()
        except httpx2.TransportError:
            self.down.set()
            return None
        finally:
            with self.lock:
                self.in_flight[what] -= 1

    def put(self, upload: Tracked, number: int) -> None:
        body = upload.chunks[number]
        answer = self.send("part", lambda: self.http.put(upload.urls[number], content=body))
        if answer is not None:
            assert answer.status_code == 200, answer.text
            upload.acked[number] = answer.json()["etag"]

    def complete(self, upload: Tracked, auth: dict[str, str]) -> None:
        path = f"/v1/files/uploads/{upload.file_id}/complete/"
        answer = self.send(
            "complete", lambda: self.http.post(path, headers=auth, json={"parts": upload.refs()})
        )
        if answer is not None:
            assert answer.status_code == 200, answer.text
            upload.completed = True


class Crasher:
    def __init__(self, server: Server, auth: dict[str, str], rng: random.Random) -> None:
        self.server = server
        self.auth = auth
        self.rng = rng
        self.media = server.settings.media_root
        self.uploads: list[Tracked] = []
        self.kills = {"part": 0, "complete": 0, "idle": 0}

    # -- the client ---------------------------------------------------------

    def initiate(self, http: httpx2.Client) -> None:
        data = self.rng.randbytes((PARTS - 1) * PART + self.rng.randint(1, PART))
        body = {
            "file_name": f"crash-{len(self.uploads)}.bin",
            "file_size": len(data),
            "file_content_type": "application/octet-stream",
            "num_parts": PARTS,
            "part_size": PART,
        }
        answer = http.post("/v1/files/uploads/", headers=self.auth, json=body)
        assert answer.status_code == 201, answer.text
        started = answer.json()
        urls = {u["part_number"]: u["url"] for u in started["presigned_urls"]}
        self.uploads.append(Tracked(started["file_obj"]["id"], started["upload_id"], data, urls))

    def active(self) -> list[Tracked]:
        return [u for u in self.uploads if not u.completed]

    def work(self, at_completion: bool) -> list[tuple[str, Tracked, int]]:
        """This round's requests: completions of ready uploads (if asked) and missing parts."""
        jobs: list[tuple[str, Tracked, int]] = []
        for upload in self.active():
            if at_completion and not upload.missing:
                jobs.insert(0, ("complete", upload, 0))
            jobs += [("part", upload, n) for n in upload.missing]
        return jobs

    def run_round(self, http: httpx2.Client, at_completion: bool) -> None:
        """Send the round's work and SIGKILL the server at a random moment within it."""
        jobs = self.work(at_completion) or self.work(at_completion=True)
        if not at_completion:
            self.rng.shuffle(jobs)
        trigger_at = 1 if at_completion else self.rng.randint(1, max(1, len(jobs)))
        round_ = Round(http, trigger_at)
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [
                pool.submit(round_.complete, upload, self.auth)
                if what == "complete"
                else pool.submit(round_.put, upload, number)
                for what, upload, number in jobs
            ]
            round_.triggered.wait(TRIGGER_TIMEOUT)
            time.sleep(self.rng.uniform(0, KILL_DELAY))
            with round_.lock:
                busy = [what for what, n in round_.in_flight.items() if n]
            self.server.kill()
        for future in futures:
            future.result()  # an unexpected answer fails the test here
        self.kills["complete" if "complete" in busy else busy[0] if busy else "idle"] += 1

    def get_ready(self, http: httpx2.Client, at_completion: bool) -> None:
        """Before the kill window opens: enough uploads, with work of the round's kind.

        A round about parts needs parts still missing; one about completion, an
        upload whose parts are all in (uploaded now, while nothing is killed).
        """
        while len(self.active()) < ACTIVE or not any(u.missing for u in self.active()):
            self.initiate(http)
        if at_completion and all(u.missing for u in self.active()):
            upload = self.active()[0]
            round_ = Round(http, trigger_at=10**9)
            for number in upload.missing:
                round_.put(upload, number)
            upload.recorded |= set(upload.missing)

    def finish(self, http: httpx2.Client) -> None:
        """With the server up for good: upload what is missing and complete everything."""
        round_ = Round(http, trigger_at=10**9)
        for upload in self.active():
            for number in upload.missing:
                round_.put(upload, number)
            round_.complete(upload, self.auth)
        assert not round_.down.is_set()

    # -- the invariants -----------------------------------------------------

    def check(self, http: httpx2.Client) -> None:
        for upload in self.uploads:
            self.check_upload(http, upload)
        self.check_final_files()

    def check_upload(self, http: httpx2.Client, upload: Tracked) -> None:
        answer = http.get(f"/v1/files/uploads/{upload.file_id}/", headers=self.auth)
        assert answer.status_code == 200, answer.text
        state = answer.json()
        status = state["upload_status"]
        assert status in ("uploading", "completed"), state
        if upload.completed:
            assert status == "completed", f"{upload.file_id}: answered completed, now {status}"
        upload.completed = status == "completed"
        chunks = upload.chunks
        recorded = {p["part_number"]: p for p in state["parts"]}
        for number, part in recorded.items():
            assert (part["etag"], part["size"]) == (md5(chunks[number]), len(chunks[number]))
        if upload.completed:
            final = self.media / "files" / upload.file_id[:2] / upload.file_id
            assert final.read_bytes() == upload.data, f"{upload.file_id}: completed, not whole"
            return
        for number, etag in upload.acked.items():
            assert recorded[number]["etag"] == etag, f"{upload.file_id}: lost acked part {number}"
        stored = self.stored_parts(upload)
        for part in recorded.values():
            assert (part["etag"], part["size"]) in stored, f"{upload.file_id}: part without bytes"
        upload.recorded = set(recorded)

    def stored_parts(self, upload: Tracked) -> set[tuple[str, int]]:
        directory = self.media / "temp_uploads" / upload.upload_id
        return {
            (md5(path.read_bytes()), path.stat().st_size)
            for path in directory.iterdir()
            if not path.name.startswith(".")
        }

    def check_final_files(self) -> None:
        """Every file that looks final is whole: cut-short assemblies never look final."""
        by_id = {u.file_id: u for u in self.uploads}
        for path in (self.media / "files").rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                assert path.read_bytes() == by_id[path.name].data, f"{path} is not whole"

    # -- gc -----------------------------------------------------------------

    def leftovers(self) -> list[Path]:
        temp = list(self.media.rglob(".tmp-*"))
        return temp + list((self.media / "temp_uploads").iterdir())

    def collect_garbage(self) -> int:
        """Age what the crashes left past UPLOAD_EXPIRES_IN, run `uploadcore gc`; the count."""
        left = self.leftovers()
        aged = time.time() - 2 * DAY
        for path in left:
            for inner in [path, *path.rglob("*")]:
                os.utime(inner, (aged, aged))
        result = subprocess.run(
            [str(UPLOADCORE), "gc"],
            env=self.server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return len(left)


def test_the_server_killed_30_times_loses_nothing_and_every_upload_completes(
    tmp_path: Path,
) -> None:
    env = server_env(tmp_path / "data", min_part_size="1KiB")
    server = Server(env, tmp_path / "serve.log")
    auth = {"Authorization": f"Bearer {api_key(env, 'crasher')}"}
    crasher = Crasher(server, auth, random.Random(SEED))
    server.start()
    with httpx2.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        try:
            for kill in range(KILLS):
                at_completion = kill % 2 == 1
                crasher.get_ready(http, at_completion)
                crasher.run_round(http, at_completion)
                server.restart()
                crasher.check(http)
            crasher.finish(http)
            crasher.check(http)
        finally:
            if server.process is not None:
                server.stop()
    assert all(u.completed for u in crasher.uploads)
    assert "Traceback" not in server.logged(), server.logged()

    removed = crasher.collect_garbage()

    assert crasher.leftovers() == [], "gc left temporary files behind"
    crasher.check_final_files()
    count("reliability: kills survived", sum(crasher.kills.values()))
    count("reliability: kills during part uploads", crasher.kills["part"])
    count("reliability: kills during completion", crasher.kills["complete"])
    count("reliability: kills between requests", crasher.kills["idle"])
    count("reliability: crash uploads completed", len(crasher.uploads))
    count("reliability: crash leftovers removed by gc", removed)
