"""FastAPI dependencies giving routes the stores the app was created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from modelworks.store.base import BlobStore, MetadataStore

__all__ = ["Blobs", "Meta", "get_blobs", "get_meta"]


async def get_meta(request: Request) -> MetadataStore:
    """The app's metadata store (``async`` so that it needs no thread hop)."""
    meta: MetadataStore = request.app.state.meta
    return meta


async def get_blobs(request: Request) -> BlobStore:
    """The app's blob store."""
    blobs: BlobStore = request.app.state.blobs
    return blobs


Meta = Annotated[MetadataStore, Depends(get_meta)]
Blobs = Annotated[BlobStore, Depends(get_blobs)]
