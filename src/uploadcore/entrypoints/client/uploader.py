"""`uploadcore upload`: initiate (or resume), send the parts in parallel, complete.

The client follows the part URLs the server hands out and nothing else, so
the same code uploads to the service itself (local storage) and straight to
S3. A part's etag is read from the `ETag` header of its answer (S3's way),
else from the JSON body (uploadcore's local part endpoint gives both).
"""

from __future__ import annotations

import mimetypes
import queue
import shlex
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from uploadcore.domain.parts import normalize_etag
from uploadcore.domain.sizes import short_size
from uploadcore.entrypoints.client.api import Api, ClientError, Interrupted, Json, checked
from uploadcore.entrypoints.client.parts import Plan, md5_of, read_part
from uploadcore.entrypoints.client.progress import NoProgress, Progress
from uploadcore.entrypoints.client.urls import PartUrls

#: How often one part is sent again after its URL was refused (and refreshed).
URL_REFRESHES = 2


@dataclass(frozen=True)
class UploadRequest:
    """What to upload and how; `part_size` is ignored when resuming (the plan is kept)."""

    path: Path
    name: str | None = None
    content_type: str | None = None
    part_size: int | None = None
    parallel: int = 4
    resume: str | None = None


@dataclass(frozen=True)
class UploadResult:
    file: Json  # the completed file, as the API represents it
    num_parts: int
    parts_sent: int
    parts_resumed: int


@dataclass
class _Session:
    file_id: str
    plan: Plan
    urls: PartUrls | None
    etags: dict[int, str] = field(default_factory=dict)  # parts the server holds


class Uploader:
    """Uploads one file through an `Api`; `notify` gets one-line news (the upload's id).

    `progress(name, total, done)` makes the bar; `resume_command(file_id)` is the
    command that resumes the upload, as the person should type it.
    """

    def __init__(
        self,
        api: Api,
        progress: Callable[[str, int, int], Progress] = lambda name, total, done: NoProgress(),
        notify: Callable[[str], None] = lambda line: None,
        resume_command: Callable[[str], str] | None = None,
    ) -> None:
        self.api = api
        self.progress = progress
        self.notify = notify
        self.stop = api.stop
        self.resume_command = resume_command

    def upload(self, request: UploadRequest) -> UploadResult:
        size = _size_of(request.path)
        session = self._resume(request, size) if request.resume else self._start(request, size)
        try:
            return self._finish(request, session)
        except (ClientError, KeyboardInterrupt) as failure:
            self.stop.set()
            hint = f"resume with: {self._resume_command(request, session.file_id)}"
            if isinstance(failure, KeyboardInterrupt):
                raise Interrupted(f"interrupted; {hint}") from None
            raise ClientError(f"{failure.detail}; {hint}") from failure

    def _resume_command(self, request: UploadRequest, file_id: str) -> str:
        if self.resume_command is not None:
            return self.resume_command(file_id)
        return f"uploadcore upload {shlex.quote(str(request.path))} --resume {file_id}"

    # -- the two ways in ------------------------------------------------------

    def _start(self, request: UploadRequest, size: int) -> _Session:
        plan = Plan.for_file(size, request.part_size)
        name = request.name or request.path.name
        content_type = request.content_type or mimetypes.guess_type(name)[0]
        answer = self.api.initiate(
            {
                "file_name": name,
                "file_size": plan.file_size,
                "file_content_type": content_type or "application/octet-stream",
                "num_parts": plan.num_parts,
                "part_size": plan.part_size,
            }
        )
        file_id = str(answer["file_obj"]["id"])
        self.notify(
            f"started upload {file_id}: {plan.num_parts} parts of {short_size(plan.part_size)}; "
            f"if it stops, resume with: {self._resume_command(request, file_id)}"
        )
        return _Session(file_id, plan, PartUrls(self.api, file_id, answer, plan.numbers))

    def _resume(self, request: UploadRequest, size: int) -> _Session:
        file_id = str(request.resume)
        state = self.api.state(file_id)
        status = state.get("upload_status")
        if status != "uploading":
            raise ClientError(f"upload {file_id} is {status}; only an upload in progress resumes")
        plan = Plan(int(state["file_size"]), int(state["num_parts"]), int(state["part_size"]))
        if plan.file_size != size:
            raise ClientError(
                f"{request.path} has {size} bytes but upload {file_id} is for {plan.file_size}"
            )
        session = _Session(file_id, plan, None)
        session.etags = self._verified(request, plan, state.get("parts") or [])
        missing = [n for n in plan.numbers if n not in session.etags]
        self.notify(
            f"resuming upload {file_id}: {len(session.etags)} of {plan.num_parts} parts "
            "are on the server"
        )
        if missing:
            answer = self.api.refresh_urls(file_id, missing)
            session.urls = PartUrls(self.api, file_id, answer, missing)
        return session

    def _verified(self, request: UploadRequest, plan: Plan, parts: list[Json]) -> dict[int, str]:
        """The received parts whose size and MD5 match the local file (others go again)."""
        claimed = {
            int(p["part_number"]): normalize_etag(str(p["etag"]))
            for p in parts
            if 1 <= int(p["part_number"]) <= plan.num_parts
            and int(p["size"]) == plan.size_of(int(p["part_number"]))
        }

        def local(number: int) -> str:
            return md5_of(request.path, plan.offset_of(number), plan.size_of(number))

        with ThreadPoolExecutor(max_workers=max(1, request.parallel)) as pool:
            hashes = dict(zip(claimed, pool.map(local, claimed), strict=True))
        return {n: etag for n, etag in claimed.items() if hashes[n] == etag}

    # -- the parts, then completion ---------------------------------------------

    def _finish(self, request: UploadRequest, session: _Session) -> UploadResult:
        plan = session.plan
        resumed = len(session.etags)
        todo = [n for n in plan.numbers if n not in session.etags]
        name = request.name or request.path.name
        held = sum(plan.size_of(n) for n in session.etags)  # on the bar, not in its rate
        with self.progress(name, plan.file_size, held) as bar:
            self._send_all(request, session, todo, bar)
        parts = [{"part_number": n, "etag": session.etags[n]} for n in plan.numbers]
        file = self.api.complete(session.file_id, parts)
        return UploadResult(file, plan.num_parts, len(todo), resumed)

    def _send_all(
        self, request: UploadRequest, session: _Session, todo: list[int], bar: Progress
    ) -> None:
        if not todo:
            return
        workers = max(1, min(request.parallel, len(todo)))
        try:
            for number, etag in in_parallel(
                lambda n: self._send(request, session, n, bar), todo, workers, self.stop
            ):
                session.etags[number] = etag
        except BaseException:
            self.stop.set()  # the other parts end at their next chunk
            raise

    def _send(self, request: UploadRequest, session: _Session, number: int, bar: Progress) -> str:
        urls = session.urls
        if urls is None:  # pragma: no cover - a session with parts to send has URLs
            raise ClientError("no part URLs")
        offset, length = session.plan.offset_of(number), session.plan.size_of(number)
        counted = 0

        def counting(count: int) -> None:
            nonlocal counted
            counted += count
            bar.advance(count)

        def body() -> Iterator[bytes]:
            nonlocal counted
            bar.advance(-counted)  # a try that failed: its bytes were not sent after all
            counted = 0
            return read_part(request.path, offset, length, counting, self.stop)

        what = f"upload part {number}"
        for refreshed in range(URL_REFRESHES + 1):
            response = self.api.put_part(urls.url_for(number), length, body, what)
            if response.is_success:
                urls.done(number)
                return _etag_of(response, number)
            bar.advance(-counted)
            counted = 0
            if response.status_code == 403 and refreshed < URL_REFRESHES:
                urls.refresh(number)  # the URL expired (or was refused): ask for a new one
                continue
            checked(response, what)
        raise ClientError(f"could not {what}: its URL was refused even when fresh")


