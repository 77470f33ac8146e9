"""The MLflow artifact proxy (``/api/2.0/mlflow-artifacts/...``) over our artifact trees.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment>/<run>/artifacts``, so the MLflow
client uploads, lists, downloads and deletes through these routes, which read and write the
run's manifest (owner ``run/<id>``) over the content-addressed blob store: an uploaded file is
streamed into ``BlobStore.put_stream`` (hashed on the way, stored once) and then named in the
manifest. Paths are resolved by ``_locations.parse_proxy_path``.

Multipart upload (used by the client for files of ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE``
and more): ``create`` answers one URL per part on this server (carrying the caller's
Authorization header); each part is stored as a blob whose sha256 is its ETag; ``complete``
streams the parts, in order, into the final blob. Nothing is kept between the calls, so any
server process of the workspace can take any of them; parts of an aborted upload are blobs no
manifest references, which ``ws.gc()`` reclaims.
"""

from __future__ import annotations

import io
import mimetypes
import os
import posixpath
import uuid
from collections.abc import AsyncIterator
from typing import Any, BinaryIO, cast

import anyio.to_thread
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Send

from modelworks.entities import ArtifactEntry
from modelworks.server.mlflow._asgi import send_json
from modelworks.server.mlflow._context import Context
from modelworks.server.mlflow._convert import LOGGED_MODEL_KIND
from modelworks.server.mlflow._errors import MlflowError
from modelworks.server.mlflow._locations import Location, list_children, parse_proxy_path
from modelworks.server.mlflow._request import Fields
from modelworks.server.streams import RequestBodyReader, iter_file
from modelworks.store.base import BlobStore, MetadataStore

__all__ = [
    "abort_multipart",
    "complete_multipart",
    "create_multipart",
    "delete_artifact",
    "download_artifact",
    "list_artifacts",
    "server_info",
    "upload_artifact",
    "upload_part",
]

_PART_ROUTE = "/api/2.0/mlflow-artifacts/mpu/part"


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _store_body(blobs: BlobStore, reader: RequestBodyReader) -> ArtifactEntry:
    return blobs.put_stream(cast(BinaryIO, reader))


def _writable(meta: MetadataStore, location: Location, path: str) -> None:
    """Refuse writes to registry versions, missing or deleted runs, and the tree root."""
    if not location.writable:
        raise MlflowError(
            "PERMISSION_DENIED",
            f"{path!r} belongs to a registered model version, whose files are immutable; "
            "log to a run and register a new version instead.",
        )
    if not location.prefix:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Artifact path {path!r} names no file; add a file name."
        )
    run = meta.get_run(location.owner[len("run/") :])
    if location.model_id and run.kind != LOGGED_MODEL_KIND:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{location.model_id}' not found."
        )
    if run.deleted:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Run '{run.id}' is deleted; restore it before logging artifacts to it.",
        )


# -- proxy: download, upload, list, delete ---------------------------------------------------
async def download_artifact(ctx: Context, receive: Receive, send: Send) -> None:
    path = ctx.path["path"]
    location = parse_proxy_path(path)
    entries = await anyio.to_thread.run_sync(
        ctx.meta.list_artifact_entries, location.owner, location.prefix
    )
    entry = next((e for e in entries if e.path == location.prefix), None)
    if entry is None:
        hint = " It is a folder: list it instead." if entries else ""
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No artifact at {path!r}.{hint}")
    media_type = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"
    local = ctx.blobs.local_path(entry.digest)
    response: Response
    if local is not None and await anyio.to_thread.run_sync(os.path.isfile, local):
        response = FileResponse(local, media_type=media_type)
    else:
        stream = await anyio.to_thread.run_sync(ctx.blobs.open, entry.digest)
        response = StreamingResponse(
            iter_file(stream),
            media_type=media_type,
            headers={"Content-Length": str(entry.size)},
        )
    await response(ctx.scope, receive, send)


async def upload_artifact(ctx: Context, receive: Receive, send: Send) -> None:
    path = ctx.path["path"]
    location = parse_proxy_path(path)
    await anyio.to_thread.run_sync(_writable, ctx.meta, location, path)
    reader = RequestBodyReader(_body(receive))
    stored = await anyio.to_thread.run_sync(_store_body, ctx.blobs, reader)
    entry = ArtifactEntry(location.prefix, stored.digest, stored.size)
    await anyio.to_thread.run_sync(ctx.meta.put_artifact_entries, location.owner, [entry])
    await send_json(send, {})


