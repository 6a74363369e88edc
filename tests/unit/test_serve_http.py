"""`uploadcore serve`'s transport joins an answer's head to its body, and loses no byte."""

from __future__ import annotations

import asyncio
from typing import Any

from uploadcore.entrypoints.cli.serve_http import _JoiningTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def test_a_head_and_its_body_go_in_one_write() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport = _JoiningTransport(recorder)
        transport.write(HEAD)
        assert recorder.writes == []
        transport.write(b"ok")
        await asyncio.sleep(0)  # the loop's next turn: nothing more to send
        return recorder.writes

    assert asyncio.run(run()) == [HEAD + b"ok"]


def test_a_head_alone_goes_out_at_the_loops_next_turn() -> None:
    async def run() -> list[bytes]:
        recorder = Recorder()
        transport = _JoiningTransport(recorder)
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.sleep(0)
        transport.write(b"body, not a head")  # written as it comes
        return recorder.writes

    assert asyncio.run(run()) == [b"HTTP/1.1 100 Continue\r\n\r\n", b"body, not a head"]


def test_close_sends_a_held_head_first_and_the_rest_is_the_transports() -> None:
    async def run() -> Recorder:
        recorder = Recorder()
        transport = _JoiningTransport(recorder)
        transport.write(HEAD)
        assert transport.get_write_buffer_size() == len(HEAD)
        transport.close()
        assert transport.is_closing()
        assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)
        await asyncio.sleep(0)  # the scheduled flush finds nothing left
        return recorder

    recorder = asyncio.run(run())
    assert recorder.writes == [HEAD]
    assert recorder.closed
