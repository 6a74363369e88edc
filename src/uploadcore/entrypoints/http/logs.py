"""No log line carries a URL token: the access loggers of the servers that run the app.

A part or download URL is a bearer credential, and so is Uppy's endpoint
(an upload token in its path), and servers log each request's
path with its query string. `create_app` adds `RedactTokens` to the access
loggers of uvicorn, gunicorn and hypercorn, so it holds however the app is run:
`uploadcore serve`, plain `uvicorn myapp:app` with the app mounted inside
another, or gunicorn's uvicorn workers. A filter on the logger itself sees
every record the server logs there, whatever handlers and formats the
embedder configures, and `logging.config.dictConfig` keeps it when it
reconfigures the logger.
"""

from __future__ import annotations

import logging
import re

#: The loggers that servers write one line per request to, with the query string.
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access", "hypercorn.access")

_TOKEN = re.compile(r"([?&]token=)[^&\s\"]+")
_PATH_TOKEN = re.compile(
    r"(/v1/uppy/)(?!s3/|forms/)[^/?\s\"]+"
)  # Uppy's endpoint: a token in the path


def redact(text: str) -> str:
    """`/…/download/?token=abc&x=1` -> `/…/download/?token=[redacted]&x=1`, and
    `/v1/uppy/ut_abc/s3/params` -> `/v1/uppy/[redacted]/s3/params`."""
    return _PATH_TOKEN.sub(r"\1[redacted]", _TOKEN.sub(r"\1[redacted]", text))


class RedactTokens(logging.Filter):
    """Replace the value of every `token=` URL parameter in a record by `[redacted]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):  # gunicorn's and hypercorn's atoms, per record
            for name, value in list(record.args.items()):
                if isinstance(value, str):
                    record.args[name] = redact(value)
        return True


def redact_access_logs() -> None:
    """Add RedactTokens to every server's access logger, once however often it is called."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
