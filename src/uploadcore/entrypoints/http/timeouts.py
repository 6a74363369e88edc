"""Request bodies under watch: an inactivity timeout, and no reading past an early answer.

Neither uvicorn nor Starlette bounds how long a request body may take: a
client that sends headers and a few bytes, then nothing, keeps its request
(and, on local storage, a half-written part file) alive until the TCP
connection dies, which may be never. This middleware bounds the wait for
each piece of the body instead. A body that keeps arriving, however slowly
overall, is never cut off; one that goes silent for `timeout` seconds makes
the app's `receive()` raise `RequestTimeout`, which the endpoint sees like
any other error (the part upload discards what it wrote) and which is
answered 408.

And when the app answers before the body is over (413 at the first byte
past a part's plan, 403 for a bad token, 408), the answer says
`Connection: close`: the server then closes the connection instead of
reading, and throwing away, the rest of a body that may be gigabytes long.

Only the body is timed: once its last piece has arrived, `receive()` waits
for a disconnect as long as it likes (a download streams for as long as it
needs).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadcore.entrypoints.http.problems import RequestTimeout


class BodyTimeoutMiddleware:
    """Raise RequestTimeout from `receive()` when a request body is silent for `timeout` s."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)  # nothing to time, nothing to cut short
            return
        watch = _Watch(self.timeout)
        body_pending = True

        async def timed_receive() -> Message:
            nonlocal body_pending
            if not body_pending:
                return await receive()
            message = await watch.wait(receive)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_pending = False
                watch.stop()
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and body_pending:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, timed_receive, closing_send)
        finally:
            watch.stop()


class _Watch:
    """One timer for a whole body, instead of one per piece of it.

    A body arrives in hundreds of pieces a second; a timer armed and cancelled
    around each `receive()` costs more than the rest of the middleware. This
    one notes when the current wait began (a float) and keeps a single timer
    that fires at the earliest moment a wait could have lasted `timeout`: if
    the wait in progress has, it cancels the waiting task, whose `wait` turns
    the cancellation into RequestTimeout; if not, it sets itself for that
    wait's own deadline (or a full `timeout` ahead, when none is in progress).
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.since: float | None = None  # when the wait in progress began
        self.task: asyncio.Task[object] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.fired = False

    async def wait(self, receive: Receive) -> Message:
        self.since = now = self.loop.time()
        self.task = asyncio.current_task()
        if self.timer is None:
            self.timer = self.loop.call_at(now + self.timeout, self._check)
        try:
            return await receive()
        except asyncio.CancelledError:
            if not self.fired or self.task is None:
                raise
            self.task.uncancel()
            raise RequestTimeout(
                f"the request body sent nothing for {self.timeout:g} seconds; "
                "nothing of it was kept, send it again"
            ) from None
        finally:
            self.since = None

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _check(self) -> None:
        now = self.loop.time()
        since = self.since
        if since is not None and now - since >= self.timeout and self.task is not None:
            self.timer = None
            self.fired = True
            self.task.cancel()
            return
        due = now + self.timeout if since is None else since + self.timeout
        self.timer = self.loop.call_at(due, self._check)


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a Content-Length above 0, or chunks)."""
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return bool(value.strip() != b"0")
    return False
