"""Online endpoints: endpoints, keys (hashed), deployments, the hosting process, a revision.

Revision ID: 0002_endpoints
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_endpoints"
down_revision = "0001"
branch_labels = ("endpoints",)
depends_on = None

_NAME = sa.String(64)
_MS = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "endpoint_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "online_endpoints",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("auth_mode", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("traffic", sa.JSON, nullable=False),
        sa.Column("mirror_traffic", sa.JSON, nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("token_secret", sa.String(128), nullable=False),
        sa.Column("provisioning_state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("updated_at", _MS, nullable=False),
    )
    op.create_table(
        "online_endpoint_keys",
        sa.Column("endpoint_name", _NAME, primary_key=True),
        sa.Column("slot", sa.String(16), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("pending", sa.Text, nullable=True),
        sa.Column("created_at", _MS, nullable=False),
    )
    op.create_table(
        "online_deployments",
        sa.Column("endpoint_name", _NAME, primary_key=True),
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("model_name", sa.String(255), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("code_owner", sa.String(255), nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("provisioning_state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("runtime", sa.JSON, nullable=False),
        sa.Column("created_at", _MS, nullable=False),
        sa.Column("updated_at", _MS, nullable=False),
    )
    op.create_table(
        "endpoint_hosts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _MS, nullable=False),
        sa.Column("heartbeat_at", _MS, nullable=False),
        sa.Column("applied_revision", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "endpoint_hosts",
        "online_deployments",
        "online_endpoint_keys",
        "online_endpoints",
        "endpoint_state",
    ):
        op.drop_table(table)
