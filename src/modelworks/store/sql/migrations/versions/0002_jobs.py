"""Jobs: the job queue with leases, live log chunks, workers, environments and computes.

Revision ID: 0002_jobs
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_jobs"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.String(32)
_NAME = sa.String(255)
_MS = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("run_id", _ID, primary_key=True),
        sa.Column("name", _NAME, nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("compute", _NAME, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("parent_id", _ID, nullable=True, index=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", _MS, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("host", _NAME, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("pid_started_at", _MS, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("claimed_at", _MS, nullable=True),
        sa.Column("finished_at", _MS, nullable=True),
    )
    op.create_index("ix_jobs_claim", "jobs", ["state", "compute", "kind", "priority", "created_at"])
    op.create_index("ix_jobs_lease", "jobs", ["state", "lease_expires_at"])
    op.create_table(
        "job_log_chunks",
        sa.Column("run_id", _ID, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("offset", _MS, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host", _NAME, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("computes", sa.JSON, nullable=False),
        sa.Column("started_at", _MS, nullable=False),
        sa.Column("heartbeat_at", _MS, nullable=False),
        sa.Column("stopping", sa.Boolean, nullable=False),
    )
    op.create_table(
        "environments",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("version_num", _MS, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
    )
    op.create_table(
        "computes",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("max_concurrency", sa.Integer, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
    )


def downgrade() -> None:
    for table in ("computes", "environments", "workers", "job_log_chunks", "jobs"):
        op.drop_table(table)
