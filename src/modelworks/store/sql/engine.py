"""Engines for SQLite and PostgreSQL, tuned for many small writes from several processes, and
schema migration on open.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE``
so two writers queue on the lock instead of failing on a read→write upgrade.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

from modelworks.errors import MissingDependencyError, StoreUnavailableError

__all__ = ["make_engines", "upgrade_schema"]

SQLITE_BUSY_TIMEOUT_MS = 60_000


def _normalise_url(uri: str) -> str:
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    return uri


def make_engines(uri: str) -> tuple[Engine, Engine]:
    """Return ``(read_engine, write_engine)``; the same engine twice except on SQLite."""
    url = _normalise_url(uri)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, write=False), _sqlite_engine(url, write=True)
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError as e:
            raise MissingDependencyError(
                'PostgreSQL needs the psycopg driver: pip install "modelworks[postgres]".'
            ) from e
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        return engine, engine
    return (create_engine(url),) * 2


def _sqlite_engine(url: str, *, write: bool) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if path in ("", ":memory:"):
        kwargs["poolclass"] = NullPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA case_sensitive_like=ON")  # LIKE is case-sensitive, as on PostgreSQL
        cursor.close()

    begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


@functools.cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts shipped with this version."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(MIGRATIONS).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return frozenset()
        return frozenset(
            str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
        )


def upgrade_schema(engine: Engine, revision: str = "heads") -> None:
    """Run Alembic migrations up to ``revision`` (skipped when already at the heads)."""
    try:
        if revision == "heads" and current_revisions(engine) == head_revisions():
            return
    except Exception as e:
        raise StoreUnavailableError(
            f"Cannot open the metadata database {engine.url.render_as_string(hide_password=True)}"
            f": {e}. Check the URL and that the server is running."
        ) from e
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes opening a fresh database at once: the second waits, then finds
            # the schema current and does nothing.
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
