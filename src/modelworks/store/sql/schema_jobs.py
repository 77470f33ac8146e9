"""Tables of the jobs capability: the job queue (with leases), live log chunks, workers,
environments and computes. Defined on the shared ``metadata``; created by migration 0002_jobs.

A job's run (status, params, tags, metrics, artifacts) lives in the core ``runs`` tables; the
``jobs`` row holds what only the queue needs: the resolved spec to execute, the compute, the
lease (which worker holds it until when), attempts and the cancel flag.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from modelworks.store.sql.schema import metadata

__all__ = ["computes", "environments", "job_log_chunks", "jobs", "workers"]

jobs = Table(
    "jobs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("compute", String(255), nullable=False),
    Column("state", String(20), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("parent_id", String(32), nullable=True, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=1),
    Column("worker_id", String(64), nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("pid_started_at", BigInteger, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("claimed_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_jobs_claim", "state", "compute", "kind", "priority", "created_at"),
    Index("ix_jobs_lease", "state", "lease_expires_at"),
)

job_log_chunks = Table(
    "job_log_chunks",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("computes", JSON, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("stopping", Boolean, nullable=False, default=False),
)

environments = Table(
    "environments",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("version_num", BigInteger, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
)

computes = Table(
    "computes",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("address", Text, nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    Column("description", Text, nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
