"""One log line and the metrics of every request, under an id the client can follow.

Each request is named by its route *template* (`/v1/files/uploads/{file_id}/`),
never its raw path or query: part and download URLs carry bearer tokens in
their query, and other routes carry them in the path. The request id is the
client's `X-Request-ID` when it is sane (at most 128 characters of
`[A-Za-z0-9._:+/=-]`), otherwise a fresh one; either way it is echoed in the
answer's `X-Request-ID` and logged.

The work is per request, never per body chunk: the body's size is its
`Content-Length`, the answer's status and size come from its first message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadcore.adapters.prometheus import PROTOCOL, PrometheusMetrics
from uploadcore.entrypoints.http.tus_headers import TUS_PATH
from uploadcore.entrypoints.log_format import write_info_line

log = logging.getLogger("uploadcore.access")

USER = "uploadcore.user"  # the scope key `Resource.principal` writes the caller's name to
REQUEST_ID = "uploadcore.request_id"
UNMATCHED = "unmatched"  # the route label of a request no route matched
_SANE_ID = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROTOCOLS = ((TUS_PATH, "tus"), ("/v1/uppy/", "uppy"))
_MAYBE_PROTOCOL = re.compile("|".join(re.escape(prefix) for prefix, _ in _PROTOCOLS))
_CUT_OFF = (
    b'{"type":"https://uploadcore.dev/problems/shutting_down","title":"Shutting down",'
    b'"status":503,"detail":"the server stopped before this request finished; nothing of it '
    b'was kept, send it again","code":"shutting_down"}'
)
SHUTTING_DOWN_START: Message = {
    "type": "http.response.start",
    "status": 503,
    "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(_CUT_OFF)).encode()),
        (b"connection", b"close"),
    ],
}
SHUTTING_DOWN_BODY: Message = {"type": "http.response.body", "body": _CUT_OFF}
#: Routes (by name) and methods whose durations have histograms of their own.
PART_UPLOADS = frozenset({("upload_part", "PUT"), ("tus_upload", "PATCH"), ("uppy_form", "POST")})
COMPLETIONS = frozenset({("complete_upload", "POST"), ("uppy_complete", "POST")})


class Observe:
    """ASGI middleware: request id, one access log line, the request metrics."""

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self, scope, send)
        try:
            await self.app(scope, receive, exchange.send)
        except asyncio.CancelledError:
            # The server cut the request off: its shutdown grace ran out. The use case has
            # thrown away what it had; the client hears why, and the log holds no traceback.
            if exchange.status is not None:
                raise
            log.warning("request cut off: the server stopped before it finished (%s)", where(scope))
            await exchange.send(SHUTTING_DOWN_START)
            await exchange.send(SHUTTING_DOWN_BODY)
        finally:
            if not exchange.recorded:  # no answer went out (an error, a client gone)
                exchange.record()

    def record(self, exchange: _Exchange, seconds: float) -> None:
        scope = exchange.scope
        route = route_template(scope)
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        status = exchange.status or 500
        if self.metrics is not None:
            self.metrics.request(route, method, status, seconds)
            if 200 <= status < 300:
                self._success(exchange, method, seconds)
        if log.isEnabledFor(logging.INFO):
            line = (exchange, route, method, status, seconds)
            if not write_info_line(log, _describe, line):
                message, fields = _describe(line)
                log.info("%s", message, extra={"request": fields})

    def _success(self, exchange: _Exchange, method: str, seconds: float) -> None:
        metrics = self.metrics
        if metrics is None:  # pragma: no cover - checked by the caller
            return
        protocol = exchange.protocol
        received = _length(exchange.received)
        if received:
            metrics.received.labels(protocol).inc(received)
        key = (getattr(exchange.scope.get("route"), "name", None), method)
        if key in PART_UPLOADS:
            metrics.part_seconds.labels(protocol).observe(seconds)
        elif key in COMPLETIONS:
            metrics.complete_seconds.labels(protocol).observe(seconds)


class _Exchange:
    """One request on its way through: what its log line and metrics need, gathered cheaply."""

    __slots__ = (
        "answer_headers",
        "downstream",
        "observer",
        "protocol",
        "received",
        "recorded",
        "request_id",
        "scope",
        "started",
        "status",
    )  # fmt: skip

    def __init__(self, observer: Observe, scope: Scope, downstream: Send) -> None:
        self.observer = observer
        self.scope = scope
        self.downstream = downstream
        self.started = time.perf_counter()
        given = self.received = None
        for name, value in scope["headers"]:  # one pass for both
            if name == b"content-length":
                self.received = value
            elif name == b"x-request-id":
                given = value
        self.request_id: bytes = (
            bytes(given) if given is not None and _SANE_ID.fullmatch(given) else _new_id()
        )
        scope[REQUEST_ID] = self.request_id
        path: str = scope["path"]
        self.protocol = protocol_of(scope) if _MAYBE_PROTOCOL.search(path) else "rest"
        PROTOCOL.set(self.protocol)  # the use cases' events count under it
        self.status: int | None = None
        self.answer_headers: Any = ()
        self.recorded = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = self.answer_headers = message.get("headers", ())
            message = {**message, "headers": [*headers, (b"x-request-id", self.request_id)]}
        elif (
            not self.recorded
            and message["type"] == "http.response.body"
            and not message.get("more_body", False)
        ):
            self.record()  # before the answer ends: whoever saw it end finds it counted
        await self.downstream(message)

    def record(self) -> None:
        self.recorded = True
        self.observer.record(self, time.perf_counter() - self.started)


def _describe(line: tuple[_Exchange, str, str, int, float]) -> tuple[str, dict[str, Any]]:
    """A request's log line: its message and fields (made after its answer went out)."""
    exchange, route, method, status, seconds = line
    scope = exchange.scope
    fields = {
        "request_id": exchange.request_id.decode(),
        "client": (scope.get("client") or ("",))[0] or None,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "bytes_in": _length(exchange.received),
        "bytes_out": _length(_header(exchange.answer_headers, b"content-length")),
        "user": scope.get(USER),
        "file_id": scope.get("path_params", {}).get("file_id"),
    }
    return f"{method} {route} {status} {seconds * 1000:.1f}ms", fields


def route_template(scope: Scope) -> str:
    """The path template of the route that took the request (`unmatched` for none)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


def where(scope: Scope) -> str:
    """A request as other log lines name it: route template, file id, request id; no path."""
    request_id = scope.get(REQUEST_ID, b"-").decode()
    file_id = scope.get("path_params", {}).get("file_id")
    of_file = f"file {file_id}, " if file_id else ""
    return f"{route_template(scope)} ({of_file}request {request_id})"


def protocol_of(scope: Scope) -> str:
    """`tus`, `uppy` or `rest`, from where the request's path lies under the app."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for prefix, protocol in _PROTOCOLS:
        if path.startswith(prefix):
            return protocol
    return "rest"


def _new_id() -> bytes:
    # Unique, not secret: it names a request in logs and grants nothing. (The module's
    # generator is reseeded in a forked child: workers never repeat each other's ids.)
    return b"%016x" % random.getrandbits(64)


def _header(headers: Any, wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return bytes(value)
    return None


def _length(raw: bytes | None) -> int | None:
    """A Content-Length's value; None when there is none or it is not a number."""
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 20 else None
