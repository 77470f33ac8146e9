"""Schedules (with one row per fired occurrence) and published pipeline endpoints.

Revision ID: 0005_triggers
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_triggers"
down_revision = "0001"
branch_labels = ("triggers",)
depends_on = None

_ID = sa.String(32)
_NAME = sa.String(255)
_MS = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", _NAME, nullable=False, unique=True),
        sa.Column("display_name", _NAME, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("trigger", sa.JSON, nullable=False),
        sa.Column("action", sa.JSON, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("missed_policy", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("origin_at", _MS, nullable=False),
        sa.Column("last_occurrence_at", _MS, nullable=True),
        sa.Column("next_fire_at", _MS, nullable=True, index=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("updated_at", _MS, nullable=False),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule_id", _ID, primary_key=True),
        sa.Column("occurrence_at", _MS, primary_key=True),
        sa.Column("schedule_name", _NAME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("job_name", _NAME, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("missed", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", _MS, nullable=False),
        sa.Column("finished_at", _MS, nullable=True),
    )
    op.create_index("ix_schedule_fires_state", "schedule_fires", ["state", "claimed_at"])
    op.create_table(
        "pipeline_endpoints",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("default_version", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("updated_at", _MS, nullable=False),
    )
    op.create_table(
        "pipeline_endpoint_versions",
        sa.Column("endpoint_name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("version_num", sa.Integer, nullable=False),
        sa.Column("template", sa.JSON, nullable=False),
        sa.Column("job_type", sa.String(32), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
    )
    op.create_table(
        "pipeline_endpoint_keys",
        sa.Column("endpoint_name", _NAME, primary_key=True),
        sa.Column("slot", sa.String(16), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, index=True),
        sa.Column("pending", sa.Text, nullable=True),
        sa.Column("created_at", _MS, nullable=False),
    )
    op.create_table(
        "pipeline_endpoint_runs",
        sa.Column("endpoint_name", _NAME, primary_key=True),
        sa.Column("job_name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("invoked_by", _NAME, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
    )
    op.create_index(
        "ix_pipeline_endpoint_runs_time", "pipeline_endpoint_runs", ["endpoint_name", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "pipeline_endpoint_runs",
        "pipeline_endpoint_keys",
        "pipeline_endpoint_versions",
        "pipeline_endpoints",
        "schedule_fires",
        "schedules",
    ):
        op.drop_table(table)
