"""Tables of pipelines: the component registry and the step-reuse index. Defined on the
shared ``metadata``; created by migration ``0004_pipelines``.

A component version's code snapshot is an artifact tree owned by ``component/<name>/<version>``
(so ``ws.gc()`` keeps its blobs); the row holds the validated spec and the tree's hash.
``pipeline_step_reuse`` maps a step fingerprint (component identity + code hash + input
contents + parameters) to the run of the step that last computed it successfully.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, String, Table, Text

from modelworks.store.sql.schema import metadata

__all__ = ["components", "pipeline_step_reuse"]

components = Table(
    "components",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("code_hash", String(64), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)

pipeline_step_reuse = Table(
    "pipeline_step_reuse",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
