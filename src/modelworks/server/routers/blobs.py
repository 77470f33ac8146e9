"""``/api/v1/blobs``: content-addressed bytes over HTTP.

- ``HEAD /blobs/{digest}``: 200 with ``Content-Length`` if present, 404 if not (clients
  check this to skip uploading content the server already holds).
- ``GET /blobs/{digest}``: the bytes, streamed; ``Range: bytes=N-`` answers 206 from N so an
  interrupted download resumes.
- ``PUT /blobs/{digest}``: the request body, streamed into ``BlobStore.put_stream`` and
  verified against ``digest`` (422 ``INTEGRITY_ERROR`` if it differs).
- ``POST /blobs``: as PUT, for a client that does not know the digest in advance.
- ``DELETE /blobs/{digest}``; ``GET /blobs?after=&limit=``: digests in order, one page a time.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
from typing import Any, BinaryIO, cast

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, Response, StreamingResponse

from modelworks.entities import ArtifactEntry
from modelworks.errors import InvalidInputError, ModelworksError
from modelworks.server.deps import Blobs
from modelworks.server.responses import JSON, page
from modelworks.server.streams import RequestBodyReader, iter_file
from modelworks.store.base import BlobStore

router = APIRouter(prefix="/blobs", tags=["blobs"])
logger = logging.getLogger("modelworks.server")

_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_MAX_PAGE = 10_000
_OCTET = "application/octet-stream"


def _blob_size(blobs: BlobStore, digest: str) -> int | None:
    """The blob's size if the store can tell without reading it."""
    local = blobs.local_path(digest)
    if local is not None and os.path.exists(local):
        return os.path.getsize(local)
    size_of: Any = getattr(blobs, "size", None)
    if callable(size_of):
        return int(size_of(digest))
    return None


def _head(blobs: BlobStore, digest: str) -> int | None:
    """The blob's size (None if unknown); the store's own NotFoundError if it is absent."""
    if not blobs.exists(digest):
        blobs.open(digest).close()  # raises NotFoundError in the store's words
    return _blob_size(blobs, digest)


def _existing_local_path(blobs: BlobStore, digest: str) -> str | None:
    local = blobs.local_path(digest)
    return local if local is not None and os.path.isfile(local) else None


def _parse_range(header: str, size: int | None) -> tuple[int, int | None] | None:
    """``(start, end_inclusive)`` for a single ``bytes=`` range; None to send everything."""
    match = _RANGE_RE.match(header)
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        if size is None:
            return None
        return max(size - int(last), 0), size - 1
    return int(first), int(last) if last else None


@router.head("/{digest:seg}")
async def head_blob(digest: str, blobs: Blobs) -> Response:
    """200 with the size if the blob exists, else 404 (the message in the error headers)."""
    size = await anyio.to_thread.run_sync(_head, blobs, digest)
    headers = {"Accept-Ranges": "bytes", "Content-Type": _OCTET}
    if size is not None:
        headers["Content-Length"] = str(size)
    return Response(status_code=200, headers=headers)


@router.get("/{digest:seg}", response_class=Response)
async def get_blob(digest: str, request: Request, blobs: Blobs) -> Response:
    """The blob's bytes; honours ``Range: bytes=N-`` (206)."""
    local = await anyio.to_thread.run_sync(_existing_local_path, blobs, digest)
    if local is not None:
        return FileResponse(local, media_type=_OCTET)
    stream = await anyio.to_thread.run_sync(blobs.open, digest)
    size = await anyio.to_thread.run_sync(_blob_size, blobs, digest)
    wanted = _parse_range(request.headers.get("range", ""), size)
    headers = {"Accept-Ranges": "bytes"}
    if wanted is None:
        if size is not None:
            headers["Content-Length"] = str(size)
        return StreamingResponse(iter_file(stream), media_type=_OCTET, headers=headers)
    start, end = wanted
    if size is not None:
        if start >= size:
            await anyio.to_thread.run_sync(stream.close)
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        end = size - 1 if end is None else min(end, size - 1)
    length = None if end is None else end - start + 1
    if size is not None and end is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(length)
    return StreamingResponse(
        iter_file(stream, skip=start, length=length),
        status_code=206,
        media_type=_OCTET,
        headers=headers,
    )


async def _store_body(request: Request, blobs: BlobStore, expected: str | None) -> Response:
    """Stream the request body into ``blobs.put_stream``; answer the stored entry (201)."""
    chunks = request.stream()
    reader = RequestBodyReader(chunks)

    def put() -> ArtifactEntry:
        return blobs.put_stream(cast(BinaryIO, reader), expected_digest=expected)

    try:
        entry = await anyio.to_thread.run_sync(put)
    except ClientDisconnect:  # nothing was stored, and nobody is left to answer
        logger.info("%s %s: the client disconnected mid-upload", request.method, request.url.path)
        return Response(status_code=400)
    except ModelworksError:
        # Read the rest of the body so that the client gets to read this error.
        if not reader.at_eof:
            async for _ in chunks:
                pass
        raise
    return JSON(entry.to_dict(), status_code=201)


@router.put("/{digest:seg}", status_code=201)
async def put_blob(digest: str, request: Request, blobs: Blobs) -> Response:
    """Store the request body as the blob ``digest``; 422 if its sha256 differs."""
    return await _store_body(request, blobs, digest)


@router.post("", status_code=201)
async def post_blob(request: Request, blobs: Blobs) -> Response:
    """Store the request body; answers its entry (digest and size)."""
    return await _store_body(request, blobs, None)


@router.delete("/{digest:seg}", status_code=204)
def delete_blob(digest: str, blobs: Blobs) -> Response:
    """Delete a blob (used by garbage collection)."""
    blobs.delete(digest)
    return Response(status_code=204)


@router.get("")
def list_blobs(blobs: Blobs, after: str = "", limit: int = 1000) -> Response:
    """Digests greater than ``after``, in order, at most ``limit`` (≤ 10,000) per page."""
    if not 1 <= limit <= _MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {_MAX_PAGE}; got {limit}.")
    chunk = heapq.nsmallest(limit + 1, (d for d in blobs.iter_digests() if d > after))
    more = len(chunk) > limit
    chunk = chunk[:limit]
    return page(chunk, chunk[-1] if more and chunk else None)
