"""What the background workers share: waiting for the first of a stop, a wake-up or a time."""

from __future__ import annotations

import asyncio


async def first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Until `stop` or `wake` is set, or `timeout` seconds pass."""
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


__all__ = ["first_of"]
