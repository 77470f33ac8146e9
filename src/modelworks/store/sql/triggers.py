"""Schedules and pipeline endpoints in the workspace's SQL database (SQLite or PostgreSQL).

Each method is one transaction. The scheduler's safety rests on :meth:`TriggerStore.claim_fire`:
it advances the schedule only if nobody else has (``last_occurrence_at`` still has the value
the caller read) and inserts the ``(schedule, occurrence)`` row in the same transaction, so two
scheduler processes can never both fire one occurrence: the loser's update matches no row or
its insert violates the primary key, and its transaction rolls back.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc

from modelworks.entities import now_ms
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.pipeline_endpoints.entities import (
    PipelineEndpoint,
    PipelineEndpointRun,
    PipelineEndpointVersion,
)
from modelworks.schedules.entities import Schedule, ScheduleFire
from modelworks.store.sql import schema_triggers as t
from modelworks.store.sql._base import SqlBase, suggest

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["TriggerStore", "open_trigger_store"]


def open_trigger_store(ws: Workspace, what: str) -> TriggerStore:
    """The trigger store of ``ws`` (a workspace on a SQL database); ``what`` names the feature
    in the error raised for a server URL."""
    uri = getattr(ws.meta, "uri", None)
    if ws.is_remote or not isinstance(uri, str) or not uri.startswith(("sqlite", "postgres")):
        raise InvalidInputError(
            f"{what} need a workspace on a SQL database (a local folder, or one whose "
            f"workspace.yaml names PostgreSQL); {ws.location!r} is a server URL. Run the command "
            "on the machine that hosts the workspace, with -w <folder>."
        )
    return TriggerStore(uri)


def _schedule(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        tags=dict(row.tags or {}),
        trigger=dict(row.trigger or {}),
        action=dict(row.action or {}),
        spec=dict(row.spec or {}),
        missed_policy=row.missed_policy,
        enabled=bool(row.enabled),
        origin_at=row.origin_at,
        last_occurrence_at=row.last_occurrence_at,
        next_fire_at=row.next_fire_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _fire(row: Any) -> ScheduleFire:
    return ScheduleFire(
        schedule_name=row.schedule_name,
        occurrence_at=row.occurrence_at,
        state=row.state,
        job_name=row.job_name,
        error=row.error,
        missed=row.missed,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
    )


def _version(row: Any) -> PipelineEndpointVersion:
    return PipelineEndpointVersion(
        endpoint_name=row.endpoint_name,
        version=row.version,
        job_type=row.job_type,
        inputs=list(row.inputs or []),
        description=row.description,
        template=dict(row.template or {}),
        created_at=row.created_at,
    )


class TriggerStore(SqlBase):
    """Reads and writes the schedule and pipeline-endpoint tables."""

    # -- schedules ---------------------------------------------------------------------------
    def _schedule_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(t.schedules).where(t.schedules.c.name == name)).first()
        if row is None:
            names = list(conn.execute(select(t.schedules.c.name)).scalars())
            raise NotFoundError(
                f"Schedule {name!r} does not exist." + suggest(name, names, "schedules")
            )
        return row

    def create_schedule(self, values: dict[str, Any]) -> Schedule:
        """Insert a schedule (``values`` are the columns but id and timestamps)."""
        now = now_ms()
        row = {"id": uuid.uuid4().hex, "created_at": now, "updated_at": now, **values}
        try:
            with self._write() as conn:
                if conn.execute(
                    select(t.schedules.c.id).where(t.schedules.c.name == values["name"])
                ).first():
                    raise AlreadyExistsError(
                        f"Schedule {values['name']!r} already exists. Delete it first "
                        f"(`modelworks schedule delete -n {values['name']}`) or pick another name."
                    )
                conn.execute(insert(t.schedules).values(**row))
        except sa_exc.IntegrityError as e:
            raise AlreadyExistsError(f"Schedule {values['name']!r} already exists.") from e
        return self.get_schedule(values["name"])

    def get_schedule(self, name: str, *, fires: int = 0) -> Schedule:
        with self._read() as conn:
            schedule = _schedule(self._schedule_row(conn, name))
            if fires:
                schedule.recent_fires = self._fires(conn, schedule.id, fires)
        return schedule

    def list_schedules(self) -> list[Schedule]:
        with self._read() as conn:
            rows = conn.execute(select(t.schedules).order_by(t.schedules.c.name)).all()
        return [_schedule(r) for r in rows]

    def update_schedule(self, name: str, **values: Any) -> Schedule:
        with self._write() as conn:
            self._schedule_row(conn, name)
            conn.execute(
                update(t.schedules)
                .where(t.schedules.c.name == name)
                .values(**values, updated_at=now_ms())
            )
        return self.get_schedule(name)

    def delete_schedule(self, name: str) -> Schedule:
        with self._write() as conn:
            schedule = _schedule(self._schedule_row(conn, name))
            conn.execute(
                delete(t.schedule_fires).where(t.schedule_fires.c.schedule_id == schedule.id)
            )
            conn.execute(delete(t.schedules).where(t.schedules.c.id == schedule.id))
        return schedule

    def due_schedules(self, now: int) -> list[Schedule]:
        """Enabled schedules whose next occurrence is at or before ``now``."""
        s = t.schedules
        query = select(s).where(s.c.enabled.is_(True), s.c.next_fire_at <= now)
        with self._read() as conn:
            rows = conn.execute(query.order_by(s.c.next_fire_at)).all()
        return [_schedule(r) for r in rows]

    def earliest_next_fire(self) -> int | None:
        s = t.schedules
        with self._read() as conn:
            value = conn.execute(
                select(func.min(s.c.next_fire_at)).where(s.c.enabled.is_(True))
            ).scalar()
        return int(value) if value is not None else None

    def _advance(
        self, conn: Connection, schedule: Schedule, last: int | None, next_fire: int | None
    ) -> bool:
        s = t.schedules
        expected = schedule.last_occurrence_at
        condition = (
            s.c.last_occurrence_at.is_(None)
            if expected is None
            else (s.c.last_occurrence_at == expected)
        )
        done = conn.execute(
            update(s)
            .where(s.c.id == schedule.id, s.c.enabled.is_(True), condition)
            .values(last_occurrence_at=last, next_fire_at=next_fire)
        )
        return bool(done.rowcount)

    def advance(self, schedule: Schedule, last: int | None, next_fire: int | None) -> bool:
        """Move a schedule past occurrences without firing them (policy ``none``); False when
        another scheduler moved it first."""
        with self._write() as conn:
            return self._advance(conn, schedule, last, next_fire)

    def claim_fire(
        self,
        schedule: Schedule,
        occurrence: int,
        next_fire: int | None,
        *,
        missed: int,
        claimed_by: str,
    ) -> bool:
        """Take ``occurrence`` of ``schedule``: advance it and insert the fire row, atomically.
        False when another scheduler took it (or moved the schedule) first."""
        try:
            with self._write() as conn:
                if not self._advance(conn, schedule, occurrence, next_fire):
                    raise _Lost
                conn.execute(
                    insert(t.schedule_fires).values(
                        schedule_id=schedule.id,
                        occurrence_at=occurrence,
                        schedule_name=schedule.name,
                        state="claimed",
                        missed=missed,
                        claimed_by=claimed_by,
                        claimed_at=now_ms(),
                    )
                )
        except (_Lost, sa_exc.IntegrityError):
            return False
        return True

    def finish_fire(
        self,
        schedule_id: str,
        occurrence: int,
        *,
        state: str,
        job_name: str | None = None,
        error: str | None = None,
    ) -> None:
        f = t.schedule_fires
        with self._write() as conn:
            conn.execute(
                update(f)
                .where(f.c.schedule_id == schedule_id, f.c.occurrence_at == occurrence)
                .values(state=state, job_name=job_name, error=error, finished_at=now_ms())
            )

    def retake_stale_claims(self, older_than: int, claimed_by: str) -> list[tuple[str, int]]:
        """Claims left ``claimed`` by a scheduler that died before creating the job: take each
        over (one winner per claim) and return ``(schedule_id, occurrence)`` pairs won."""
        f = t.schedule_fires
        with self._read() as conn:
            stale = conn.execute(
                select(f.c.schedule_id, f.c.occurrence_at, f.c.claimed_at).where(
                    f.c.state == "claimed", f.c.claimed_at < older_than
                )
            ).all()
        won = []
        for row in stale:
            with self._write() as conn:
                done = conn.execute(
                    update(f)
                    .where(
                        f.c.schedule_id == row.schedule_id,
                        f.c.occurrence_at == row.occurrence_at,
                        f.c.state == "claimed",
                        f.c.claimed_at == row.claimed_at,
                    )
                    .values(claimed_by=claimed_by, claimed_at=now_ms())
                )
            if done.rowcount:
                won.append((row.schedule_id, int(row.occurrence_at)))
        return won

    def get_schedule_by_id(self, schedule_id: str) -> Schedule | None:
        with self._read() as conn:
            row = conn.execute(select(t.schedules).where(t.schedules.c.id == schedule_id)).first()
        return _schedule(row) if row is not None else None

    @staticmethod
    def _fires(conn: Connection, schedule_id: str, limit: int) -> list[ScheduleFire]:
        f = t.schedule_fires
        rows = conn.execute(
            select(f)
            .where(f.c.schedule_id == schedule_id)
            .order_by(f.c.occurrence_at.desc())
            .limit(limit)
        ).all()
        return [_fire(r) for r in rows]

    def list_fires(self, name: str, *, limit: int = 20) -> list[ScheduleFire]:
        with self._read() as conn:
            schedule = self._schedule_row(conn, name)
            return self._fires(conn, schedule.id, limit)

    # -- pipeline endpoints ------------------------------------------------------------------
    def _endpoint_row(self, conn: Connection, name: str) -> Any:
        e = t.pipeline_endpoints
        row = conn.execute(select(e).where(e.c.name == name)).first()
        if row is None:
            names = list(conn.execute(select(e.c.name)).scalars())
            raise NotFoundError(
                f"Pipeline endpoint {name!r} does not exist."
                + suggest(name, names, "pipeline endpoints")
                + " Publish one with `modelworks pipeline publish -f pipeline.yml --name NAME`."
            )
        return row

    def _endpoint(self, conn: Connection, row: Any) -> PipelineEndpoint:
        v = t.pipeline_endpoint_versions
        versions = conn.execute(
            select(v).where(v.c.endpoint_name == row.name).order_by(v.c.version_num)
        ).all()
        return PipelineEndpoint(
            name=row.name,
            description=row.description,
            tags=dict(row.tags or {}),
            default_version=row.default_version,
            enabled=bool(row.enabled),
            created_at=row.created_at,
            updated_at=row.updated_at,
            versions=[_version(r) for r in versions],
        )

    def publish_version(
        self,
        name: str,
        *,
        version: str | None,
        template: dict[str, Any],
        job_type: str,
        inputs: list[str],
        description: str,
        tags: dict[str, str],
        keys: dict[str, tuple[str, str]],
        make_default: bool = True,
    ) -> tuple[PipelineEndpoint, str, bool]:
        """Add a version (creating the endpoint and its keys, slot -> (hash, text), on the first
        publish); returns (endpoint, version, whether the endpoint is new)."""
        e, v, k = t.pipeline_endpoints, t.pipeline_endpoint_versions, t.pipeline_endpoint_keys
        now = now_ms()
        try:
            with self._write() as conn:
                row = conn.execute(select(e).where(e.c.name == name)).first()
                created = row is None
                top = conn.execute(
                    select(func.max(v.c.version_num)).where(v.c.endpoint_name == name)
                ).scalar()
                number = int(top or 0) + 1
                label = version or str(number)
                if conn.execute(
                    select(v.c.version).where(v.c.endpoint_name == name, v.c.version == label)
                ).first():
                    raise AlreadyExistsError(
                        f"Pipeline endpoint {name!r} already has version {label!r}; versions are "
                        "immutable. Leave --version out to get the next number."
                    )
                if created:
                    conn.execute(
                        insert(e).values(
                            name=name,
                            description=description,
                            tags=tags,
                            default_version=label,
                            enabled=True,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    for slot, (digest, text) in keys.items():
                        conn.execute(
                            insert(k).values(
                                endpoint_name=name,
                                slot=slot,
                                key_hash=digest,
                                pending=text,
                                created_at=now,
                            )
                        )
                elif make_default:
                    conn.execute(
                        update(e)
                        .where(e.c.name == name)
                        .values(default_version=label, updated_at=now)
                    )
                conn.execute(
                    insert(v).values(
                        endpoint_name=name,
                        version=label,
                        version_num=number,
                        template=template,
                        job_type=job_type,
                        inputs=inputs,
                        description=description,
                        created_at=now,
                    )
                )
                endpoint = self._endpoint(conn, self._endpoint_row(conn, name))
        except sa_exc.IntegrityError as err:
            raise AlreadyExistsError(
                f"Pipeline endpoint {name!r} was published by someone else at the same moment; "
                "publish again."
            ) from err
        return endpoint, label, created

    def get_endpoint(self, name: str) -> PipelineEndpoint:
        with self._read() as conn:
            return self._endpoint(conn, self._endpoint_row(conn, name))

    def list_endpoints(self) -> list[PipelineEndpoint]:
        e = t.pipeline_endpoints
        with self._read() as conn:
            rows = conn.execute(select(e).order_by(e.c.name)).all()
            return [self._endpoint(conn, r) for r in rows]

    def update_endpoint(self, name: str, **values: Any) -> PipelineEndpoint:
        e = t.pipeline_endpoints
        with self._write() as conn:
            self._endpoint_row(conn, name)
            conn.execute(update(e).where(e.c.name == name).values(**values, updated_at=now_ms()))
            return self._endpoint(conn, self._endpoint_row(conn, name))

    def delete_endpoint(self, name: str) -> None:
        with self._write() as conn:
            self._endpoint_row(conn, name)
            for table in (
                t.pipeline_endpoint_versions,
                t.pipeline_endpoint_keys,
                t.pipeline_endpoint_runs,
            ):
                conn.execute(delete(table).where(table.c.endpoint_name == name))
            conn.execute(delete(t.pipeline_endpoints).where(t.pipeline_endpoints.c.name == name))

    def key_hashes(self, name: str) -> dict[str, str]:
        k = t.pipeline_endpoint_keys
        with self._read() as conn:
            rows = conn.execute(select(k.c.slot, k.c.key_hash).where(k.c.endpoint_name == name))
            return {r.slot: r.key_hash for r in rows}

    def reveal_keys(self, name: str) -> dict[str, str | None]:
        """Keys not shown yet (slot -> text, None once shown); clears them in the same step."""
        k = t.pipeline_endpoint_keys
        with self._write() as conn:
            self._endpoint_row(conn, name)
            rows = conn.execute(select(k).where(k.c.endpoint_name == name)).all()
            conn.execute(update(k).where(k.c.endpoint_name == name).values(pending=None))
        return {r.slot: r.pending for r in rows}

    def set_key(self, name: str, slot: str, digest: str) -> None:
        k = t.pipeline_endpoint_keys
        with self._write() as conn:
            self._endpoint_row(conn, name)
            conn.execute(delete(k).where(k.c.endpoint_name == name, k.c.slot == slot))
            conn.execute(
                insert(k).values(
                    endpoint_name=name,
                    slot=slot,
                    key_hash=digest,
                    pending=None,
                    created_at=now_ms(),
                )
            )

    def record_run(self, run: PipelineEndpointRun) -> None:
        with self._write() as conn:
            row = run.to_dict()
            row.pop("status", None)
            conn.execute(insert(t.pipeline_endpoint_runs).values(**row))

    def list_runs(self, name: str, *, limit: int = 100) -> list[PipelineEndpointRun]:
        r = t.pipeline_endpoint_runs
        with self._read() as conn:
            self._endpoint_row(conn, name)
            rows = conn.execute(
                select(r)
                .where(r.c.endpoint_name == name)
                .order_by(r.c.created_at.desc())
                .limit(limit)
            ).all()
        return [
            PipelineEndpointRun(
                endpoint_name=row.endpoint_name,
                job_name=row.job_name,
                version=row.version,
                run_id=row.run_id,
                invoked_by=row.invoked_by,
                created_at=row.created_at,
            )
            for row in rows
        ]


class _Lost(Exception):
    """Internal: another scheduler advanced the schedule first (rolls the transaction back)."""
