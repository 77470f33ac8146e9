"""The SQL metadata store (SQLAlchemy Core + Alembic): SQLite embedded, PostgreSQL for teams."""

from modelworks.store.sql.store import SqlMetadataStore

__all__ = ["SqlMetadataStore"]
