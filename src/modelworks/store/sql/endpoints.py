"""Endpoint state in the workspace's SQL database (SQLite or PostgreSQL).

Every change of desired state (an endpoint, its keys, its traffic, a deployment) bumps one
``revision`` in the same transaction; the host process polls that integer and reconciles
when it grows. Thread-safe (engines pool connections); safe across processes (the same
transactions as the metadata store: SQLite WAL with ``BEGIN IMMEDIATE`` writes, PostgreSQL).

This store is used where the workspace's SQL database is (a local folder, or one configured
with a PostgreSQL URL): by the host, and by ``ws.online_endpoints`` on such a workspace.
Through a ``modelworks server`` URL the operations go to the server instead
(:mod:`modelworks.store.rest.endpoints`); only running a host needs the database, and
:func:`open_endpoint_store` says so.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update

from modelworks.endpoints.entities import EndpointHost, OnlineDeployment, OnlineEndpoint
from modelworks.entities import now_ms
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.store.sql._base import SqlBase, suggest
from modelworks.store.sql.schema_endpoints import (
    endpoint_hosts,
    endpoint_keys,
    endpoint_state,
    online_deployments,
    online_endpoints,
)

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["EndpointStore", "open_endpoint_store"]


def open_endpoint_store(ws: Workspace) -> EndpointStore:
    """The endpoint store of ``ws`` (a workspace on a SQL database)."""
    uri = getattr(ws.meta, "uri", None)
    if ws.is_remote or not isinstance(uri, str) or not uri.startswith(("sqlite", "postgres")):
        raise InvalidInputError(
            f"The endpoint host runs next to the workspace database; {ws.location!r} is a server "
            "URL, whose machine hosts its endpoints. Run `modelworks up` (or `modelworks "
            "online-endpoint serve -w <folder>`) there; the other endpoint commands work "
            "through the URL."
        )
    return EndpointStore(uri)


def _endpoint(row: Any) -> OnlineEndpoint:
    return OnlineEndpoint(
        name=row.name,
        auth_mode=row.auth_mode,
        port=row.port,
        description=row.description,
        tags=dict(row.tags or {}),
        traffic=dict(row.traffic or {}),
        mirror_traffic=dict(row.mirror_traffic or {}),
        provisioning_state=row.provisioning_state,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _deployment(row: Any) -> OnlineDeployment:
    return OnlineDeployment(
        name=row.name,
        endpoint_name=row.endpoint_name,
        spec=dict(row.spec or {}),
        generation=row.generation,
        provisioning_state=row.provisioning_state,
        model_name=row.model_name,
        model_version=row.model_version,
        code_owner=row.code_owner,
        error=row.error,
        runtime=dict(row.runtime or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class EndpointStore(SqlBase):
    """Reads and writes the endpoint tables; each method is one transaction."""

    # -- revision ---------------------------------------------------------------------------
    def revision(self) -> int:
        with self._read() as conn:
            value = conn.execute(select(endpoint_state.c.revision)).scalar()
        return int(value or 0)

    @staticmethod
    def _bump(conn: Connection) -> int:
        current = conn.execute(select(endpoint_state.c.revision)).scalar()
        if current is None:
            conn.execute(insert(endpoint_state).values(id=1, revision=1))
            return 1
        conn.execute(update(endpoint_state).values(revision=endpoint_state.c.revision + 1))
        return int(current) + 1

    def bump(self) -> int:
        with self._write() as conn:
            return self._bump(conn)

    # -- endpoints --------------------------------------------------------------------------
    def _endpoint_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(online_endpoints).where(online_endpoints.c.name == name)).first()
        if row is None:
            names = [r[0] for r in conn.execute(select(online_endpoints.c.name))]
            raise NotFoundError(
                f"Online endpoint {name!r} does not exist."
                + suggest(name, names, "endpoints")
                + " Create it with: modelworks online-endpoint create -f endpoint.yml"
            )
        return row

    def create_endpoint(
        self,
        *,
        name: str,
        auth_mode: str,
        description: str,
        tags: dict[str, str],
        traffic: dict[str, int],
        mirror_traffic: dict[str, int],
        port: int,
        token_secret: str,
        keys: dict[str, tuple[str, str]],
    ) -> int:
        """Insert an endpoint and its keys (slot → (hash, plaintext shown once)); the revision."""
        now = now_ms()
        with self._write() as conn:
            exists = conn.execute(
                select(online_endpoints.c.name).where(online_endpoints.c.name == name)
            ).first()
            if exists is not None:
                raise AlreadyExistsError(
                    f"Online endpoint {name!r} already exists. Change it with: modelworks "
                    f"online-endpoint update -n {name} ..., or delete it first."
                )
            taken = conn.execute(
                select(online_endpoints.c.name).where(online_endpoints.c.port == port)
            ).first()
            if taken is not None:
                raise AlreadyExistsError(
                    f"Port {port} is already used by endpoint {taken[0]!r}; choose another port."
                )
            conn.execute(
                insert(online_endpoints).values(
                    name=name,
                    auth_mode=auth_mode,
                    description=description,
                    tags=tags,
                    traffic=traffic,
                    mirror_traffic=mirror_traffic,
                    port=port,
                    token_secret=token_secret,
                    provisioning_state="Creating",
                    error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            for slot, (digest, plain) in keys.items():
                conn.execute(
                    insert(endpoint_keys).values(
                        endpoint_name=name,
                        slot=slot,
                        key_hash=digest,
                        pending=plain,
                        created_at=now,
                    )
                )
            return self._bump(conn)

    def update_endpoint(self, name: str, **fields: Any) -> int:
        """Change some columns of an endpoint; returns the new revision."""
        allowed = {"description", "tags", "traffic", "mirror_traffic", "auth_mode"}
        unknown = set(fields) - allowed - {"provisioning_state", "error"}
        if unknown:
            raise InvalidInputError(f"Cannot update endpoint field(s) {sorted(unknown)}.")
        with self._write() as conn:
            self._endpoint_row(conn, name)
            conn.execute(
                update(online_endpoints)
                .where(online_endpoints.c.name == name)
                .values(**fields, updated_at=now_ms())
            )
            if set(fields) & allowed:
                return self._bump(conn)
            return int(conn.execute(select(endpoint_state.c.revision)).scalar() or 0)

    def get_endpoint(self, name: str) -> OnlineEndpoint:
        with self._read() as conn:
            return _endpoint(self._endpoint_row(conn, name))

    def list_endpoints(self) -> list[OnlineEndpoint]:
        with self._read() as conn:
            rows = conn.execute(select(online_endpoints).order_by(online_endpoints.c.name))
            return [_endpoint(r) for r in rows]

    def used_ports(self) -> set[int]:
        with self._read() as conn:
            return {int(r[0]) for r in conn.execute(select(online_endpoints.c.port))}

    def delete_endpoint(self, name: str) -> int:
        with self._write() as conn:
            self._endpoint_row(conn, name)
            conn.execute(
                delete(online_deployments).where(online_deployments.c.endpoint_name == name)
            )
            conn.execute(delete(endpoint_keys).where(endpoint_keys.c.endpoint_name == name))
            conn.execute(delete(online_endpoints).where(online_endpoints.c.name == name))
            return self._bump(conn)

    # -- auth -------------------------------------------------------------------------------
    def auth_material(self, name: str) -> tuple[str, str, dict[str, str]]:
        """``(auth_mode, token_secret, {slot: key_hash})`` for the gateway."""
        with self._read() as conn:
            row = self._endpoint_row(conn, name)
            keys = conn.execute(
                select(endpoint_keys.c.slot, endpoint_keys.c.key_hash).where(
                    endpoint_keys.c.endpoint_name == name
                )
            )
            return row.auth_mode, row.token_secret, {k.slot: k.key_hash for k in keys}

    def reveal_keys(self, name: str) -> dict[str, str | None]:
        """The keys not shown yet (slot → plaintext, or None when already shown); clears them."""
        with self._write() as conn:
            self._endpoint_row(conn, name)
            rows = list(
                conn.execute(select(endpoint_keys).where(endpoint_keys.c.endpoint_name == name))
            )
            conn.execute(
                update(endpoint_keys)
                .where(endpoint_keys.c.endpoint_name == name)
                .values(pending=None)
            )
            return {r.slot: r.pending for r in rows}

    def set_key(self, name: str, slot: str, digest: str, plain: str | None) -> int:
        with self._write() as conn:
            self._endpoint_row(conn, name)
            conn.execute(
                delete(endpoint_keys).where(
                    (endpoint_keys.c.endpoint_name == name) & (endpoint_keys.c.slot == slot)
                )
            )
            conn.execute(
                insert(endpoint_keys).values(
                    endpoint_name=name,
                    slot=slot,
                    key_hash=digest,
                    pending=plain,
                    created_at=now_ms(),
                )
            )
            return self._bump(conn)

    # -- deployments ------------------------------------------------------------------------
    def _deployment_row(self, conn: Connection, endpoint: str, name: str) -> Any:
        row = conn.execute(
            select(online_deployments).where(
                (online_deployments.c.endpoint_name == endpoint)
                & (online_deployments.c.name == name)
            )
        ).first()
        if row is None:
            self._endpoint_row(conn, endpoint)
            names = [
                r[0]
                for r in conn.execute(
                    select(online_deployments.c.name).where(
                        online_deployments.c.endpoint_name == endpoint
                    )
                )
            ]
            raise NotFoundError(
                f"Endpoint {endpoint!r} has no deployment {name!r}."
                + suggest(name, names, f"deployments of {endpoint!r}")
            )
        return row

    def put_deployment(
        self,
        *,
        endpoint: str,
        name: str,
        spec: dict[str, Any],
        model_name: str | None,
        model_version: str | None,
        code_owner: str | None,
    ) -> tuple[int, int]:
        """Create a deployment or start its next generation; returns (generation, revision)."""
        now = now_ms()
        with self._write() as conn:
            self._endpoint_row(conn, endpoint)
            row = conn.execute(
                select(online_deployments).where(
                    (online_deployments.c.endpoint_name == endpoint)
                    & (online_deployments.c.name == name)
                )
            ).first()
            values = {
                "spec": spec,
                "model_name": model_name,
                "model_version": model_version,
                "code_owner": code_owner,
                "error": None,
                "updated_at": now,
            }
            if row is None:
                generation = 1
                conn.execute(
                    insert(online_deployments).values(
                        endpoint_name=endpoint,
                        name=name,
                        generation=generation,
                        provisioning_state="Creating",
                        runtime={},
                        created_at=now,
                        **values,
                    )
                )
            else:
                generation = int(row.generation) + 1
                conn.execute(
                    update(online_deployments)
                    .where(
                        (online_deployments.c.endpoint_name == endpoint)
                        & (online_deployments.c.name == name)
                    )
                    .values(generation=generation, provisioning_state="Updating", **values)
                )
            return generation, self._bump(conn)

    def get_deployment(self, endpoint: str, name: str) -> OnlineDeployment:
        with self._read() as conn:
            return _deployment(self._deployment_row(conn, endpoint, name))

    def list_deployments(self, endpoint: str | None = None) -> list[OnlineDeployment]:
        with self._read() as conn:
            query = select(online_deployments).order_by(
                online_deployments.c.endpoint_name, online_deployments.c.name
            )
            if endpoint is not None:
                self._endpoint_row(conn, endpoint)
                query = query.where(online_deployments.c.endpoint_name == endpoint)
            return [_deployment(r) for r in conn.execute(query)]

    def delete_deployment(self, endpoint: str, name: str) -> int:
        with self._write() as conn:
            self._deployment_row(conn, endpoint, name)
            conn.execute(
                delete(online_deployments).where(
                    (online_deployments.c.endpoint_name == endpoint)
                    & (online_deployments.c.name == name)
                )
            )
            return self._bump(conn)

    def report_deployment(
        self,
        endpoint: str,
        name: str,
        *,
        generation: int,
        state: str | None = None,
        error: str | None = None,
        runtime: dict[str, Any] | None = None,
    ) -> None:
        """The host's report on one generation (ignored once a newer generation exists)."""
        values: dict[str, Any] = {}
        if state is not None:
            values["provisioning_state"] = state
            values["error"] = error
        if runtime is not None:
            values["runtime"] = runtime
        if not values:
            return
        with self._write() as conn:
            conn.execute(
                update(online_deployments)
                .where(
                    (online_deployments.c.endpoint_name == endpoint)
                    & (online_deployments.c.name == name)
                    & (online_deployments.c.generation == generation)
                )
                .values(**values)
            )

    # -- host -------------------------------------------------------------------------------
    def register_host(self, host_id: str, pid: int) -> None:
        now = now_ms()
        with self._write() as conn:
            conn.execute(
                insert(endpoint_hosts).values(
                    id=host_id,
                    hostname=socket.gethostname(),
                    pid=pid,
                    started_at=now,
                    heartbeat_at=now,
                    applied_revision=-1,
                )
            )

    def heartbeat_host(self, host_id: str, applied_revision: int | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now_ms()}
        if applied_revision is not None:
            values["applied_revision"] = applied_revision
        with self._write() as conn:
            conn.execute(
                update(endpoint_hosts).where(endpoint_hosts.c.id == host_id).values(**values)
            )

    def remove_host(self, host_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(endpoint_hosts).where(endpoint_hosts.c.id == host_id))

    def live_hosts(self, stale_after_ms: int, *, prune: bool = True) -> list[EndpointHost]:
        """Hosts whose heartbeat is recent; with ``prune``, stale rows are deleted on the way
        (a write), else only read (what a caller polling for the host uses)."""
        cutoff = now_ms() - stale_after_ms
        query = (
            select(endpoint_hosts)
            .where(endpoint_hosts.c.heartbeat_at >= cutoff)
            .order_by(endpoint_hosts.c.started_at)
        )
        with self._write() if prune else self._read() as conn:
            if prune:
                conn.execute(delete(endpoint_hosts).where(endpoint_hosts.c.heartbeat_at < cutoff))
            rows = conn.execute(query)
            return [
                EndpointHost(
                    id=r.id,
                    hostname=r.hostname,
                    pid=r.pid,
                    started_at=r.started_at,
                    heartbeat_at=r.heartbeat_at,
                    applied_revision=r.applied_revision,
                )
                for r in rows
            ]

    def count_endpoints(self) -> int:
        with self._read() as conn:
            return int(
                conn.execute(select(func.count()).select_from(online_endpoints)).scalar() or 0
            )