def in_parallel(
    work: Callable[[int], str], numbers: list[int], workers: int, stop: threading.Event
) -> Iterator[tuple[int, str]]:
    """`work(n)` for each number on `workers` threads; `(n, result)` as each one ends.

    The first failure sets `stop` (the others end at their next chunk) and is
    raised here. The threads are daemons: an interrupted upload exits at once,
    even while one of its requests waits for an answer. And they block SIGINT
    and SIGTERM, so the kernel hands those to the calling thread: Python runs
    signal handlers in the main thread only, and a signal delivered to a worker
    that waits for an answer would leave the main thread waiting here for good.
    """
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for number in numbers:
        todo.put(number)
    done: queue.SimpleQueue[tuple[int, str | BaseException]] = queue.SimpleQueue()

    def worker() -> None:
        _leave_signals_to_the_main_thread()
        while not stop.is_set():
            try:
                number = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((number, work(number)))
            except BaseException as error:  # handed to the caller's thread
                done.put((number, error))
                return

    for _ in range(workers):
        threading.Thread(target=worker, name="part", daemon=True).start()
    for _ in numbers:
        number, result = done.get()
        if isinstance(result, BaseException):
            stop.set()
            raise result
        yield number, result


_MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _leave_signals_to_the_main_thread() -> None:
    if hasattr(signal, "pthread_sigmask"):  # POSIX; elsewhere signals reach the main thread
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)


def _etag_of(response: httpx2.Response, number: int) -> str:
    etag = response.headers.get("etag")
    if not etag:
        try:
            body = response.json()
        except ValueError:
            body = None
        etag = body.get("etag") if isinstance(body, dict) else None
    if not isinstance(etag, str) or not etag.strip():
        raise ClientError(
            f"part {number} was accepted without an etag (is ETag exposed by the storage's CORS?)"
        )
    return normalize_etag(etag)


def _size_of(path: Path) -> int:
    try:
        if not path.is_file():
            raise ClientError(f"{path} is not a file")
        with path.open("rb"):
            return path.stat().st_size
    except OSError as error:
        raise ClientError(f"cannot read {path}: {error.strerror}") from None
