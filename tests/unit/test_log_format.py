"""The request log's direct JSON line is the line logging's own handler would write."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from uploadcore.entrypoints.log_format import JsonFormatter, LineHandler, write_info_line

FIELDS = {"request_id": "abc", "method": "GET", "route": "/v1/files/", "status": 200}


def described(message: str) -> tuple[str, dict[str, Any]]:
    return message, FIELDS


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger with the one handler `log_config("json")` makes, writing into a string.

    Its own, not propagating, so that pytest's handlers can be taken off (`alone`).
    """
    made = logging.getLogger("uploadcore.test_access")
    handler = LineHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    made.addHandler(handler)
    made.propagate = False
    made.setLevel(logging.INFO)
    try:
        yield made
    finally:
        made.removeHandler(handler)
        made.propagate = True
        made.filters.clear()


def alone(logger: logging.Logger) -> None:
    """Without the handlers pytest adds to the loggers it captures, during a test."""
    logger.handlers[:] = [h for h in logger.handlers if type(h) is LineHandler]


def written(logger: logging.Logger) -> str:
    stream = logger.handlers[0].stream  # type: ignore[attr-defined]
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def test_the_direct_line_is_the_formatters_line(logger: logging.Logger) -> None:
    alone(logger)
    logger.info("%s", "GET /v1/files/ 200 1.0ms", extra={"request": FIELDS})
    assert write_info_line(logger, described, "GET /v1/files/ 200 1.0ms")
    through_logging, direct = (json.loads(line) for line in written(logger).splitlines())
    assert direct.pop("time")[:16] == through_logging.pop("time")[:16]  # the same minute
    assert direct == through_logging
    assert direct["logger"] == "uploadcore.test_access"
    assert direct["level"] == "INFO"


def test_anything_else_that_would_see_the_record_goes_through_logging(
    logger: logging.Logger,
) -> None:
    alone(logger)
    logger.addFilter(logging.Filter("nothing"))
    assert not write_info_line(logger, described, "m")  # a filter on the logger
    logger.filters.clear()
    extra = logging.StreamHandler(io.StringIO())
    logger.addHandler(extra)
    assert not write_info_line(logger, described, "m")  # a second handler
    logger.removeHandler(extra)
    logger.propagate = True
    assert not write_info_line(logger, described, "m")  # the root logger's handlers (pytest's)
    logger.propagate = False
    logger.handlers[0].setFormatter(logging.Formatter())
    assert not write_info_line(logger, described, "m")  # not the JSON format
    assert written(logger) == ""


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_written_in_one_loop_turn_go_out_together_after_it_in_order(
    logger: logging.Logger,
) -> None:
    alone(logger)
    stream = CountingStream()
    logger.handlers[0].setStream(stream)  # type: ignore[attr-defined]

    async def one_turn() -> tuple[str, str]:
        for n in range(3):
            assert write_info_line(logger, described, f"request {n}")
        during = stream.getvalue()
        await asyncio.sleep(0)  # the turn ends: the flush scheduled at the first line runs
        return during, stream.getvalue()

    during, after = asyncio.run(one_turn())

    assert during == ""
    assert [json.loads(line)["message"] for line in after.splitlines()] == [
        "request 0", "request 1", "request 2"
    ]  # fmt: skip
    assert stream.writes == 1


def test_another_record_writes_the_waiting_lines_first(logger: logging.Logger) -> None:
    alone(logger)

    async def turn() -> None:
        assert write_info_line(logger, described, "request")
        logger.warning("after the request")

    asyncio.run(turn())

    messages = [json.loads(line)["message"] for line in written(logger).splitlines()]
    assert messages == ["request", "after the request"]


def test_off_a_loop_a_line_is_written_at_once(logger: logging.Logger) -> None:
    alone(logger)
    assert write_info_line(logger, described, "request")
    assert json.loads(written(logger))["message"] == "request"


def test_lines_a_stopped_loop_left_are_written_at_flush(logger: logging.Logger) -> None:
    alone(logger)
    loop = asyncio.new_event_loop()

    def last_turn() -> None:
        loop.stop()  # this turn is the last: what it schedules never runs
        assert write_info_line(logger, described, "request")

    loop.call_soon(last_turn)
    loop.run_forever()
    loop.close()
    assert written(logger) == ""

    logger.handlers[0].flush()  # as logging.shutdown does at exit

    assert json.loads(written(logger))["message"] == "request"
