"""``SqlMetadataStore``: the MetadataStore port on SQLAlchemy Core (SQLite or PostgreSQL)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from modelworks._validation import (
    MAX_TAG_VALUE_LENGTH,
    validate_experiment_name,
    validate_key,
    validate_param_value,
    validate_relative_path,
)
from modelworks.entities import (
    ArtifactEntry,
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
    Token,
    generate_run_name,
    new_id,
    now_ms,
)
from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from modelworks.store.base import MetadataStore
from modelworks.store.sql import schema as t
from modelworks.store.sql._assets import AssetsMixin
from modelworks.store.sql._base import chunks, suggest
from modelworks.store.sql.engine import upgrade_schema
from modelworks.store.sql.search import (
    apply_order,
    compile_filter,
    decode_page_token,
    encode_page_token,
)

__all__ = ["SqlMetadataStore"]

MAX_RESULTS_LIMIT = 50_000
#: Upsert statements by shape (see ``_upsert``); SQLAlchemy statements are immutable.
_UPSERTS: dict[tuple[Any, ...], Any] = {}
_METRIC_COLUMNS = ("run_id", "key", "step", "timestamp", "value", "is_nan")


def _metric_value(value: float, is_nan: bool) -> float:
    return math.nan if is_nan else float(value)


class SqlMetadataStore(AssetsMixin, MetadataStore):
    """Metadata in one SQL database. Opening it migrates the schema to the latest revision.

    Thread-safe (a connection pool); safe across processes (SQLite WAL + ``BEGIN IMMEDIATE``
    for writes; PostgreSQL transactions).
    """

    def __init__(self, uri: str, *, migrate: bool = True) -> None:
        super().__init__(uri)
        if migrate:
            upgrade_schema(self._write_engine)

    def _upsert(
        self,
        conn: Connection,
        table: Any,
        rows: list[dict[str, Any]],
        keys: list[str],
        update_cols: list[str],
        where: Any = None,
    ) -> None:
        """INSERT ... ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike."""
        if not rows:
            return
        # Statements are immutable: build each shape once (building costs more than running).
        shape = (
            conn.dialect.name,
            table.name,
            *keys,
            "|",
            *update_cols,
            getattr(where, "__code__", None),
        )
        stmt = _UPSERTS.get(shape)
        if stmt is None:
            dialect = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
            stmt = dialect.insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_={c: stmt.excluded[c] for c in update_cols},
                where=where(table, stmt.excluded) if where is not None else None,
            )
            _UPSERTS[shape] = stmt
        conn.execute(stmt, rows)

    # -- experiments ------------------------------------------------------------------------
    def _experiment_from_row(self, row: Any) -> Experiment:
        return Experiment(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            tags=dict(row.tags or {}),
            deleted=bool(row.deleted),
        )

    def create_experiment(self, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        validate_experiment_name(name)
        exp = Experiment(id=new_id(), name=name, created_at=now_ms(), tags=dict(tags or {}))
        with self._write() as conn:
            existing = conn.execute(
                select(t.experiments.c.deleted).where(t.experiments.c.name == name)
            ).first()
            if existing is not None:
                state = " (it is deleted; restore it or pick another name)" if existing[0] else ""
                raise AlreadyExistsError(f"Experiment {name!r} already exists{state}.")
            conn.execute(insert(t.experiments).values(**exp.to_dict()))
        return exp

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as conn:
            row = conn.execute(
                select(t.experiments).where(t.experiments.c.id == experiment_id)
            ).first()
        if row is None:
            raise NotFoundError(f"No experiment with id {experiment_id!r}.")
        return self._experiment_from_row(row)

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self._read() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.name == name)).first()
            if row is None:
                names = list(conn.execute(select(t.experiments.c.name)).scalars())
        if row is None:
            raise NotFoundError(
                f"No experiment named {name!r}." + suggest(name, names, "experiments")
            )
        return self._experiment_from_row(row)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        query = select(t.experiments).order_by(t.experiments.c.created_at, t.experiments.c.name)
        if not include_deleted:
            query = query.where(t.experiments.c.deleted.is_(False))
        with self._read() as conn:
            return [self._experiment_from_row(r) for r in conn.execute(query)]

    def update_experiment(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: dict[str, str] | None = None,
    ) -> Experiment:
        with self._write() as conn:
            row = conn.execute(
                select(t.experiments).where(t.experiments.c.id == experiment_id)
            ).first()
            if row is None:
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")
            values: dict[str, Any] = {}
            if name is not None and name != row.name:
                validate_experiment_name(name)
                taken = conn.execute(
                    select(t.experiments.c.id).where(t.experiments.c.name == name)
                ).first()
                if taken is not None:
                    raise AlreadyExistsError(f"Experiment {name!r} already exists.")
                values["name"] = name
            if deleted is not None:
                values["deleted"] = deleted
            if tags:
                for key in tags:
                    validate_key("tag", key)
                values["tags"] = {**(row.tags or {}), **{k: str(v) for k, v in tags.items()}}
            if values:
                conn.execute(
                    update(t.experiments)
                    .where(t.experiments.c.id == experiment_id)
                    .values(**values)
                )
            row = conn.execute(
                select(t.experiments).where(t.experiments.c.id == experiment_id)
            ).one()
        return self._experiment_from_row(row)

    # -- runs -------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        kind: str = "run",
        status: RunStatus = RunStatus.RUNNING,
        description: str = "",
        user: str = "",
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        request = {
            "experiment_id": experiment_id,
            "name": name,
            "parent_id": parent_id,
            "kind": kind,
            "status": status,
            "description": description,
            "user": user,
            "tags": tags,
            "params": params,
            "start_time": start_time,
            "run_id": run_id,
        }
        return self.create_runs([request])[0]

    def create_runs(self, requests: Sequence[dict[str, Any]]) -> list[Run]:
        """Create all the runs in one transaction: all of them, or none."""
        created = now_ms()
        prepared = [self._prepare_run(dict(r), created) for r in requests]
        if not prepared:
            return []
        run_rows = [p[0] for p in prepared]
        tag_rows = [row for p in prepared for row in p[1]]
        param_rows = [row for p in prepared for row in p[2]]
        batch_ids = {row["id"] for row in run_rows}
        if len(batch_ids) != len(run_rows):
            raise InvalidInputError("The same run id appears twice in one batch of new runs.")
        with self._write() as conn:
            for experiment_id in {row["experiment_id"] for row in run_rows}:
                exp = conn.execute(
                    select(t.experiments.c.deleted).where(t.experiments.c.id == experiment_id)
                ).first()
                if exp is None:
                    raise NotFoundError(f"No experiment with id {experiment_id!r}.")
                if exp[0]:
                    raise ConflictError(
                        f"Experiment {experiment_id!r} is deleted; restore it before adding runs."
                    )
            parents = {row["parent_id"] for row in run_rows if row["parent_id"]} - batch_ids
            for parent_id in parents:
                if (
                    conn.execute(select(t.runs.c.id).where(t.runs.c.id == parent_id)).first()
                    is None
                ):
                    raise NotFoundError(f"Parent run {parent_id!r} does not exist.")
            for part in chunks(sorted(batch_ids)):
                taken = conn.execute(select(t.runs.c.id).where(t.runs.c.id.in_(part))).first()
                if taken is not None:
                    raise AlreadyExistsError(f"Run {taken[0]!r} already exists.")
            conn.execute(insert(t.runs), run_rows)
            if tag_rows:
                conn.execute(insert(t.tags), tag_rows)
            if param_rows:
                conn.execute(insert(t.params), param_rows)
        return [
            Run(
                id=row["id"],
                experiment_id=row["experiment_id"],
                name=row["name"],
                status=RunStatus(row["status"]),
                created_at=created,
                start_time=row["start_time"],
                parent_id=row["parent_id"],
                kind=row["kind"],
                description=row["description"],
                user=row["user"],
                params={r["key"]: r["value"] for r in params_},
                tags={r["key"]: r["value"] for r in tags_},
            )
            for row, tags_, params_ in prepared
        ]

    def _prepare_run(
        self, request: dict[str, Any], created: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        status = RunStatus.parse(request.get("status") or RunStatus.RUNNING)
        start_time = request.get("start_time")
        if start_time is None and status == RunStatus.RUNNING:
            start_time = created
        row: dict[str, Any] = {
            "id": request.get("run_id") or new_id(),
            "experiment_id": request["experiment_id"],
            "name": request.get("name") or generate_run_name(),
            "status": status.value,
            "kind": request.get("kind") or "run",
            "description": request.get("description") or "",
            "user": request.get("user") or "",
            "parent_id": request.get("parent_id"),
            "created_at": created,
            "start_time": start_time,
            "end_time": None,
            "heartbeat_at": None,
            "error": None,
            "deleted": False,
        }
        tag_rows = self._tag_rows(row["id"], request.get("tags") or {})
        param_rows = self._param_rows(row["id"], request.get("params") or {})
        return row, tag_rows, param_rows

    @staticmethod
    def _tag_rows(run_id: str, tags: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        for key, value in tags.items():
            validate_key("tag", key)
            text = str(value)
            if len(text) > MAX_TAG_VALUE_LENGTH:
                raise InvalidInputError(
                    f"Tag {key!r} has {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}."
                )
            rows.append({"run_id": run_id, "key": key, "value": text})
        return rows

    @staticmethod
    def _param_rows(run_id: str, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = []
        for key, value in params.items():
            validate_key("param", key)
            rows.append(
                {"run_id": run_id, "key": key, "value": validate_param_value(key, str(value))}
            )
        return rows

    def _load_runs(self, conn: Connection, ids: Sequence[str]) -> list[Run]:
        rows: dict[str, Any] = {}
        run_params: dict[str, dict[str, str]] = defaultdict(dict)
        run_tags: dict[str, dict[str, str]] = defaultdict(dict)
        run_metrics: dict[str, dict[str, float]] = defaultdict(dict)
        for part in chunks(list(ids)):
            for r in conn.execute(select(t.runs).where(t.runs.c.id.in_(part))):
                rows[r.id] = r
            for r in conn.execute(select(t.params).where(t.params.c.run_id.in_(part))):
                run_params[r.run_id][r.key] = r.value
            for r in conn.execute(select(t.tags).where(t.tags.c.run_id.in_(part))):
                run_tags[r.run_id][r.key] = r.value
            lm = t.latest_metrics
            query = select(lm.c.run_id, lm.c.key, lm.c.value, lm.c.is_nan).where(
                lm.c.run_id.in_(part)
            )
            for r in conn.execute(query):
                run_metrics[r.run_id][r.key] = _metric_value(r.value, r.is_nan)
        out = []
        for run_id in ids:
            found = rows.get(run_id)
            if found is None:
                continue
            r = found
            out.append(
                Run(
                    id=r.id,
                    experiment_id=r.experiment_id,
                    name=r.name,
                    status=RunStatus(r.status),
                    created_at=r.created_at,
                    start_time=r.start_time,
                    end_time=r.end_time,
                    parent_id=r.parent_id,
                    kind=r.kind,
                    description=r.description,
                    user=r.user,
                    params=run_params.get(run_id, {}),
                    tags=run_tags.get(run_id, {}),
                    metrics=run_metrics.get(run_id, {}),
                    heartbeat_at=r.heartbeat_at,
                    error=r.error,
                    deleted=bool(r.deleted),
                )
            )
        return out

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            found = self._load_runs(conn, [run_id])
        if not found:
            raise NotFoundError(f"No run with id {run_id!r}.")
        return found[0]

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        description: str | None = None,
        error: str | None = None,
        deleted: bool | None = None,
    ) -> Run:
        values: dict[str, Any] = {}
        with self._write() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).first()
            if row is None:
                raise NotFoundError(f"No run with id {run_id!r}.")
            if status is not None:
                status = RunStatus.parse(status)
                values["status"] = status.value
                if status == RunStatus.RUNNING and row.start_time is None:
                    values["start_time"] = now_ms()
                if status.is_terminal and end_time is None and row.end_time is None:
                    values["end_time"] = now_ms()
            if end_time is not None:
                values["end_time"] = end_time
            if name is not None:
                values["name"] = name
            if description is not None:
                values["description"] = description
            if error is not None:
                values["error"] = error
            if deleted is not None:
                values["deleted"] = deleted
            if values:
                conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))
            return self._load_runs(conn, [run_id])[0]

    def heartbeat(self, run_id: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(t.runs).where(t.runs.c.id == run_id).values(heartbeat_at=now_ms())
            )
        if result.rowcount == 0:
            raise NotFoundError(f"No run with id {run_id!r}.")

    def reap_stale_runs(self, timeout_ms: int) -> list[str]:
        cutoff = now_ms() - timeout_ms
        stale = (
            t.runs.c.status.in_([RunStatus.RUNNING.value, RunStatus.PREPARING.value]),
            t.runs.c.heartbeat_at.is_not(None),
            t.runs.c.heartbeat_at < cutoff,
        )
        with self._read() as conn:
            ids = list(conn.execute(select(t.runs.c.id).where(*stale)).scalars())
        if not ids:
            return []
        with self._write() as conn:
            ids = list(conn.execute(select(t.runs.c.id).where(*stale)).scalars())
            if ids:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.id.in_(ids))
                    .values(
                        status=RunStatus.FAILED.value,
                        end_time=now_ms(),
                        error=(
                            "The process running this run stopped sending heartbeats "
                            f"for more than {timeout_ms / 1000:g} s (killed or crashed)."
                        ),
                    )
                )
        return ids

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        metric_rows: list[tuple[str, str, int, int, float, bool]] = []
        latest: dict[str, tuple[str, str, int, int, float, bool]] = {}
        seen_keys: set[str] = set()
        stamp = now_ms()
        for m in metrics:
            if m.key not in seen_keys:
                validate_key("metric", m.key)
                seen_keys.add(m.key)
            try:
                value = float(m.value)
            except (TypeError, ValueError) as e:
                raise InvalidInputError(
                    f"Metric {m.key!r} got value {m.value!r}; metric values must be numbers."
                ) from e
            is_nan = value != value
            row = (
                run_id,
                m.key,
                int(m.step),
                int(m.timestamp) or stamp,
                0.0 if is_nan else value,
                is_nan,
            )
            metric_rows.append(row)
            best = latest.get(m.key)
            if best is None or (row[2], row[3]) >= (best[2], best[3]):
                latest[m.key] = row
        param_rows = self._param_rows(run_id, params or {})
        tag_rows = self._tag_rows(run_id, tags or {})
        with self._write() as conn:
            run = conn.execute(select(t.runs.c.deleted).where(t.runs.c.id == run_id)).first()
            if run is None:
                raise NotFoundError(f"No run with id {run_id!r}.")
            if run[0]:
                raise ConflictError(f"Run {run_id!r} is deleted; restore it before logging.")
            if param_rows:
                self._insert_params(conn, run_id, param_rows)
            if tag_rows:
                self._upsert(conn, t.tags, tag_rows, ["run_id", "key"], ["value"])
            if metric_rows:
                self._insert_metrics(conn, metric_rows)
                self._upsert(
                    conn,
                    t.latest_metrics,
                    [dict(zip(_METRIC_COLUMNS, row, strict=True)) for row in latest.values()],
                    ["run_id", "key"],
                    ["step", "timestamp", "value", "is_nan"],
                    where=lambda table, new: (
                        (new.step > table.c.step)
                        | ((new.step == table.c.step) & (new.timestamp >= table.c.timestamp))
                    ),
                )

    @staticmethod
    def _insert_metrics(
        conn: Connection, rows: list[tuple[str, str, int, int, float, bool]]
    ) -> None:
        """Append metric rows with the driver's executemany: the hot path of metric logging,
        where building SQLAlchemy parameter dicts would cost twice the insert itself."""
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        columns = ", ".join(f'"{c}"' for c in _METRIC_COLUMNS)
        sql = f"INSERT INTO metrics ({columns}) VALUES ({', '.join([mark] * len(_METRIC_COLUMNS))})"
        conn.exec_driver_sql(sql, rows)

    def _insert_params(self, conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        keys = [r["key"] for r in rows]
        existing = dict(
            conn.execute(
                select(t.params.c.key, t.params.c.value).where(
                    t.params.c.run_id == run_id, t.params.c.key.in_(keys)
                )
            ).all()
        )
        new_rows = []
        for r in rows:
            old = existing.get(r["key"])
            if old is None:
                new_rows.append(r)
            elif old != r["value"]:
                raise ConflictError(
                    f"Param {r['key']!r} of run {run_id!r} is already {old!r}; params are "
                    f"immutable, so it cannot become {r['value']!r}. Log it under another "
                    "key or start a new run."
                )
        if new_rows:
            conn.execute(insert(t.params), new_rows)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                delete(t.tags).where(t.tags.c.run_id == run_id, t.tags.c.key == key)
            )
        if result.rowcount == 0:
            self.get_run(run_id)
            raise NotFoundError(f"Run {run_id!r} has no tag {key!r}.")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        m = t.metrics
        query = (
            select(m.c.key, m.c.value, m.c.step, m.c.timestamp, m.c.is_nan)
            .where(m.c.run_id == run_id, m.c.key == key)
            .order_by(m.c.step, m.c.timestamp, m.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
            if (
                not rows
                and conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is None
            ):
                raise NotFoundError(f"No run with id {run_id!r}.")
        return [Metric(r.key, _metric_value(r.value, r.is_nan), r.step, r.timestamp) for r in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        from modelworks.tracking.filters import parse_filter, parse_order_by

        if not 0 < max_results <= MAX_RESULTS_LIMIT:
            raise InvalidInputError(
                f"max_results must be between 1 and {MAX_RESULTS_LIMIT}; got {max_results}."
            )
        where = compile_filter(parse_filter(filter))
        terms = parse_order_by(order_by)
        offset = decode_page_token(page_token)
        query = select(t.runs.c.id)
        if experiment_ids is not None:
            query = query.where(t.runs.c.experiment_id.in_(list(experiment_ids)))
        if not include_deleted:
            query = query.where(t.runs.c.deleted.is_(False))
        if where is not None:
            query = query.where(where)
        query = apply_order(query, terms).limit(max_results + 1).offset(offset)
        with self._read() as conn:
            ids = list(conn.execute(query).scalars())
            more = len(ids) > max_results
            runs = self._load_runs(conn, ids[:max_results])
        token = encode_page_token(offset + max_results) if more else None
        return Page(items=runs, next_page_token=token)

    # -- artifact manifests -----------------------------------------------------------------
    def put_artifact_entries(self, owner: str, entries: Iterable[ArtifactEntry]) -> None:
        rows = [
            {
                "owner": owner,
                "path": validate_relative_path(e.path),
                "digest": e.digest,
                "size": int(e.size),
            }
            for e in entries
        ]
        if not rows:
            return
        with self._write() as conn:
            self._upsert(conn, t.artifacts, rows, ["owner", "path"], ["digest", "size"])

    def list_artifact_entries(self, owner: str, prefix: str = "") -> list[ArtifactEntry]:
        prefix = validate_relative_path(prefix, allow_empty=True)
        a = t.artifacts
        query = select(a.c.path, a.c.digest, a.c.size).where(a.c.owner == owner)
        if prefix:
            query = query.where((a.c.path == prefix) | a.c.path.startswith(prefix + "/"))
        with self._read() as conn:
            rows = conn.execute(query.order_by(a.c.path)).all()
        return [ArtifactEntry(r.path, r.digest, r.size) for r in rows]

    def delete_artifact_entries(self, owner: str, prefix: str = "") -> int:
        prefix = validate_relative_path(prefix, allow_empty=True)
        a = t.artifacts
        query = delete(a).where(a.c.owner == owner)
        if prefix:
            query = query.where((a.c.path == prefix) | a.c.path.startswith(prefix + "/"))
        with self._write() as conn:
            return int(conn.execute(query).rowcount)

    def referenced_digests(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(t.artifacts.c.digest).distinct()).scalars())

    # -- tokens -----------------------------------------------------------------------------
    @staticmethod
    def _token_from_row(row: Any) -> Token:
        return Token(
            id=row.id,
            name=row.name,
            role=row.role,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=bool(row.revoked),
        )

    def create_token(self, *, name: str, role: str, token_hash: str) -> Token:
        if role not in ("reader", "writer", "admin"):
            raise InvalidInputError(f"Unknown role {role!r}; expected reader, writer or admin.")
        row = {
            "id": new_id(),
            "name": name,
            "role": role,
            "token_hash": token_hash,
            "created_at": now_ms(),
            "last_used_at": None,
            "revoked": False,
        }
        with self._write() as conn:
            if conn.execute(
                select(t.tokens.c.id).where(t.tokens.c.token_hash == token_hash)
            ).first():
                raise AlreadyExistsError("A token with this value already exists.")
            conn.execute(insert(t.tokens).values(**row))
        return self._token_from_row(type("Row", (), row))

    def get_token_by_hash(self, token_hash: str) -> Token:
        with self._read() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.token_hash == token_hash)).first()
        if row is None:
            raise NotFoundError("Unknown token.")
        return self._token_from_row(row)

    def list_tokens(self) -> list[Token]:
        with self._read() as conn:
            rows = conn.execute(select(t.tokens).order_by(t.tokens.c.created_at)).all()
        return [self._token_from_row(r) for r in rows]

    def revoke_token(self, token_id: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(t.tokens).where(t.tokens.c.id == token_id).values(revoked=True)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"No token with id {token_id!r}.")

    def count_runs(self) -> int:
        """Number of runs (used by benchmarks and the studio)."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.runs)).scalar_one())
