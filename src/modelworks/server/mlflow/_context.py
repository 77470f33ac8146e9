"""What an MLflow route handler gets besides its request fields."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from modelworks.entities import Token
from modelworks.store.base import BlobStore, MetadataStore

__all__ = ["Context"]


@dataclass
class Context:
    """The app's stores, the caller's token (None with auth off), path parameters, the scope."""

    meta: MetadataStore
    blobs: BlobStore
    token: Token | None
    path: dict[str, str]
    scope: Scope
