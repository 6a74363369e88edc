"""How `uploadcore serve` writes its log: one line per record, JSON or text, on stderr.

`json` writes one object a line (`time`, `level`, `logger`, `message`, and for
a request line its fields: `request_id`, `method`, `route`, `status`,
`duration_ms`, `bytes_in`, `bytes_out`, `user`, `file_id`); `text` writes the
same for people. The server's own access log stays off: it would write each
request's raw path and query string, where URL tokens live.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_REQUEST_FIELDS = ("request_id", "user", "file_id", "bytes_in", "bytes_out")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        if isinstance(request, dict):
            line.update(request)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


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
                "class": "logging.StreamHandler",
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


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"
