"""Pump a request body into a part writer, hashing and writing on a second thread."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable

from uploadcore.domain.errors import PartTooLarge
from uploadcore.ports.blobs import PartWriter

# Big enough that handing a buffer to a thread costs little next to hashing it
# (hashlib releases the GIL on large buffers), small enough that four streams
# stay within a few MiB: at most one buffer is being written while one fills.
BUFFER_SIZE = 1024 * 1024


async def pump(chunks: AsyncIterable[bytes], writer: PartWriter, limit: int) -> int:
    """Write every chunk to `writer` and return the byte count.

    Writes run in the default executor while the next buffer fills, so
    receiving overlaps hashing and writing. Raises PartTooLarge as soon as
    more than `limit` bytes arrive, without reading further.
    """
    loop = asyncio.get_running_loop()
    in_flight: asyncio.Future[None] | None = None
    buffer = bytearray()
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise PartTooLarge(f"the part is larger than its planned {limit} bytes")
            buffer += chunk
            if len(buffer) >= BUFFER_SIZE:
                if in_flight is not None:
                    await in_flight
                in_flight = loop.run_in_executor(None, writer.write, buffer)
                buffer = bytearray()
        if in_flight is not None:
            await in_flight
            in_flight = None
        if buffer:
            await loop.run_in_executor(None, writer.write, buffer)
        return total
    finally:
        if in_flight is not None:  # an error left a write running: let it finish first
            with contextlib.suppress(Exception):
                await in_flight
