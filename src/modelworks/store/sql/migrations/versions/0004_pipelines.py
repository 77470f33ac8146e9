"""Pipelines: the component registry and the step-reuse index.

Revision ID: 0004_pipelines
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_pipelines"
down_revision = "0001"
branch_labels = ("pipelines",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "pipeline_step_reuse",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pipeline_step_reuse")
    op.drop_table("components")
