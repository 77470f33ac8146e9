"""``ws.models``: the model registry — versions, aliases, loading, lineage.

A model version is a manifest over content-addressed blobs: registering from ``runs:/`` copies
no bytes. Loading materialises the files once per content hash in the workspace cache.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.artifacts import tree_hash
from modelworks.entities import ArtifactEntry, LineageEdge, ModelVersion, RegisteredModel
from modelworks.errors import NotFoundError
from modelworks.references import parse_asset_ref, parse_runs_uri

if TYPE_CHECKING:
    from modelworks.registry.pyfunc import LoadedModel
    from modelworks.workspace import Workspace

__all__ = ["ModelOperations"]


def _owner(name: str, version: str) -> str:
    return f"model/{name}/{version}"


def _read_mlmodel(text: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(text) or {}
    return data if isinstance(data, dict) else {}


class ModelOperations:
    """Register, find, alias, load and trace models (``az ml model`` / MLflow registry)."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._meta = workspace.meta
        self._trees = workspace.runs.trees

    # -- registering ------------------------------------------------------------------------
    def register(
        self,
        source: str | os.PathLike[str],
        *,
        name: str,
        version: str | int | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        type: str | None = None,
    ) -> ModelVersion:
        """Register ``runs:/<run_id>/<path>``, ``models:/<name>/<v>`` or a local file/folder.

        The new version records the run it came from, so lineage runs data → run → model.
        """
        text = os.fspath(source)
        run_id: str | None = None
        if text.startswith("runs:/"):
            ref = parse_runs_uri(text)
            run_id = ref.run_id
            self._ws.runs.get(run_id)  # also writes a run still queued in this client
            entries = self._trees.copy(f"run/{run_id}", ref.path, _owner(name, "?"))
        elif text.startswith("models:/"):
            found = self.get(text)
            run_id = found.run_id
            entries = self._trees.copy(_owner(found.name, found.version), "", _owner(name, "?"))
        else:
            local = Path(text).expanduser()
            if not local.exists():
                raise NotFoundError(
                    f"Model source {text!r} is neither a runs:/ or models:/ URI nor an existing path."
                )
            entries = self._trees.store_path(local)
        flavors, signature = self._describe(entries)
        model_type = type or ("mlflow_model" if flavors else "custom_model")
        record = self._meta.create_model_version(
            name,
            entries=entries,
            source=text,
            run_id=run_id,
            flavors=flavors,
            type=model_type,
            signature=signature,
            content_hash=tree_hash(entries),
            version=str(version) if version is not None else None,
            description=description,
            tags=tags,
        )
        if run_id is not None:
            self._meta.add_lineage(LineageEdge(run_id, "output", "model", name, record.version))
        return record

    def create_from_spec(self, spec_path: str | os.PathLike[str]) -> ModelVersion:
        """Register the model an Azure ML model YAML file describes."""
        from modelworks.specs import load_model_spec

        spec = load_model_spec(str(spec_path))
        return self.register(
            spec.path,
            name=spec.name,
            version=spec.version,
            description=spec.description or "",
            tags=spec.tags or {},
            type=spec.type,
        )

    def _describe(self, entries: list[ArtifactEntry]) -> tuple[list[str], dict[str, Any] | None]:
        """Flavors and signature from the MLmodel file among ``entries``, if any."""
        mlmodel = next((e for e in entries if e.path == "MLmodel"), None)
        if mlmodel is None:
            return [], None
        with self._ws.blobs.open(mlmodel.digest) as handle:
            data = _read_mlmodel(handle.read().decode("utf-8"))
        flavors = list((data.get("flavors") or {}).keys())
        signature = data.get("signature") or None
        if isinstance(signature, dict):
            import json

            signature = {
                k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()
            }
        return flavors, signature

    # -- finding ----------------------------------------------------------------------------
    def get(self, ref: str, version: str | int | None = None) -> ModelVersion:
        """``ref``: 'name', 'name:3', 'name@alias', 'models:/name/3', 'models:/name@alias',
        'azureml:name:3'. A bare name is its latest version."""
        parsed = parse_asset_ref(ref, scheme="models")
        if parsed.label is not None:
            return self._meta.get_model_version_by_alias(parsed.name, parsed.label)
        wanted = str(version) if version is not None else parsed.version or "latest"
        return self._meta.get_model_version(parsed.name, wanted)

    def get_model(self, name: str) -> RegisteredModel:
        return self._meta.get_registered_model(name)

    def list(self, name: str | None = None, *, name_like: str | None = None) -> list[Any]:
        """Versions of ``name`` (newest first), or registered models (optionally LIKE-filtered)."""
        if name is not None:
            return list(self._meta.list_model_versions(name))
        return list(self._meta.list_registered_models(name_like=name_like))

    def set_alias(self, name: str, alias: str, *, version: str | int) -> None:
        self._meta.set_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        self._meta.delete_model_alias(name, alias)

    def update(
        self,
        name: str,
        version: str | int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        return self._meta.update_model_version(
            name, str(version), description=description, tags=tags
        )

    def archive(self, name: str, version: str | int) -> ModelVersion:
        return self._meta.update_model_version(name, str(version), archived=True)

    def delete(self, name: str, version: str | int | None = None) -> None:
        """Delete one version, or the whole model with ``version=None``."""
        if version is None:
            self._meta.delete_registered_model(name)
        else:
            self._meta.delete_model_version(name, str(version))

    # -- using ------------------------------------------------------------------------------
    def download(self, ref: str, dest: str | os.PathLike[str] = ".") -> Path:
        """Write the model's files to ``dest/<name>`` and return that folder."""
        record = self._resolve(ref)
        if isinstance(record, tuple):
            run_id, path = record
            return self._trees.download(f"run/{run_id}", path, dest)
        return self._trees.download(
            _owner(record.name, record.version), "", Path(dest) / record.name
        )

    def local_path(self, ref: str) -> Path:
        """The model's files in the workspace cache (downloaded once per content)."""
        record = self._resolve(ref)
        if isinstance(record, tuple):
            run_id, path = record
            entries = self._trees.copy(f"run/{run_id}", path, "")
            owner, prefix = f"run/{run_id}", path
        else:
            entries = self._meta.list_artifact_entries(_owner(record.name, record.version))
            owner, prefix = _owner(record.name, record.version), ""
        folder = self._ws.cache_dir / "models" / tree_hash(entries)
        marker = folder / ".modelworks-complete"
        if not marker.exists():
            with tempfile.TemporaryDirectory(dir=_ensure(self._ws.cache_dir)) as tmp:
                staged = self._trees.download(owner, prefix, Path(tmp) / "m")
                folder.parent.mkdir(parents=True, exist_ok=True)
                if not folder.exists():
                    os.replace(staged, folder)
            marker.touch()
        return folder

    def load(self, ref: str) -> LoadedModel:
        """Load a registered model (or ``runs:/`` model) for ``.predict(df)``."""
        from modelworks.registry import load_model

        return load_model(str(self.local_path(ref)))

    def _resolve(self, ref: str) -> ModelVersion | tuple[str, str]:
        if ref.startswith("runs:/"):
            parsed = parse_runs_uri(ref)
            return parsed.run_id, parsed.path
        return self.get(ref)

    def lineage(self, ref: str) -> dict[str, Any]:
        """The run that produced this version and the data versions that run read."""
        record = self.get(ref)
        if record.run_id is None:
            return {"model": record, "run": None, "data": []}
        run = self._meta.get_run(record.run_id)
        data = [e for e in self._meta.list_lineage(run_id=record.run_id) if e.direction == "input"]
        return {"model": record, "run": run, "data": data}


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
