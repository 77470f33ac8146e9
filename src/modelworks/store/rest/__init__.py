"""The storage ports over HTTP: a ``modelworks server`` seen as a MetadataStore and a BlobStore.

``Workspace("http://host:8080", token=...)`` uses these adapters; they call the server's
``/api/v1`` routes, which mirror the store methods one-to-one, so a caller gets the same
results and the same exception classes and messages as with a local workspace (the server
sends ``{"error_code", "message", "details"}``; :func:`~modelworks.errors.error_from_payload`
rebuilds the exception).

Behaviour:

- One keep-alive ``httpx.Client`` per store, safe to share between threads and recreated in
  a forked child process. Connection failures are retried a couple of times (the request was
  not sent); idempotent calls are also retried when a connection drops mid-request. A server
  that stays unreachable raises :class:`~modelworks.errors.StoreUnavailableError`.
- Identifiers travel percent-encoded in path segments (see ``server/paths.py``); artifact
  owners and keys that may contain '/' travel as query parameters or in the body.
- Blob uploads stream from the file (never read whole) and are skipped when ``HEAD`` shows
  the server already holds the content. Downloads go to ``dest + ".part"``, resume from its
  size with ``Range``, are verified by sha256 and renamed into place.

httpx is imported here only.
"""

from __future__ import annotations

from modelworks.store.rest.blobs import RestBlobStore
from modelworks.store.rest.metadata import RestMetadataStore

__all__ = ["RestBlobStore", "RestMetadataStore"]
