"""Storage adapters, chosen from a URI in one place (as Optuna picks a storage).

- ``sqlite:///path.db``, ``postgresql+psycopg://...`` → :class:`store.sql.SqlMetadataStore`
- ``http(s)://host:port`` → :class:`store.rest.RestMetadataStore` / ``RestBlobStore``
- a local path or any fsspec URL (``s3://``, ``memory://``) → :class:`store.blobs.FsspecBlobStore`
"""

from __future__ import annotations

from modelworks.store.base import BlobStore, MetadataStore

__all__ = ["BlobStore", "MetadataStore", "open_blobs", "open_metadata"]


def open_metadata(uri: str, *, token: str | None = None) -> MetadataStore:
    """Open the metadata store named by ``uri`` (migrating a SQL database to the latest schema)."""
    if uri.startswith(("http://", "https://")):
        from modelworks.store.rest import RestMetadataStore

        return RestMetadataStore(uri, token=token)
    from modelworks.store.sql import SqlMetadataStore

    return SqlMetadataStore(uri)


def open_blobs(uri: str, *, token: str | None = None) -> BlobStore:
    """Open the blob store named by ``uri``."""
    if uri.startswith(("http://", "https://")):
        from modelworks.store.rest import RestBlobStore

        return RestBlobStore(uri, token=token)
    from modelworks.store.blobs import FsspecBlobStore

    return FsspecBlobStore(uri)
