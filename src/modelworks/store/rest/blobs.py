"""``RestBlobStore``: the BlobStore port over a server's ``/api/v1/blobs`` routes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import httpx

from modelworks.entities import ArtifactEntry
from modelworks.errors import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from modelworks.store.base import BlobStore
from modelworks.store.rest._http import CHUNK_SIZE, RETRY_DELAYS, Http, items, seg

try:  # POSIX only; without it concurrent get_file calls to one dest are not serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["RestBlobStore"]

_OCTET_HEADERS = {"Content-Type": "application/octet-stream"}


def _checked_chunk(chunk: Any) -> bytes:
    if not isinstance(chunk, bytes | bytearray | memoryview):
        raise InvalidInputError(
            f"The stream returned {type(chunk).__name__}, not bytes: open files in binary "
            "mode ('rb') or wrap text in io.BytesIO(text.encode())."
        )
    return bytes(chunk)


def _read_chunk(stream: BinaryIO) -> bytes:
    """The next chunk of ``stream`` (waiting on a non-blocking one); b'' at the end."""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if chunk is None:  # a non-blocking raw stream with nothing ready yet
            time.sleep(0.001)
            continue
        return _checked_chunk(chunk)


def _stream_chunks(first: bytes, stream: BinaryIO) -> Iterator[bytes]:
    chunk = first
    while chunk:
        yield chunk
        chunk = _read_chunk(stream)


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


def _hash_file(path: str) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


@contextlib.contextmanager
def _locked_part(path: str) -> Iterator[BinaryIO]:
    """Open (creating) the partial download ``path`` for read/append under an exclusive lock.

    Threads and processes downloading to one destination take turns; a waiter that wakes
    after the holder renamed the file reopens the path instead of appending to a stale file.
    """
    while True:
        fh = open(path, "a+b")  # noqa: SIM115 - closed below or by the caller's with-block
        try:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    current = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
                except FileNotFoundError:
                    current = False
                if not current:
                    continue
            yield fh
            return
        finally:
            fh.close()


class _ResponseReader(io.RawIOBase):
    """A readable binary stream over a streamed httpx response (closing it closes the response)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__()
        self._response = response
        self._chunks = response.iter_bytes(CHUNK_SIZE)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._buffer:
            try:
                self._buffer = next(self._chunks, b"")
            except httpx.TransportError as e:
                raise StoreUnavailableError(
                    f"The connection to {self._response.request.url} broke while reading the "
                    f"blob ({e or type(e).__name__}); open it again (get_file resumes).",
                ) from e
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class RestBlobStore(BlobStore):
    """A BlobStore served by ``modelworks server`` at ``base_url`` (``/api/v1/blobs``).

    ``token`` defaults to the ``MODELWORKS_TOKEN`` environment variable.
    """

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.uri = base_url.rstrip("/")
        self._http = Http(self.uri, token, read_timeout=300.0)

    def __repr__(self) -> str:
        return f"RestBlobStore({self.uri!r})"

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    # -- queries ----------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        response = self._http.request("HEAD", f"/blobs/{seg(digest)}", idempotent=True, ok=(404,))
        return response.status_code == 200

    def size(self, digest: str) -> int:
        """The blob's size in bytes; NotFoundError if absent."""
        response = self._http.request("HEAD", f"/blobs/{seg(digest)}", idempotent=True)
        length = response.headers.get("content-length")
        if length is None:
            with self.open(digest) as fh:
                return sum(len(c) for c in iter(lambda: fh.read(CHUNK_SIZE), b""))
        return int(length)

    def iter_digests(self) -> Iterator[str]:
        after = ""
        while True:
            data = self._http.json(
                "GET", "/blobs", params={"after": after, "limit": 1000}, idempotent=True
            )
            yield from items(data)
            after = data.get("next_page_token") or ""
            if not after:
                return

    # -- writes -----------------------------------------------------------------------------
    def put_file(self, path: str) -> ArtifactEntry:
        """Upload a local file unless the server already has its content (checked by HEAD)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise InvalidInputError(
                f"{path!r} is a directory; put_file stores one file. Upload each file of the "
                "folder separately."
            )
        try:
            digest, size = _hash_file(path)
        except FileNotFoundError as e:
            raise NotFoundError(
                f"File {path!r} does not exist; give the path of an existing local file.",
                path=path,
            ) from e
        if not self.exists(digest):
            headers = {**_OCTET_HEADERS, "Content-Length": str(size)}
            for attempt in range(3):
                try:
                    self._http.request(
                        "PUT", f"/blobs/{digest}", content=_file_chunks(path), headers=headers
                    )
                    break
                except StoreUnavailableError:
                    if attempt == 2:
                        raise
                    time.sleep(RETRY_DELAYS[-1])
        return ArtifactEntry(path=os.path.basename(path), digest=digest, size=size)

    def put_stream(self, stream: BinaryIO, *, expected_digest: str | None = None) -> ArtifactEntry:
        """Upload bytes read from ``stream`` (to its end); the server verifies the digest."""
        first = _read_chunk(stream)
        if expected_digest is None:
            method, path = "POST", "/blobs"
        else:
            method, path = "PUT", f"/blobs/{seg(expected_digest)}"
        data = self._http.json(
            method, path, content=_stream_chunks(first, stream), headers=_OCTET_HEADERS
        )
        return ArtifactEntry.from_dict(data)

    def delete(self, digest: str) -> None:
        self._http.request("DELETE", f"/blobs/{seg(digest)}", idempotent=True)

    # -- reads ------------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream of the blob, streamed from the server; close it when done."""
        response = self._http.request("GET", f"/blobs/{seg(digest)}", idempotent=True, stream=True)
        return io.BufferedReader(_ResponseReader(response), buffer_size=CHUNK_SIZE)

    def get_file(self, digest: str, dest: str) -> None:
        """Download the blob to ``dest`` atomically, resuming ``dest + '.part'``; verify it.

        A completed file that fails verification is deleted and, if it had been resumed from
        an older partial file, downloaded once more from the start. IntegrityError if the
        server's copy itself does not match its digest (nothing is left behind then).
        """
        expected_size = self.size(digest)  # validates the digest; NotFoundError if absent
        dest = os.fspath(dest)
        part = dest + ".part"
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        actual = ""
        for _attempt in range(2):
            with _locked_part(part) as fh:
                actual, resumed = self._fill_part(digest, fh, expected_size)
                if actual == digest:
                    os.replace(part, dest)
                    return
                os.unlink(part)
            if not resumed:
                break
        raise IntegrityError(
            f"Blob {digest} downloaded from {self.uri} is corrupt: its content hashes to "
            f"{actual}. The download to {dest!r} was discarded; restore the blob on the server "
            "or upload the original file again.",
            digest=digest,
            actual=actual,
        )

    def _fill_part(self, digest: str, fh: BinaryIO, expected_size: int) -> tuple[str, bool]:
        """Complete the partial file ``fh`` from the server; return (its sha256, resumed?)."""
        hasher = hashlib.sha256()
        fh.seek(0)
        offset = 0
        while chunk := fh.read(CHUNK_SIZE):
            hasher.update(chunk)
            offset += len(chunk)
        if offset > expected_size:  # cannot be a prefix of this blob: start again
            fh.seek(0)
            fh.truncate()
            hasher, offset = hashlib.sha256(), 0
        resumed = offset > 0
        failures = 0
        while offset < expected_size:
            headers = {"Range": f"bytes={offset}-"} if offset else None
            response = self._http.request(
                "GET",
                f"/blobs/{seg(digest)}",
                headers=headers,
                idempotent=True,
                stream=True,
                ok=(416,),
            )
            try:
                if response.status_code == 416:
                    break
                if response.status_code != 206 and offset:  # the server sent everything
                    fh.seek(0)
                    fh.truncate()
                    hasher, offset = hashlib.sha256(), 0
                before = offset
                try:
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        fh.write(chunk)
                        hasher.update(chunk)
                        offset += len(chunk)
                except httpx.TransportError as e:  # dropped mid-download: resume from offset
                    failures += 1
                    if failures > 3:
                        raise self._http.unreachable(e) from e
                    continue
                if offset == before:  # the server has nothing more to give
                    break
            finally:
                response.close()
        fh.flush()
        os.fsync(fh.fileno())
        return hasher.hexdigest(), resumed