def list_artifacts(ctx: Context, q: Fields) -> dict[str, Any]:
    """``GET /mlflow-artifacts/artifacts?path=``: the children of a folder, by base name."""
    location = parse_proxy_path(q.text("path"))
    files = []
    for full, is_dir, size in list_children(ctx.meta, location.owner, location.prefix):
        item: dict[str, Any] = {"path": full.rsplit("/", 1)[-1], "is_dir": is_dir}
        if size is not None:
            item["file_size"] = size
        files.append(item)
    return {"files": files}


def delete_artifact(ctx: Context, q: Fields) -> dict[str, Any]:
    path = ctx.path["path"]
    location = parse_proxy_path(path)
    _writable(ctx.meta, location, path)
    ctx.meta.delete_artifact_entries(location.owner, location.prefix)
    return {}


# -- multipart upload ----------------------------------------------------------------------
def _base_url(ctx: Context) -> str:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in ctx.scope["headers"]}
    host = headers.get("host")
    if not host:
        server = ctx.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    scheme = headers.get("x-forwarded-proto") or ctx.scope.get("scheme", "http")
    return f"{scheme}://{host}{ctx.scope.get('root_path', '')}"


def _upload_target(ctx: Context, q: Fields) -> Location:
    """Where a multipart upload lands: the route names the folder, ``path`` the local file."""
    folder = ctx.path["path"]
    name = posixpath.basename(q.text("path", required=True).replace("\\", "/"))
    path = posixpath.join(folder, name)
    location = parse_proxy_path(path)
    _writable(ctx.meta, location, path)
    return location


def create_multipart(ctx: Context, q: Fields) -> dict[str, Any]:
    _upload_target(ctx, q)
    parts = q.req_integer("num_parts", minimum=1, maximum=10_000)
    upload_id = uuid.uuid4().hex
    headers: dict[str, str] = {}
    for key, value in ctx.scope["headers"]:
        if key == b"authorization":
            headers["Authorization"] = value.decode("latin-1")
    base = _base_url(ctx)
    credentials = [
        {"url": f"{base}{_PART_ROUTE}/{upload_id}/{n}", "part_number": n, "headers": headers}
        for n in range(1, parts + 1)
    ]
    return {"upload_id": upload_id, "credentials": credentials}


async def upload_part(ctx: Context, receive: Receive, send: Send) -> None:
    """Store one part as a blob; its sha256 is the ETag the client hands back on complete."""
    reader = RequestBodyReader(_body(receive))
    stored = await anyio.to_thread.run_sync(_store_body, ctx.blobs, reader)
    await send_json(send, {}, headers={"ETag": stored.digest})


class _Parts(io.RawIOBase):
    """The blobs of an upload's parts read one after the other."""

    def __init__(self, blobs: BlobStore, digests: list[str]) -> None:
        super().__init__()
        self._blobs = blobs
        self._digests = list(digests)
        self._current: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while True:
            if self._current is None:
                if not self._digests:
                    return 0
                self._current = self._blobs.open(self._digests.pop(0))
            data = self._current.read(len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


def complete_multipart(ctx: Context, q: Fields) -> dict[str, Any]:
    location = _upload_target(ctx, q)
    parts = sorted(
        ((p.req_integer("part_number"), p.text("etag", required=True)) for p in q.objects("parts")),
        key=lambda pair: pair[0],
    )
    if not parts:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'parts'."
        )
    for number, digest in parts:
        if not ctx.blobs.exists(digest):
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"Part {number} (ETag {digest!r}) of upload {q.text('upload_id')!r} was never "
                "uploaded here; upload it again or restart the upload.",
            )
    with _Parts(ctx.blobs, [digest for _, digest in parts]) as stream:
        stored = ctx.blobs.put_stream(cast(BinaryIO, stream))
    ctx.meta.put_artifact_entries(
        location.owner, [ArtifactEntry(location.prefix, stored.digest, stored.size)]
    )
    return {}


def abort_multipart(ctx: Context, q: Fields) -> dict[str, Any]:
    """Nothing to undo: stored parts are unreferenced blobs, reclaimed by ``ws.gc()``."""
    parse_proxy_path(ctx.path["path"])
    return {}


def presigned_download(ctx: Context, q: Fields) -> dict[str, Any]:
    raise MlflowError(
        "NOT_IMPLEMENTED",
        "Multipart download is not supported for the current artifact repository; "
        "downloads stream through this server (unset MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD).",
    )


def server_info(ctx: Context, q: Fields) -> dict[str, Any]:
    """``/api/3.0/mlflow/server-info``: what the MLflow client probes before big transfers."""
    return {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": True,
        "multipart_downloads_enabled": False,
    }
