"""What the several-instances test needs: one S3 server, a client-side load balancer, gc in a loop.

The S3 server is Ceph RADOS Gateway when UPLOADCORE_TEST_S3_ENDPOINT_URL names
one (CI), else moto in server mode behind a lock that serialises its requests:
moto keeps its state without a lock, so a complete and an abort of one
multipart upload at once can fail inside moto (500) where S3 answers 404.

The load balancer lives in the clients' HTTP transport: a request to the
public address (`BASE_URL` of every instance) goes to an instance chosen at
random, with its `Host` header unchanged, as a proxy would pass it on. Every
answer, from the instances and from S3, is recorded.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import pytest
from moto.server import ThreadedMotoServer
from tests.integration.reliability.server import UPLOADCORE
from tests.integration.s3.support import S3_ENDPOINT_ENV, StartResponse, WsgiApp

#: The address clients use, as behind a load balancer; the transport maps it to an instance.
PUBLIC = "http://uploads.example.test"
PUBLIC_HOST = "uploads.example.test"
#: A request with this header goes to that instance (0 or 1) rather than a random one.
PIN = "x-test-instance"


@dataclass(frozen=True)
class Store:
    name: str  # "rgw" or "moto (serialised)"
    url: str


@contextmanager
def s3_server(monkeypatch: pytest.MonkeyPatch, min_part_size: int) -> Iterator[Store]:
    """Ceph RGW when configured, else a moto server whose requests take turns."""
    import os

    rgw = os.environ.get(S3_ENDPOINT_ENV)
    if rgw:
        yield Store("rgw", rgw)  # .ci/rgw-start allows parts of any size
        return
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", min_part_size)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        wsgi = server._server
        assert wsgi is not None
        wsgi.app = Serialised(cast(WsgiApp, wsgi.app))
        host, port = server.get_host_and_port()
        yield Store("moto (serialised)", f"http://{host}:{port}")
    finally:
        server.stop()


class Serialised:
    """A WSGI app whose requests run one at a time, answer included.

    One more difference from S3 is mended: moto fails a request on a multipart
    upload that is gone (`UploadPart` after an abort) with a KeyError, which
    its server answers with 500; S3 answers 404 `NoSuchUpload`, as this does.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            try:
                answer = self.app(environ, start_response)
            except KeyError:
                if "uploadId=" not in str(environ.get("QUERY_STRING", "")):
                    raise
                return _no_such_upload(start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()


def _no_such_upload(start_response: StartResponse) -> list[bytes]:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>'
        b"<Message>The specified upload does not exist.</Message></Error>"
    )
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    start_response("404 Not Found", headers)
    return [body]


@dataclass
class Exchange:
    where: str  # "a", "b" or "s3"
    method: str
    path: str
    status: int
    seconds: float


@dataclass
class Recorder:
    """Every request the clients sent and its answer; thread-safe."""

    instances: list[httpx2.URL]
    seed: int
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def route(self, request: httpx2.Request) -> str:
        """Point a request for the public address at an instance; where it goes."""
        if request.url.host != PUBLIC_HOST:
            return "s3"
        pinned = request.headers.pop(PIN, None)
        with self.lock:
            number = int(pinned) if pinned is not None else self.rng.randrange(len(self.instances))
        target = self.instances[number]
        request.url = request.url.copy_with(
            scheme=target.scheme, host=target.host, port=target.port
        )
        return "ab"[number]

    def add(self, where: str, request: httpx2.Request, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        with self.lock:
            self.exchanges.append(
                Exchange(where, request.method, request.url.path, status, seconds)
            )

    def failures(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.status >= 500]

    def completes(self) -> list[float]:
        return [
            e.seconds
            for e in self.exchanges
            if e.where != "s3" and e.method == "POST" and e.path.endswith("/complete/")
        ]

    def summary(self) -> dict[str, Any]:
        times = sorted(self.completes())
        counted = {
            where: sum(e.where == where for e in self.exchanges) for where in ("a", "b", "s3")
        }
        return {
            "requests": len(self.exchanges),
            "to_instance_a": counted["a"],
            "to_instance_b": counted["b"],
            "to_s3": counted["s3"],
            "completes": len(times),
            "complete_p50_ms": round(1000 * statistics.median(times), 1),
            "complete_p95_ms": round(1000 * statistics.quantiles(times, n=20)[-1], 1),
        }


class Balanced(httpx2.AsyncHTTPTransport):
    """An async transport that load-balances the public address over the instances."""

    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        where = self.recorder.route(request)
        started = time.perf_counter()
        response = await super().handle_async_request(request)
        self.recorder.add(where, request, response.status_code, started)
        return response


class BalancedSync(httpx2.HTTPTransport):
    """The same for the blocking client `uploadcore upload` uses."""

    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        where = self.recorder.route(request)
        started = time.perf_counter()
        response = super().handle_request(request)
        self.recorder.add(where, request, response.status_code, started)
        return response


@dataclass
class GcLoop:
    """`uploadcore gc --json` run again and again, in a thread, until stopped."""

    env: Mapping[str, str]
    args: tuple[str, ...]
    reports: list[dict[str, Any]] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # each run's start and end
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run_once(self) -> dict[str, Any]:
        started = time.monotonic()
        done = subprocess.run(
            [str(UPLOADCORE), "gc", "--json", *self.args],
            env=dict(self.env),
            capture_output=True,
            timeout=60,
            check=False,
        )
        self.spans.append((started, time.monotonic()))
        if done.returncode != 0:
            self.failures.append(f"gc exited {done.returncode}: {done.stderr.decode()[-2000:]}")
            return {}
        report: dict[str, Any] = json.loads(done.stdout)
        self.reports.append(report)
        return report

    def overlapping(self, start: float, end: float) -> int:
        """How many runs were under way at some time between `start` and `end`."""
        return sum(began < end and ended > start for began, ended in self.spans)

    def loop(self) -> None:
        while not self.stop.is_set():
            self.run_once()
            self.stop.wait(0.5)

    @contextmanager
    def running(self) -> Iterator[GcLoop]:
        thread = threading.Thread(target=self.loop, name="gc-loop", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join(timeout=90)
