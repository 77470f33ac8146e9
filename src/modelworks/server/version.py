"""The installed modelworks version, read once from the package metadata."""

from __future__ import annotations

import functools
from importlib import metadata

__all__ = ["server_version"]


@functools.cache
def server_version() -> str:
    """``modelworks``'s version, or ``0+unknown`` when run from a tree that is not installed."""
    try:
        return metadata.version("modelworks")
    except metadata.PackageNotFoundError:
        return "0+unknown"
