"""What the service logs about requests: no tokens."""

from __future__ import annotations

import logging

import pytest

from uploadcore.entrypoints.http.logs import RedactTokens, redact


def record_of(msg: str, args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "record",
    [
        record_of('%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "PUT", "/p/?token=abc.def", "1.1", 200)),
        record_of("%(r)s %(s)s", {"r": "GET /d/?x=1&token=abc.def HTTP/1.1", "s": "200"}),
        record_of("GET /d/?token=abc.def", None),
    ],
    ids=["uvicorn", "gunicorn", "preformatted"],
)
def test_the_filter_redacts_a_token_whatever_the_record_s_shape(record: logging.LogRecord) -> None:
    assert RedactTokens().filter(record)

    message = record.getMessage()
    assert "token=[redacted]" in message
    assert "abc.def" not in message


def test_redaction_keeps_the_other_parameters() -> None:
    assert redact("/a/?token=t0k&x=1 /b/?y=2&token=t1k") == (
        "/a/?token=[redacted]&x=1 /b/?y=2&token=[redacted]"
    )
