"""What the service logs about requests: one line for a client that goes away, no tokens."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import pytest
from tests.integration.cli.support import wait_until
from tests.integration.http.support import Harness, Headers

from uploadcore.entrypoints.http.logs import RedactTokens, redact

PART = 2048


def put_half_a_part_and_hang_up(url: str) -> None:
    """Send the headers and half the body of a part over a raw socket, then close it."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    head = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Length: {PART}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * (PART // 2))


def test_a_client_that_hangs_up_mid_part_is_one_info_line_and_nothing_is_kept(
    live_server: Harness, alice: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    started = live_server.client.start(alice, b"y" * PART, part_size=PART)
    caplog.set_level(logging.INFO)

    put_half_a_part_and_hang_up(started.urls[1])

    def logged() -> list[logging.LogRecord]:
        # Beside the request's own access line (uploadcore.access).
        named = ("uploadcore", "uvicorn")
        return [r for r in caplog.records if r.name.startswith(named) and "access" not in r.name]

    wait_until(lambda: bool(logged()), "the server to notice the client went away")
    [record] = logged()
    assert record.levelno == logging.INFO, record.getMessage()
    assert record.exc_info is None
    message = record.getMessage()
    assert "went away" in message
    assert "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/" in message
    assert f"file {started.file_id}, request " in message
    assert "token" not in message
    assert not list(live_server.temp_dir(started.upload_id).glob("*"))
    state = live_server.client.state(alice, started.file_id).json()
    assert state["parts"] == []


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


def test_redaction_hides_the_upload_token_in_uppy_s_endpoint() -> None:
    assert redact("GET /v1/uppy/ut_Zk3v9y/s3/multipart/u1?key=k HTTP/1.1") == (
        "GET /v1/uppy/[redacted]/s3/multipart/u1?key=k HTTP/1.1"
    )
    assert redact("GET /v1/uppy/s3/params?filename=a") == "GET /v1/uppy/s3/params?filename=a"
    assert redact("POST /v1/uppy/forms/f1/?token=t0k") == "POST /v1/uppy/forms/f1/?token=[redacted]"
