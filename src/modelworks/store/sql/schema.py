"""The metadata tables. Alembic migrations (``migrations/versions``) create and evolve them;
this module is the SQLAlchemy Core description the store queries through.

Every table is created by a migration, never by an import side effect.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

#: Every table of the metadata database. Capabilities with tables of their own (jobs,
#: endpoints, ...) define them in their own module on this same MetaData; Alembic migrations in
#: ``migrations/versions`` create them (never an import).
metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", String(32), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("user", String(255), nullable=False),
    Column("parent_id", String(32), nullable=True, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("owner", String(600), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
)

data_versions = Table(
    "data_versions",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("version_num", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("profile", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Index("ix_data_versions_hash", "name", "content_hash"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("version_num", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("run_id", String(32), nullable=True, index=True),
    Column("flavors", JSON, nullable=False),
    Column("type", String(32), nullable=False),
    Column("signature", JSON, nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("alias", String(255), primary_key=True),
    Column("version", String(64), nullable=False),
)

lineage = Table(
    "lineage",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("asset_kind", String(16), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Index("ix_lineage_asset", "asset_kind", "name", "version"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)
