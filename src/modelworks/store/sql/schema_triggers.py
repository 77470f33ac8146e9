"""Tables of schedules and published pipeline endpoints, on the shared ``metadata`` (created by
migration ``0005_triggers``).

- ``schedules``: a schedule's trigger, the snapshotted job it creates, whether it is enabled,
  the last occurrence it has handled and the next one due (``next_fire_at``, indexed, so a
  scheduler finds due work with one range query).
- ``schedule_fires``: one row per fired occurrence. Its primary key (schedule, occurrence) is
  what makes an occurrence fire at most once, whatever the number of scheduler processes: the
  row is inserted in the transaction that advances the schedule, and a second inserter fails.
- ``pipeline_endpoints`` / ``pipeline_endpoint_versions``: a published job definition per
  version (a snapshot in the blob store) and the default version.
- ``pipeline_endpoint_keys``: primary and secondary keys as sha256 hashes; ``pending`` holds a
  new key's text only until it is shown once.
- ``pipeline_endpoint_runs``: the jobs each endpoint started.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from modelworks.store.sql.schema import metadata

__all__ = [
    "pipeline_endpoint_keys",
    "pipeline_endpoint_runs",
    "pipeline_endpoint_versions",
    "pipeline_endpoints",
    "schedule_fires",
    "schedules",
]

schedules = Table(
    "schedules",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("display_name", String(255), nullable=True),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("action", JSON, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("missed_policy", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("origin_at", BigInteger, nullable=False),
    Column("last_occurrence_at", BigInteger, nullable=True),
    Column("next_fire_at", BigInteger, nullable=True, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("schedule_id", String(32), primary_key=True),
    Column("occurrence_at", BigInteger, primary_key=True),
    Column("schedule_name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("job_name", String(255), nullable=True),
    Column("error", Text, nullable=True),
    Column("missed", Integer, nullable=False),
    Column("claimed_by", String(128), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_schedule_fires_state", "state", "claimed_at"),
)

pipeline_endpoints = Table(
    "pipeline_endpoints",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("default_version", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

pipeline_endpoint_versions = Table(
    "pipeline_endpoint_versions",
    metadata,
    Column("endpoint_name", String(255), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("version_num", Integer, nullable=False),
    Column("template", JSON, nullable=False),
    Column("job_type", String(32), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

pipeline_endpoint_keys = Table(
    "pipeline_endpoint_keys",
    metadata,
    Column("endpoint_name", String(255), primary_key=True),
    Column("slot", String(16), primary_key=True),
    Column("key_hash", String(64), nullable=False, index=True),
    Column("pending", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

pipeline_endpoint_runs = Table(
    "pipeline_endpoint_runs",
    metadata,
    Column("endpoint_name", String(255), primary_key=True),
    Column("job_name", String(255), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("invoked_by", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_pipeline_endpoint_runs_time", "endpoint_name", "created_at"),
)
