"""``SqlPipelineStore``: the PipelineStore port on the workspace's SQL database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from modelworks.entities import now_ms
from modelworks.errors import AlreadyExistsError, NotFoundError
from modelworks.pipelines.store import ComponentRecord, PipelineStore
from modelworks.store.sql import schema_pipelines as t
from modelworks.store.sql._base import SqlBase
from modelworks.store.sql.store import SqlMetadataStore

__all__ = ["SqlPipelineStore"]


def _component(row: Any) -> ComponentRecord:
    return ComponentRecord(
        name=row.name,
        version=row.version,
        spec=dict(row.spec or {}),
        created_at=row.created_at,
        code_hash=row.code_hash,
        description=row.description or "",
        tags=dict(row.tags or {}),
        archived=bool(row.archived),
    )


class SqlPipelineStore(SqlBase, PipelineStore):
    """Pipeline tables in the same database (and through the same engines) as ``meta``."""

    def __init__(self, meta: SqlMetadataStore) -> None:
        self.meta = meta
        self._read_engine = meta._read_engine
        self._write_engine = meta._write_engine

    def create_component(self, record: ComponentRecord) -> ComponentRecord:
        c = t.components
        with self._write() as conn:
            found = conn.execute(
                select(c.c.name).where(c.c.name == record.name, c.c.version == record.version)
            ).first()
            if found is not None:
                raise AlreadyExistsError(
                    f"Component {record.name} version {record.version} already exists; "
                    "versions are immutable. Give a new version, or leave it out to get the "
                    "next one."
                )
            conn.execute(
                insert(c).values(
                    name=record.name,
                    version=record.version,
                    spec=record.spec,
                    code_hash=record.code_hash,
                    description=record.description,
                    tags=record.tags,
                    archived=record.archived,
                    created_at=record.created_at,
                )
            )
        return record

    def get_component(self, name: str, version: str) -> ComponentRecord:
        c = t.components
        with self._read() as conn:
            row = conn.execute(select(c).where(c.c.name == name, c.c.version == version)).first()
        if row is None:
            raise NotFoundError(f"Component {name} has no version {version!r}.")
        return _component(row)

    def list_components(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[ComponentRecord]:
        c = t.components
        query = select(c)
        if name is not None:
            query = query.where(c.c.name == name)
        if not include_archived:
            query = query.where(c.c.archived.is_(False))
        with self._read() as conn:
            rows = conn.execute(query.order_by(c.c.name, c.c.created_at.desc())).all()
        return [_component(r) for r in rows]

    def set_component_archived(self, name: str, version: str | None, archived: bool) -> int:
        c = t.components
        condition = c.c.name == name
        if version is not None:
            condition = condition & (c.c.version == version)
        with self._write() as conn:
            done = conn.execute(update(c).where(condition).values(archived=archived))
        return int(done.rowcount or 0)

    def find_reusable(self, fingerprint: str) -> str | None:
        r = t.pipeline_step_reuse
        with self._read() as conn:
            found = conn.execute(select(r.c.run_id).where(r.c.fingerprint == fingerprint)).first()
        return None if found is None else str(found.run_id)

    def record_reusable(self, fingerprint: str, run_id: str) -> None:
        r = t.pipeline_step_reuse
        with self._write() as conn:
            conn.execute(delete(r).where(r.c.fingerprint == fingerprint))
            conn.execute(
                insert(r).values(fingerprint=fingerprint, run_id=run_id, created_at=now_ms())
            )

    def forget_reusable(self, fingerprint: str) -> None:
        r = t.pipeline_step_reuse
        with self._write() as conn:
            conn.execute(delete(r).where(r.c.fingerprint == fingerprint))
