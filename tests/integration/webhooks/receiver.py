"""A real webhook receiver on 127.0.0.1 that verifies every delivery with `standardwebhooks`."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks


@dataclass
class Received:
    """What the receiver saw: verified events, their webhook-ids, and anything that failed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    answered_500: int = 0

    def types_of(self, file_id: str) -> list[str]:
        """The distinct events of a file, in the order they first arrived (any, when concurrent)."""
        seen: dict[str, str] = {}
        for event in self.events:
            if event["data"]["id"] == file_id:
                seen.setdefault(event["id"], event["type"])
        return list(seen.values())

    def duplicates(self) -> Counter[str]:
        return Counter({i: n for i, n in Counter(self.webhook_ids).items() if n > 1})


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a worker opens up to 64 connections at once
    daemon_threads = True


class Receiver:
    """Answers 204 to each verified delivery, or 500 to the next `fail_next` of them."""

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self.received = Received()
        self.fail_next = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.take(body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            payload = standardwebhooks.Webhook(self.secret).verify(body, headers)
        except standardwebhooks.WebhookVerificationError as error:
            with self.lock:
                self.received.unverified.append(str(error))
            return 400
        with self.arrived:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.received.answered_500 += 1
                return 500
            self.received.events.append(json.loads(json.dumps(payload)))
            self.received.webhook_ids.append(
                headers.get("webhook-id", headers.get("Webhook-Id", ""))
            )
            self.arrived.notify_all()
        return 204

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Block until `count` distinct events arrived (a bound for a hang, not a timer)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(set(self.received.webhook_ids)) >= count, timeout)
            return list(self.received.events)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(secret: str = "", port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(secret, port)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
