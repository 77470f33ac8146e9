"""``ws.data``: named, versioned, immutable data assets (``uri_file``, ``uri_folder``, ``mltable``).

Registering copies the files into the content-addressed blob store, so a version can never
change under a run that read it; identical content registered again returns the existing
version (unless ``force``). Tabular assets are profiled once, at registration.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.artifacts import tree_hash
from modelworks.entities import ArtifactEntry, DataVersion, LineageEdge, ModelVersion
from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.references import parse_asset_ref

if TYPE_CHECKING:
    import pandas as pd

    from modelworks.workspace import Workspace

__all__ = ["DataAsset", "DataOperations"]

TYPES = ("uri_file", "uri_folder", "mltable")
TABULAR_HINT = "csv, tsv, parquet, json, jsonl or feather, optionally compressed"


def _is_tabular(name: str) -> bool:
    from modelworks.data.readers import table_format

    return table_format(name) is not None


def _owner(name: str, version: str) -> str:
    return f"data/{name}/{version}"


class DataAsset:
    """One version of a data asset, with ways to read it."""

    def __init__(self, ops: DataOperations, record: DataVersion) -> None:
        self._ops = ops
        self.record = record

    name = property(lambda self: self.record.name)
    version = property(lambda self: self.record.version)
    type = property(lambda self: self.record.type)
    source = property(lambda self: self.record.source)
    description = property(lambda self: self.record.description)
    tags = property(lambda self: self.record.tags)
    profile = property(lambda self: self.record.profile)
    content_hash = property(lambda self: self.record.content_hash)

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"

    def files(self) -> list[ArtifactEntry]:
        return self._ops._ws.meta.list_artifact_entries(_owner(self.name, self.version))

    def download(self, dest: str | os.PathLike[str] | None = None) -> Path:
        """Materialise the files locally (cached by content) and return the path to read.

        For ``uri_file`` that is the file; otherwise the folder.
        """
        if dest is None:
            folder = self._ops._ws.cache_dir / "data" / self.content_hash
            marker = folder / ".modelworks-complete"
            if not marker.exists():
                self._ops._ws.runs.trees.download(_owner(self.name, self.version), "", folder)
                marker.touch()
        else:
            folder = Path(dest)
            self._ops._ws.runs.trees.download(_owner(self.name, self.version), "", folder)
        if self.type == "uri_file":
            return folder / self.files()[0].path
        return folder

    @property
    def path(self) -> str:
        """A local path to the data (materialised on first use)."""
        return str(self.download())

    def to_pandas(self) -> pd.DataFrame:
        """Read the asset as a DataFrame, recording lineage when a run is active."""
        from modelworks.data.readers import read_table

        frame = read_table(str(self.download()), self.type)
        from modelworks.tracking.fluent import active_run

        run = active_run()
        if run is not None and run.workspace.meta is self._ops._ws.meta:
            self._ops.record_input(run.id, self.name, self.version)
        return frame

    def __repr__(self) -> str:
        return f"<DataAsset {self.name}:{self.version} type={self.type}>"


class DataOperations:
    """Create, get, list, archive data assets (``az ml data``)."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._meta = workspace.meta

    def create(
        self,
        name: str,
        path: Any,
        *,
        type: str | None = None,
        version: str | int | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        force: bool = False,
        profile: bool = True,
    ) -> DataAsset:
        """Register ``path`` (a local file or folder, an fsspec URL, or a DataFrame).

        ``type`` defaults to ``mltable`` for a DataFrame, ``uri_file`` for a file and
        ``uri_folder`` for a folder. Registering content identical to an existing version
        returns that version unless ``force``.
        """
        from modelworks._validation import validate_name

        validate_name("data asset", name)
        if type is not None and type not in TYPES:
            raise InvalidInputError(
                f"Unknown data asset type {type!r}; expected one of {', '.join(TYPES)}."
            )
        with tempfile.TemporaryDirectory(prefix="modelworks-data-") as tmp:
            local, type_, source = self._stage(path, type, Path(tmp))
            entries = self._ws.runs.trees.store_path(local)
            if local.is_file():
                entries = [ArtifactEntry(local.name, e.digest, e.size) for e in entries]
            stats = self._profile(local, type_) if profile else None
        record, _created = self._meta.create_data_version(
            name,
            type=type_,
            source=source,
            content_hash=tree_hash(entries),
            entries=entries,
            version=str(version) if version is not None else None,
            description=description,
            tags=tags,
            profile=stats,
            force=force,
        )
        return DataAsset(self, record)

    def create_from_spec(
        self, spec_path: str | os.PathLike[str], *, force: bool = False
    ) -> DataAsset:
        """Register the asset an Azure ML data YAML file describes."""
        from modelworks.specs import load_data_spec

        spec = load_data_spec(str(spec_path))
        return self.create(
            spec.name,
            spec.path,
            type=spec.type,
            version=spec.version,
            description=spec.description or "",
            tags=spec.tags or {},
            force=force,
        )

    def _stage(self, path: Any, type_: str | None, tmp: Path) -> tuple[Path, str, str]:
        """A local file/folder holding exactly the asset's files, its type and source text."""
        if _is_dataframe(path):
            from modelworks.data.readers import dataframe_to_files

            folder = tmp / "table"
            folder.mkdir()
            dataframe_to_files(path, str(folder))
            return folder, type_ or "mltable", "DataFrame"
        if not isinstance(path, str | os.PathLike):
            raise InvalidInputError(
                f"path must be a local path, an fsspec URL or a pandas DataFrame, not {path.__class__.__name__}."
            )
        text = os.fspath(path)
        if "://" in text and not text.startswith("file://"):
            local = self._fetch_url(text, tmp)
        else:
            local = Path(text.removeprefix("file://")).expanduser()
            if not local.exists():
                raise NotFoundError(
                    f"Data path {text!r} does not exist. Check the path (relative to {os.getcwd()})."
                )
        local = local.resolve()
        if type_ is None:
            type_ = (
                "uri_file"
                if local.is_file()
                else ("mltable" if (local / "MLTable").exists() else "uri_folder")
            )
        if type_ == "uri_file" and not local.is_file():
            raise InvalidInputError(
                f"Type uri_file needs a file, but {text!r} is a folder; use uri_folder."
            )
        if type_ == "uri_folder" and not local.is_dir():
            raise InvalidInputError(
                f"Type uri_folder needs a folder, but {text!r} is a file; use uri_file."
            )
        if type_ == "mltable" and (local.is_file() or not (local / "MLTable").exists()):
            local = self._as_mltable(local, tmp)
        return local, type_, str(path)

    @staticmethod
    def _as_mltable(local: Path, tmp: Path) -> Path:
        """Copy tabular file(s) into a folder with a generated MLTable file."""
        from modelworks.data.readers import write_mltable

        folder = tmp / "mltable"
        folder.mkdir(exist_ok=True)
        sources = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
        files = []
        for source in sources:
            if not _is_tabular(source.name):
                continue
            relative = source.name if local.is_file() else source.relative_to(local).as_posix()
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            files.append(relative)
        if not files:
            raise InvalidInputError(
                f"{str(local)!r} holds no tabular file ({TABULAR_HINT}) to make an mltable from."
            )
        write_mltable(str(folder), files)
        return folder

    @staticmethod
    def _fetch_url(url: str, tmp: Path) -> Path:
        import fsspec

        fs, remote = fsspec.core.url_to_fs(url)
        target = tmp / "download" / Path(remote.rstrip("/")).name
        if not fs.exists(remote):
            raise NotFoundError(f"Data URL {url!r} does not exist.")
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get(remote, str(target), recursive=fs.isdir(remote))
        return target

    @staticmethod
    def _profile(local: Path, type_: str) -> dict[str, Any] | None:
        if type_ == "uri_folder" or (type_ == "uri_file" and not _is_tabular(local.name)):
            return None
        from modelworks.data.profile import profile_table
        from modelworks.data.readers import read_table

        try:
            return profile_table(read_table(str(local), type_))
        except InvalidInputError:
            if type_ == "mltable":
                raise
            return None

    def get(self, ref: str, version: str | int | None = None) -> DataAsset:
        """``ref`` is 'name', 'name@latest', 'name:3', 'azureml:name:3' or 'data:/name/3'."""
        parsed = parse_asset_ref(ref, scheme="data")
        if parsed.label is not None:
            raise InvalidInputError(
                f"Data assets have no label {parsed.label!r}; use {parsed.name}@latest or {parsed.name}:<version>."
            )
        wanted = str(version) if version is not None else parsed.version or "latest"
        return DataAsset(self, self._meta.get_data_version(parsed.name, wanted))

    def list(self, name: str | None = None, *, include_archived: bool = False) -> list[DataAsset]:
        """Versions of ``name`` (newest first), or the latest version of every asset."""
        if name is not None:
            self._meta.get_data_version(name, "latest") if not include_archived else None
        return [
            DataAsset(self, r)
            for r in self._meta.list_data_versions(name, include_archived=include_archived)
        ]

    def update(
        self, ref: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> DataAsset:
        asset = self.get(ref)
        return DataAsset(
            self,
            self._meta.update_data_version(
                asset.name, asset.version, description=description, tags=tags
            ),
        )

    def archive(self, name: str, version: str | int | None = None) -> None:
        """Hide a version (or, without ``version``, every version) from listings and @latest."""
        self._set_archived(name, version, True)

    def restore(self, name: str, version: str | int | None = None) -> None:
        self._set_archived(name, version, False)

    def _set_archived(self, name: str, version: str | int | None, value: bool) -> None:
        versions = (
            [str(version)]
            if version is not None
            else [v.version for v in self._meta.list_data_versions(name, include_archived=True)]
        )
        if not versions:
            self._meta.get_data_version(name)
        for v in versions:
            self._meta.update_data_version(name, v, archived=value)

    def record_input(self, run_id: str, name: str, version: str) -> None:
        self._meta.add_lineage(LineageEdge(run_id, "input", "data", name, version))

    def lineage(self, ref: str) -> dict[str, Any]:
        """Which runs read this version and which model versions those runs produced."""
        asset = self.get(ref)
        edges = self._meta.list_lineage(asset_kind="data", name=asset.name, version=asset.version)
        run_ids = sorted({e.run_id for e in edges})
        models: list[ModelVersion] = []
        for run_id in run_ids:
            models.extend(self._meta.list_model_versions(run_id=run_id))
        return {"data": asset.record, "runs": run_ids, "models": models}


def _is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_parquet")
