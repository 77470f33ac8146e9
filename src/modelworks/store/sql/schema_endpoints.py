"""The endpoint tables, on the shared metadata (created by migration ``0002_endpoints``).

- ``endpoint_state``: one row whose ``revision`` grows with every change of desired state, so
  the host process notices changes by reading one integer.
- ``online_endpoints``: an endpoint's spec, port and auth settings.
- ``online_endpoint_keys``: the primary and secondary keys, as sha256 hashes. ``pending`` holds
  the plaintext only until it is shown once (by ``get_keys``), then it is cleared.
- ``online_deployments``: a deployment's spec, its resolved model, its generation (bumped by
  every update: a new generation means new workers) and what the host last reported.
- ``endpoint_hosts``: the process hosting the endpoints of this workspace (pid, heartbeat, the
  revision it has applied).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table, Text

from modelworks.store.sql.schema import metadata

__all__ = [
    "endpoint_hosts",
    "endpoint_keys",
    "endpoint_state",
    "online_deployments",
    "online_endpoints",
]

endpoint_state = Table(
    "endpoint_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

online_endpoints = Table(
    "online_endpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("auth_mode", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("traffic", JSON, nullable=False),
    Column("mirror_traffic", JSON, nullable=False),
    Column("port", Integer, nullable=False),
    Column("token_secret", String(128), nullable=False),
    Column("provisioning_state", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

endpoint_keys = Table(
    "online_endpoint_keys",
    metadata,
    Column("endpoint_name", String(64), primary_key=True),
    Column("slot", String(16), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("pending", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

online_deployments = Table(
    "online_deployments",
    metadata,
    Column("endpoint_name", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("model_name", String(255), nullable=True),
    Column("model_version", String(128), nullable=True),
    Column("code_owner", String(255), nullable=True),
    Column("generation", Integer, nullable=False),
    Column("provisioning_state", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("runtime", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

endpoint_hosts = Table(
    "endpoint_hosts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("applied_revision", BigInteger, nullable=False),
)
