"""Bridges between the async HTTP layer and the blocking blob store.

:class:`RequestBodyReader` lets ``BlobStore.put_stream`` (blocking, run in a worker thread)
read a request body chunk by chunk as the client sends it, so an upload is never held whole
in memory or spooled twice. :func:`iter_file` streams a blocking file object back out.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio.from_thread
import anyio.to_thread

__all__ = ["CHUNK_SIZE", "RequestBodyReader", "iter_file"]

CHUNK_SIZE = 1024 * 1024


class RequestBodyReader(io.RawIOBase):
    """A readable binary file over an async byte-chunk iterator (e.g. ``request.stream()``).

    Must be read from a thread started with ``anyio.to_thread.run_sync``: each refill hops
    back to the event loop to await the next chunk.
    """

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self._eof = False
        self.bytes_read = 0

    @property
    def at_eof(self) -> bool:
        """Whether the whole body has been received."""
        return self._eof

    def readable(self) -> bool:
        return True

    async def _next_chunk(self) -> bytes | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None

    def _fill(self) -> None:
        while not self._buffer and not self._eof:
            chunk = anyio.from_thread.run(self._next_chunk)
            if chunk is None:
                self._eof = True
            else:
                self._buffer = memoryview(chunk)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        self._fill()
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.bytes_read += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        self._fill()
        data = bytes(self._buffer[:size])
        self._buffer = self._buffer[len(data) :]
        self.bytes_read += len(data)
        return data

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while True:
            data = self.read(CHUNK_SIZE)
            if not data:
                return b"".join(parts)
            parts.append(data)


async def iter_file(
    stream: BinaryIO, *, skip: int = 0, length: int | None = None
) -> AsyncIterator[bytes]:
    """Yield ``stream``'s bytes (after skipping ``skip``, at most ``length``), then close it."""
    try:
        if skip:
            if stream.seekable():
                await anyio.to_thread.run_sync(stream.seek, skip)
            else:
                left = skip
                while left > 0:
                    dropped = await anyio.to_thread.run_sync(stream.read, min(left, CHUNK_SIZE))
                    if not dropped:
                        break
                    left -= len(dropped)
        remaining = length
        while remaining is None or remaining > 0:
            want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
            chunk = await anyio.to_thread.run_sync(stream.read, want)
            if not chunk:
                break
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        await anyio.to_thread.run_sync(stream.close)
