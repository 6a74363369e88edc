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
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadcore.adapters.prometheus import PROTOCOL, PrometheusMetrics
from uploadcore.entrypoints.http.tus_headers import TUS_PATH

log = logging.getLogger("uploadcore.access")

USER = "uploadcore.user"  # the scope key `Resource.principal` writes the caller's name to
REQUEST_ID = "uploadcore.request_id"
UNMATCHED = "unmatched"  # the route label of a request no route matched
_SANE_ID = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROTOCOLS = ((TUS_PATH, "tus"), ("/v1/uppy/", "uppy"))
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
PART_UPLOADS = frozenset({("upload_part", "PUT"), ("tus_upload", "PATCH")})
COMPLETIONS = frozenset({("complete_upload", "POST")})


class Observe:
    """ASGI middleware: request id, one access log line, the request metrics."""

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = scope[REQUEST_ID] = _request_id(scope)
        protocol = protocol_of(scope)
        PROTOCOL.set(protocol)  # the use cases' events count under it
        answer: dict[str, Any] = {"status": 500, "sent": None, "recorded": False}

        def record() -> None:
            answer["recorded"] = True
            self._record(scope, protocol, request_id, answer, time.perf_counter() - started)

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = message.get("headers", ())
                answer["sent"] = _content_length(headers)
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            elif _last(message) and not answer["recorded"]:
                record()  # before the answer ends: whoever saw it end finds it counted
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except asyncio.CancelledError:
            # The server cut the request off: its shutdown grace ran out. The use case has
            # thrown away what it had; the client hears why, and the log holds no traceback.
            if answer["sent"] is not None or answer["status"] != 500:
                raise
            log.warning("request cut off: the server stopped before it finished (%s)", where(scope))
            await observed_send(SHUTTING_DOWN_START)
            await observed_send(SHUTTING_DOWN_BODY)
        finally:
            if not answer["recorded"]:  # no answer went out (an error, a client gone)
                record()

    def _record(
        self,
        scope: Scope,
        protocol: str,
        request_id: bytes,
        answer: dict[str, Any],
        seconds: float,
    ) -> None:
        route = route_template(scope)
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        status: int = answer["status"]
        received = _content_length(scope["headers"])
        if self.metrics is not None:
            self.metrics.request(route, method, status, seconds)
            if 200 <= status < 300:
                self._success(scope, method, protocol, received, seconds)
        if log.isEnabledFor(logging.INFO):
            fields = {
                "request_id": request_id.decode(),
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes_in": received,
                "bytes_out": answer["sent"],
                "user": scope.get(USER),
                "file_id": scope.get("path_params", {}).get("file_id"),
            }
            log.info(
                "%s %s %d %.1fms", method, route, status, seconds * 1000, extra={"request": fields}
            )

    def _success(
        self, scope: Scope, method: str, protocol: str, received: int | None, seconds: float
    ) -> None:
        metrics = self.metrics
        if metrics is None:  # pragma: no cover - checked by the caller
            return
        if received:
            metrics.received.labels(protocol).inc(received)
        key = (getattr(scope.get("route"), "name", None), method)
        if key in PART_UPLOADS:
            metrics.part_seconds.labels(protocol).observe(seconds)
        elif key in COMPLETIONS:
            metrics.complete_seconds.labels(protocol).observe(seconds)


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


def _last(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if _SANE_ID.fullmatch(value):
                return bytes(value)
            break
    return secrets.token_hex(8).encode()


def _content_length(headers: Any) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 20 else None
    return None
