"""Transaction helpers shared by the SQL store's parts: one place where driver errors become
modelworks errors."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from modelworks.errors import StoreUnavailableError
from modelworks.store.sql.engine import make_engines

__all__ = ["SqlBase", "chunks", "suggest"]

CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def suggest(name: str, existing: Sequence[str], what: str) -> str:
    """' Did you mean ...? Existing X: a, b, c.' for not-found messages."""
    if not existing:
        return f" There are no {what} yet."
    close = difflib.get_close_matches(name, existing, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(sorted(existing)[:20]) + (", ..." if len(existing) > 20 else "")
    return f"{hint} Existing {what}: {shown}."


class SqlBase:
    """Holds the engines and opens read or write transactions."""

    _read_engine: Engine
    _write_engine: Engine

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._read_engine, self._write_engine = make_engines(uri)

    def close(self) -> None:
        """Dispose of the connection pools (the store must not be used afterwards)."""
        self._read_engine.dispose()
        if self._write_engine is not self._read_engine:
            self._write_engine.dispose()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._read_engine.connect() as conn, conn.begin():
                yield conn
        except sa_exc.OperationalError as e:
            raise StoreUnavailableError(f"Metadata database error: {e.orig}. Retry later.") from e

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._write_engine.connect() as conn, conn.begin():
                yield conn
        except sa_exc.OperationalError as e:
            raise StoreUnavailableError(f"Metadata database error: {e.orig}. Retry later.") from e
