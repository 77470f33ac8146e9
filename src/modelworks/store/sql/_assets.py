"""Data versions, registered models, model versions, aliases and lineage in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SaIntegrityError

from modelworks._validation import validate_name, validate_relative_path
from modelworks.entities import (
    ArtifactEntry,
    DataVersion,
    LineageEdge,
    ModelVersion,
    RegisteredModel,
    now_ms,
)
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.store.sql import schema as t
from modelworks.store.sql._base import SqlBase, suggest

__all__ = ["AssetsMixin"]

DATA_TYPES = ("uri_file", "uri_folder", "mltable")
MODEL_TYPES = ("custom_model", "mlflow_model", "triton_model")


def _check_version(version: str) -> str:
    text = str(version)
    if not text or len(text) > 64 or "/" in text or text in ("latest",):
        raise InvalidInputError(
            f"Invalid version {text!r}: use up to 64 characters without '/', not 'latest' "
            "(omit the version to get the next number)."
        )
    return text


def _next_number(conn: Connection, table: Any, name: str) -> int:
    current = conn.execute(select(func.max(table.c.version_num)).where(table.c.name == name))
    return int(current.scalar() or 0) + 1


def _entry_rows(owner: str, entries: Sequence[ArtifactEntry]) -> list[dict[str, Any]]:
    return [
        {"owner": owner, "path": validate_relative_path(e.path), "digest": e.digest, "size": e.size}
        for e in entries
    ]


class AssetsMixin(SqlBase):
    """The asset half of SqlMetadataStore."""

    # -- data -------------------------------------------------------------------------------
    @staticmethod
    def _data_from_row(row: Any) -> DataVersion:
        return DataVersion(
            name=row.name,
            version=row.version,
            type=row.type,
            source=row.source,
            content_hash=row.content_hash,
            created_at=row.created_at,
            description=row.description,
            tags=dict(row.tags or {}),
            profile=row.profile,
            archived=bool(row.archived),
        )

    def create_data_version(
        self,
        name: str,
        *,
        type: str,
        source: str,
        content_hash: str,
        entries: Sequence[ArtifactEntry],
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
        force: bool = False,
    ) -> tuple[DataVersion, bool]:
        validate_name("data asset", name)
        if type not in DATA_TYPES:
            raise InvalidInputError(
                f"Unknown data asset type {type!r}; expected one of {', '.join(DATA_TYPES)}."
            )
        if version is not None:
            version = _check_version(version)
        d = t.data_versions
        for attempt in range(3):
            try:
                with self._write() as conn:
                    if not force:
                        same = conn.execute(
                            select(d)
                            .where(d.c.name == name, d.c.content_hash == content_hash)
                            .order_by(d.c.version_num.desc())
                        ).first()
                        if same is not None and (version is None or same.version == version):
                            return self._data_from_row(same), False
                    number = _next_number(conn, d, name)
                    if version is not None:
                        taken = conn.execute(
                            select(d.c.version).where(d.c.name == name, d.c.version == version)
                        ).first()
                        if taken:
                            raise AlreadyExistsError(
                                f"Data asset {name!r} already has version {version!r}; data "
                                "versions are immutable. Omit the version to get the next "
                                f"number ({number})."
                            )
                        if version.isdigit():
                            number = max(number, int(version))
                    row = {
                        "name": name,
                        "version": version or str(number),
                        "version_num": number,
                        "type": type,
                        "source": source,
                        "content_hash": content_hash,
                        "description": description,
                        "tags": {k: str(v) for k, v in (tags or {}).items()},
                        "profile": profile,
                        "created_at": now_ms(),
                        "archived": False,
                    }
                    conn.execute(insert(d).values(**row))
                    owner = f"data/{name}/{row['version']}"
                    if entries:
                        conn.execute(insert(t.artifacts), _entry_rows(owner, entries))
                    return self._data_from_row(type_row(row)), True
            except SaIntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_data_version(self, name: str, version: str = "latest") -> DataVersion:
        d = t.data_versions
        with self._read() as conn:
            if version in ("latest", "", None):
                row = conn.execute(
                    select(d)
                    .where(d.c.name == name, d.c.archived.is_(False))
                    .order_by(d.c.version_num.desc())
                ).first()
            else:
                row = conn.execute(
                    select(d).where(d.c.name == name, d.c.version == str(version))
                ).first()
            if row is not None:
                return self._data_from_row(row)
            versions = list(
                conn.execute(
                    select(d.c.version).where(d.c.name == name).order_by(d.c.version_num)
                ).scalars()
            )
            names = [] if versions else list(conn.execute(select(d.c.name).distinct()).scalars())
        if not versions:
            raise NotFoundError(
                f"No data asset named {name!r}." + suggest(name, names, "data assets")
            )
        if version in ("latest", "", None):
            raise NotFoundError(
                f"Data asset {name!r} has only archived versions ({', '.join(versions)}); "
                "ask for one explicitly or restore it."
            )
        raise NotFoundError(
            f"Data asset {name!r} has no version {version}; latest is {versions[-1]}. Use "
            f"azureml:{name}@latest or one of {', '.join(versions)}."
        )

    def list_data_versions(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[DataVersion]:
        d = t.data_versions
        query = select(d)
        if not include_archived:
            query = query.where(d.c.archived.is_(False))
        if name is not None:
            query = query.where(d.c.name == name).order_by(d.c.version_num.desc())
            with self._read() as conn:
                return [self._data_from_row(r) for r in conn.execute(query)]
        with self._read() as conn:
            rows = conn.execute(query.order_by(d.c.name, d.c.version_num.desc())).all()
        latest: dict[str, DataVersion] = {}
        for r in rows:
            latest.setdefault(r.name, self._data_from_row(r))
        return list(latest.values())

    def update_data_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> DataVersion:
        current = self.get_data_version(name, version)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = {**current.tags, **{k: str(v) for k, v in tags.items()}}
        if archived is not None:
            values["archived"] = archived
        d = t.data_versions
        with self._write() as conn:
            if values:
                conn.execute(
                    update(d)
                    .where(d.c.name == name, d.c.version == current.version)
                    .values(**values)
                )
            row = conn.execute(
                select(d).where(d.c.name == name, d.c.version == current.version)
            ).one()
        return self._data_from_row(row)

    # -- registered models ------------------------------------------------------------------
    def _model_from_row(self, conn: Connection, row: Any) -> RegisteredModel:
        mv = t.model_versions
        aliases = dict(
            conn.execute(
                select(t.model_aliases.c.alias, t.model_aliases.c.version).where(
                    t.model_aliases.c.name == row.name
                )
            ).all()
        )
        latest = conn.execute(
            select(mv.c.version)
            .where(mv.c.name == row.name, mv.c.archived.is_(False))
            .order_by(mv.c.version_num.desc())
        ).first()
        return RegisteredModel(
            name=row.name,
            created_at=row.created_at,
            updated_at=row.updated_at,
            description=row.description,
            tags=dict(row.tags or {}),
            aliases=aliases,
            latest_version=latest[0] if latest else None,
        )

    def _insert_registered_model(
        self, conn: Connection, name: str, description: str, tags: dict[str, str] | None
    ) -> None:
        stamp = now_ms()
        conn.execute(
            insert(t.registered_models).values(
                name=name,
                description=description,
                tags={k: str(v) for k, v in (tags or {}).items()},
                created_at=stamp,
                updated_at=stamp,
            )
        )

    def create_registered_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        validate_name("model", name)
        rm = t.registered_models
        with self._write() as conn:
            if conn.execute(select(rm.c.name).where(rm.c.name == name)).first():
                raise AlreadyExistsError(
                    f"Model {name!r} already exists; register a new version of it instead."
                )
            self._insert_registered_model(conn, name, description, tags)
            row = conn.execute(select(rm).where(rm.c.name == name)).one()
            return self._model_from_row(conn, row)

    def _require_model(self, conn: Connection, name: str) -> Any:
        rm = t.registered_models
        row = conn.execute(select(rm).where(rm.c.name == name)).first()
        if row is None:
            names = list(conn.execute(select(rm.c.name)).scalars())
            raise NotFoundError(f"No model named {name!r}." + suggest(name, names, "models"))
        return row

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._read() as conn:
            return self._model_from_row(conn, self._require_model(conn, name))

    def list_registered_models(self, *, name_like: str | None = None) -> list[RegisteredModel]:
        rm = t.registered_models
        query = select(rm).order_by(rm.c.name)
        if name_like:
            query = query.where(rm.c.name.like(name_like))
        with self._read() as conn:
            return [self._model_from_row(conn, r) for r in conn.execute(query).all()]

    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        rm = t.registered_models
        with self._write() as conn:
            row = self._require_model(conn, name)
            values: dict[str, Any] = {"updated_at": now_ms()}
            if description is not None:
                values["description"] = description
            if tags is not None:
                values["tags"] = {**(row.tags or {}), **{k: str(v) for k, v in tags.items()}}
            conn.execute(update(rm).where(rm.c.name == name).values(**values))
            return self._model_from_row(
                conn, conn.execute(select(rm).where(rm.c.name == name)).one()
            )

    def delete_registered_model(self, name: str) -> None:
        with self._write() as conn:
            self._require_model(conn, name)
            conn.execute(
                delete(t.artifacts).where(t.artifacts.c.owner.startswith(f"model/{name}/"))
            )
            conn.execute(delete(t.model_aliases).where(t.model_aliases.c.name == name))
            conn.execute(delete(t.model_versions).where(t.model_versions.c.name == name))
            conn.execute(
                delete(t.lineage).where(t.lineage.c.asset_kind == "model", t.lineage.c.name == name)
            )
            conn.execute(delete(t.registered_models).where(t.registered_models.c.name == name))

    # -- model versions ---------------------------------------------------------------------
    @staticmethod
    def _version_from_row(row: Any, aliases: list[str]) -> ModelVersion:
        return ModelVersion(
            name=row.name,
            version=row.version,
            created_at=row.created_at,
            source=row.source,
            run_id=row.run_id,
            flavors=list(row.flavors or []),
            type=row.type,
            description=row.description,
            tags=dict(row.tags or {}),
            aliases=aliases,
            signature=row.signature,
            content_hash=row.content_hash,
            archived=bool(row.archived),
        )

    def _aliases_of(self, conn: Connection, name: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        a = t.model_aliases
        for alias, version in conn.execute(
            select(a.c.alias, a.c.version).where(a.c.name == name).order_by(a.c.alias)
        ):
            out.setdefault(version, []).append(alias)
        return out

    def create_model_version(
        self,
        name: str,
        *,
        entries: Sequence[ArtifactEntry],
        source: str = "",
        run_id: str | None = None,
        flavors: Sequence[str] = (),
        type: str = "custom_model",
        signature: dict[str, Any] | None = None,
        content_hash: str = "",
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        validate_name("model", name)
        if type not in MODEL_TYPES:
            raise InvalidInputError(
                f"Unknown model type {type!r}; expected one of {', '.join(MODEL_TYPES)}."
            )
        if version is not None:
            version = _check_version(version)
        mv = t.model_versions
        for attempt in range(3):
            try:
                with self._write() as conn:
                    rm = t.registered_models
                    if not conn.execute(select(rm.c.name).where(rm.c.name == name)).first():
                        self._insert_registered_model(conn, name, "", None)
                    number = _next_number(conn, mv, name)
                    if version is not None:
                        if conn.execute(
                            select(mv.c.version).where(mv.c.name == name, mv.c.version == version)
                        ).first():
                            raise AlreadyExistsError(
                                f"Model {name!r} already has version {version!r}. Omit the "
                                f"version to get the next number ({number})."
                            )
                        if version.isdigit():
                            number = max(number, int(version))
                    row = {
                        "name": name,
                        "version": version or str(number),
                        "version_num": number,
                        "source": source,
                        "run_id": run_id,
                        "flavors": list(flavors),
                        "type": type,
                        "signature": signature,
                        "content_hash": content_hash,
                        "description": description,
                        "tags": {k: str(v) for k, v in (tags or {}).items()},
                        "created_at": now_ms(),
                        "archived": False,
                    }
                    conn.execute(insert(mv).values(**row))
                    conn.execute(update(rm).where(rm.c.name == name).values(updated_at=now_ms()))
                    if entries:
                        owner = f"model/{name}/{row['version']}"
                        conn.execute(insert(t.artifacts), _entry_rows(owner, entries))
                    return self._version_from_row(type_row(row), [])
            except SaIntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_model_version(self, name: str, version: str = "latest") -> ModelVersion:
        mv = t.model_versions
        with self._read() as conn:
            self._require_model(conn, name)
            if version in ("latest", "", None):
                row = conn.execute(
                    select(mv)
                    .where(mv.c.name == name, mv.c.archived.is_(False))
                    .order_by(mv.c.version_num.desc())
                ).first()
            else:
                row = conn.execute(
                    select(mv).where(mv.c.name == name, mv.c.version == str(version))
                ).first()
            if row is not None:
                return self._version_from_row(
                    row, self._aliases_of(conn, name).get(row.version, [])
                )
            versions = list(
                conn.execute(
                    select(mv.c.version).where(mv.c.name == name).order_by(mv.c.version_num)
                ).scalars()
            )
        if not versions:
            raise NotFoundError(f"Model {name!r} has no versions yet.")
        raise NotFoundError(
            f"Model {name!r} has no version {version}; latest is {versions[-1]}. Use "
            f"models:/{name}/latest or one of {', '.join(versions)}."
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        a = t.model_aliases
        with self._read() as conn:
            self._require_model(conn, name)
            row = conn.execute(
                select(a.c.version).where(a.c.name == name, a.c.alias == alias)
            ).first()
            if row is None:
                known = list(conn.execute(select(a.c.alias).where(a.c.name == name)).scalars())
                raise NotFoundError(
                    f"Model {name!r} has no alias {alias!r}."
                    + suggest(alias, known, f"aliases of {name!r}")
                    + f" Set one with ws.models.set_alias({name!r}, {alias!r}, version=...)."
                )
        return self.get_model_version(name, row[0])

    def list_model_versions(
        self, name: str | None = None, *, run_id: str | None = None
    ) -> list[ModelVersion]:
        mv = t.model_versions
        query = select(mv).order_by(mv.c.name, mv.c.version_num.desc())
        with self._read() as conn:
            if name is not None:
                self._require_model(conn, name)
                query = query.where(mv.c.name == name)
            if run_id is not None:
                query = query.where(mv.c.run_id == run_id)
            rows = conn.execute(query).all()
            alias_cache: dict[str, dict[str, list[str]]] = {}
            out = []
            for r in rows:
                if r.name not in alias_cache:
                    alias_cache[r.name] = self._aliases_of(conn, r.name)
                out.append(self._version_from_row(r, alias_cache[r.name].get(r.version, [])))
        return out

    def update_model_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> ModelVersion:
        current = self.get_model_version(name, version)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = {**current.tags, **{k: str(v) for k, v in tags.items()}}
        if archived is not None:
            values["archived"] = archived
        mv = t.model_versions
        if values:
            with self._write() as conn:
                conn.execute(
                    update(mv)
                    .where(mv.c.name == name, mv.c.version == current.version)
                    .values(**values)
                )
        return self.get_model_version(name, current.version)

    def delete_model_version(self, name: str, version: str) -> None:
        current = self.get_model_version(name, version)
        mv = t.model_versions
        with self._write() as conn:
            conn.execute(delete(mv).where(mv.c.name == name, mv.c.version == current.version))
            conn.execute(
                delete(t.model_aliases).where(
                    t.model_aliases.c.name == name, t.model_aliases.c.version == current.version
                )
            )
            conn.execute(
                delete(t.artifacts).where(t.artifacts.c.owner == f"model/{name}/{current.version}")
            )

    def set_model_alias(self, name: str, alias: str, version: str) -> None:
        validate_name("alias", alias)
        if alias == "latest" or alias.isdigit():
            raise InvalidInputError(
                f"Alias {alias!r} is reserved; 'latest' and numbers already name versions."
            )
        target = self.get_model_version(name, version)
        a = t.model_aliases
        with self._write() as conn:
            conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias))
            conn.execute(insert(a).values(name=name, alias=alias, version=target.version))

    def delete_model_alias(self, name: str, alias: str) -> None:
        a = t.model_aliases
        with self._write() as conn:
            self._require_model(conn, name)
            result = conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias))
        if result.rowcount == 0:
            raise NotFoundError(f"Model {name!r} has no alias {alias!r}.")

    # -- lineage ----------------------------------------------------------------------------
    def add_lineage(self, edge: LineageEdge) -> None:
        if edge.direction not in ("input", "output"):
            raise InvalidInputError(
                f"Lineage direction must be input or output, not {edge.direction!r}."
            )
        if edge.asset_kind not in ("data", "model"):
            raise InvalidInputError(
                f"Lineage asset kind must be data or model, not {edge.asset_kind!r}."
            )
        row = edge.to_dict()
        with self._write() as conn:
            exists = conn.execute(
                select(t.lineage.c.run_id).where(*[t.lineage.c[k] == v for k, v in row.items()])
            ).first()
            if not exists:
                conn.execute(insert(t.lineage).values(**row))

    def list_lineage(
        self,
        *,
        run_id: str | None = None,
        asset_kind: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> list[LineageEdge]:
        lin = t.lineage
        query = select(lin)
        for column, value in (
            ("run_id", run_id),
            ("asset_kind", asset_kind),
            ("name", name),
            ("version", version),
        ):
            if value is not None:
                query = query.where(lin.c[column] == value)
        with self._read() as conn:
            rows = conn.execute(query.order_by(lin.c.run_id, lin.c.name, lin.c.version)).all()
        return [LineageEdge(r.run_id, r.direction, r.asset_kind, r.name, r.version) for r in rows]


class type_row:
    """Lets a freshly inserted dict be read like a result row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
