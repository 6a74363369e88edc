"""Pump a request body into a part writer, hashing and writing on a second thread."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Sequence
from typing import Protocol, cast, runtime_checkable

from uploadcore.domain.errors import BodyInterrupted, PartTooLarge, UploadcoreError


class Sink(Protocol):
    """Where pumped bytes go: a PartWriter, or an AppendWriter."""

    def write(self, data: bytes | bytearray) -> None: ...


@runtime_checkable
class ChunkSink(Sink, Protocol):
    """A sink that takes the chunks as they came (local disk: one `writev`, no joined copy)."""

    def write_chunks(self, chunks: Sequence[bytes]) -> None: ...


# Big enough that handing a buffer to a thread costs little next to hashing it
# (hashlib releases the GIL on large buffers), small enough that four streams
# stay within a few MiB: at most one buffer is being written while one fills.
BUFFER_SIZE = 1024 * 1024


async def pump(
    chunks: AsyncIterable[bytes], writer: Sink, limit: int, *, keep_partial: bool = False
) -> int:
    """Write every chunk to `writer` and return the byte count.

    Writes run in the default executor while the next buffer fills, so
    receiving overlaps hashing and writing. Raises PartTooLarge as soon as
    more than `limit` bytes arrive, without reading further. With
    `keep_partial`, a body cut off midway (a disconnect, BodyInterrupted) still
    has every byte that arrived written before the error propagates.
    """
    loop = asyncio.get_running_loop()
    flush = _write_chunks if isinstance(writer, ChunkSink) else _write_joined
    in_flight: asyncio.Future[None] | None = None
    # Chunks are gathered by reference and joined on the writer's thread: copying
    # them into one buffer here would cost the event loop a memcpy of every byte.
    pending: list[bytes] = []
    pending_size = 0
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise PartTooLarge(f"the part is larger than its planned {limit} bytes")
            # A producer may reuse a mutable buffer: keep only immutable bytes.
            pending.append(chunk if type(chunk) is bytes else bytes(chunk))
            pending_size += len(chunk)
            if pending_size >= BUFFER_SIZE:
                if in_flight is not None:
                    await in_flight
                in_flight = loop.run_in_executor(None, flush, writer, pending)
                pending, pending_size = [], 0
        if in_flight is not None:
            await in_flight
            in_flight = None
        if pending_size:
            await loop.run_in_executor(None, flush, writer, pending)
        return total
    except Exception as error:
        if keep_partial and _cut_off(error):
            flushing, in_flight = in_flight, None
            if flushing is not None:
                await flushing
            if pending:
                await loop.run_in_executor(None, flush, writer, pending)
        raise
    finally:
        if in_flight is not None:  # an error left a write running: let it finish first
            with contextlib.suppress(Exception):
                await in_flight


def _cut_off(error: Exception) -> bool:
    """Whether the body stopped arriving (a disconnect, a timeout), not refused by us."""
    return isinstance(error, BodyInterrupted) or not isinstance(error, UploadcoreError)


def _write_chunks(writer: Sink, chunks: list[bytes]) -> None:
    """Hand the chunks over as they are; the writer hashes each and writes them at once."""
    cast(ChunkSink, writer).write_chunks(chunks)  # checked in pump
    chunks.clear()


def _write_joined(writer: Sink, chunks: list[bytes]) -> None:
    """Join and write on the worker thread (bytes.join of 1 MiB releases the GIL)."""
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    chunks.clear()  # the joined copy is all we need: free the chunks now
    writer.write(data)
