"""How `uploadcore serve` writes its log: one line per record, JSON or text, on stderr.

`json` writes one object a line (`time`, `level`, `logger`, `message`, and for
a request line its fields: `request_id`, `method`, `route`, `status`,
`duration_ms`, `bytes_in`, `bytes_out`, `user`, `file_id`); `text` writes the
same for people. The server's own access log stays off: it would write each
request's raw path and query string, where URL tokens live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

T = TypeVar("T")
_REQUEST_FIELDS = ("request_id", "user", "file_id", "bytes_in", "bytes_out")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request = getattr(record, "request", None)
        fields: dict[str, Any] = request if isinstance(request, dict) else {}
        if record.exc_info:  # on a copy: the record's own fields stay as they were
            fields = {**fields, "exception": self.formatException(record.exc_info)}
        return _json_line(
            record.created, record.msecs, record.levelname, record.name, record.getMessage(), fields
        )


#: What a deferred line is made of: `describe(item)` gives its message and fields.
Describe = Callable[[T], tuple[str, dict[str, Any]]]


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that also takes request lines written directly (`write_info_line`).

    A line taken on an event loop is made and written at the end of the loop's
    turn, together with the others of that turn, in one write: under load a
    turn ends a dozen requests, and making and writing each line on its
    request's path cost the request about a tenth of its time. Every other
    record, a flush and closing write the waiting lines first, so the stream's
    order is the order of the records, and `logging.shutdown` at exit writes
    what a stopped loop left. Each line keeps the time it was taken at.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.pending: list[tuple[float, str, Describe[Any], Any]] = []

    def take(self, logger: str, describe: Describe[T], item: T) -> None:
        """Write `describe(item)` as an INFO line of `logger`: now, or at the end of this
        loop turn."""
        now = time.time()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock or contextlib.nullcontext():
            self.pending.append((now, logger, describe, item))
            if loop is None:
                self.flush()
            elif len(self.pending) == 1:
                loop.call_soon(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._write_pending()
            super().flush()

    def _write_pending(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        try:
            lines = [
                _json_line(now, (now - int(now)) * 1000, "INFO", logger, *describe(item))
                for now, logger, describe, item in pending
            ]
            self.stream.write(self.terminator.join(lines) + self.terminator)
        except Exception:  # logging's own rule: a log line never breaks the caller
            self.handleError(logging.makeLogRecord({"msg": f"{len(pending)} request lines"}))


def write_info_line(logger: logging.Logger, describe: Describe[T], item: T) -> bool:
    """Write an INFO record of `logger`, `describe(item)`'s message and fields, straight as
    its JSON line, when that is all logging would do with it; False (nothing written)
    when anything else would see it.

    The request log writes one line per request: the LogRecord, the caller lookup and
    the handler chain cost more than the request itself. This does what they would do
    when the one handler `log_config("json")` installs is the only one the record
    reaches, no filter on the logger or the handler: the same line, in the same stream
    (made at the end of the event loop's turn: `LineHandler`). Anything else (the text
    format, an embedder's handlers, pytest's capture) goes through `logging` as usual.
    """
    handler = _only_json_handler(logger)
    if handler is None:
        return False
    handler.take(logger.name, describe, item)
    return True


def _json_line(
    created: float, msecs: float, level: str, logger: str, message: str, fields: dict[str, Any]
) -> str:
    """One record as the json format writes it: time, level, logger, message, then fields."""
    line = {
        "time": _timestamp(created, msecs),
        "level": level,
        "logger": logger,
        "message": message,
        **fields,
    }
    return orjson.dumps(line, default=str).decode()


def _only_json_handler(logger: logging.Logger) -> LineHandler | None:
    if logger.filters:
        return None
    found: LineHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not LineHandler
                or type(handler.formatter) is not JsonFormatter
                or handler.filters
                or handler.level > logging.INFO
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request = getattr(record, "request", None)
        if isinstance(request, dict):
            shown = (f"{k}={request[k]}" for k in _REQUEST_FIELDS if request.get(k) is not None)
            text = " ".join((text, *shown))
        return text


def chosen_format(configured: str | None) -> str:
    """The setting, or `text` when stderr is a terminal and `json` when it is not."""
    if configured is not None:
        return configured
    return "text" if sys.stderr.isatty() else "json"


def log_config(format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server and every worker it starts."""
    formatter = JsonFormatter if format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"uploadcore": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": f"{__name__}.LineHandler",
                "formatter": "uploadcore",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            # uvicorn's own loggers go through the root handler, formatted like ours.
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


_last_second: tuple[int, str] = (-1, "")  # the last second formatted: lines come in bursts


def _timestamp(created: float, msecs: float) -> str:
    global _last_second  # a one-entry cache, replaced whole (thread-safe)
    whole = int(created)
    cached, seconds = _last_second
    if cached != whole:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, seconds)
    return f"{seconds}.{int(msecs):03d}Z"
