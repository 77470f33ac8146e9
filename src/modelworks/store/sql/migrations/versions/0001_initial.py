"""Initial schema: experiments, runs, params, tags, metrics, artifacts, data, models, lineage, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.String(32)
_NAME = sa.String(255)
_MS = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", _NAME, nullable=False, unique=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("experiment_id", _ID, nullable=False, index=True),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("user", _NAME, nullable=False),
        sa.Column("parent_id", _ID, nullable=True, index=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("start_time", _MS, nullable=True),
        sa.Column("end_time", _MS, nullable=True),
        sa.Column("heartbeat_at", _MS, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_runs_status_heartbeat", "runs", ["status", "heartbeat_at"])
    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column("run_id", _ID, primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metrics",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", _MS, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", _ID, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", _MS, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])
    op.create_table(
        "artifacts",
        sa.Column("owner", sa.String(600), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "data_versions",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("version_num", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON, nullable=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
    )
    op.create_index("ix_data_versions_hash", "data_versions", ["name", "content_hash"])
    op.create_table(
        "registered_models",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("updated_at", _MS, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("version_num", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", _ID, nullable=True, index=True),
        sa.Column("flavors", sa.JSON, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("signature", sa.JSON, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("alias", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
    )
    op.create_table(
        "lineage",
        sa.Column("run_id", _ID, primary_key=True),
        sa.Column("direction", sa.String(8), primary_key=True),
        sa.Column("asset_kind", sa.String(16), primary_key=True),
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
    )
    op.create_index("ix_lineage_asset", "lineage", ["asset_kind", "name", "version"])
    op.create_table(
        "tokens",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("last_used_at", _MS, nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "tokens",
        "lineage",
        "model_aliases",
        "model_versions",
        "registered_models",
        "data_versions",
        "artifacts",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiments",
    ):
        op.drop_table(table)
