"""``TrackingClient``: the explicit API for experiments, runs, metrics and run artifacts.

Everything the fluent API (``mw.start_run`` / ``mw.log_metric``) does goes through one of
these. It is what ``ws.runs`` is.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks._validation import validate_key, validate_relative_path
from modelworks.artifacts import ArtifactTrees
from modelworks.entities import (
    ArtifactEntry,
    Experiment,
    Metric,
    Run,
    RunStatus,
    generate_run_name,
    new_id,
    now_ms,
)
from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.store.base import BlobStore, MetadataStore
from modelworks.tracking._batcher import MetricBatcher
from modelworks.tracking.sysinfo import current_user

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_EXPERIMENT", "RunList", "TrackingClient"]

DEFAULT_EXPERIMENT = "Default"


class RunList(list[Run]):
    """A page of runs: a list, plus ``next_page_token`` and ``to_pandas()``."""

    next_page_token: str | None = None

    def to_pandas(self) -> pd.DataFrame:
        """One row per run: attributes, then ``metrics.*``, ``params.*``, ``tags.*`` columns."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "experiment_id": run.experiment_id,
                "name": run.name,
                "status": run.status.value,
                "start_time": pd.to_datetime(run.start_time, unit="ms") if run.start_time else None,
                "end_time": pd.to_datetime(run.end_time, unit="ms") if run.end_time else None,
            }
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def run_owner(run_id: str) -> str:
    return f"run/{run_id}"


class TrackingClient:
    """Experiments and runs of one workspace (``ws.runs``)."""

    def __init__(self, meta: MetadataStore, blobs: BlobStore) -> None:
        self.meta = meta
        self.blobs = blobs
        self.trees = ArtifactTrees(meta, blobs)
        self._batcher = MetricBatcher(meta)
        self._known_keys: set[str] = set()
        self._experiment_ids: dict[str, str] = {}

    # -- experiments ------------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> Experiment:
        try:
            return self.meta.get_experiment_by_name(name)
        except NotFoundError:
            from modelworks.errors import AlreadyExistsError

            try:
                return self.meta.create_experiment(name)
            except AlreadyExistsError:  # created by someone else meanwhile
                return self.meta.get_experiment_by_name(name)

    def _experiment_id(self, name: str) -> str:
        found = self._experiment_ids.get(name)
        if found is None:
            found = self._experiment_ids[name] = self.get_or_create_experiment(name).id
        return found

    # -- runs -------------------------------------------------------------------------------
    def create(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str = "",
        kind: str = "run",
        status: RunStatus = RunStatus.RUNNING,
        heartbeat: bool = False,
    ) -> Run:
        """Start a run in ``experiment`` (created if missing) and return it at once.

        The run's id and name are chosen here and the row is written by the background
        writer together with other new runs and metrics (so creating many runs costs one
        round trip, not one each); any call that reads or changes the run writes it first,
        and :meth:`flush` writes it now. With ``heartbeat`` the client keeps telling the store
        the run is alive until :meth:`end`, so a killed process's run is marked Failed
        instead of staying Running.
        """
        status = RunStatus.parse(status)
        created = now_ms()
        request: dict[str, Any] = {
            "experiment_id": self._experiment_id(experiment),
            "run_id": new_id(),
            "name": name or generate_run_name(),
            "parent_id": parent_id,
            "kind": kind,
            "status": status,
            "description": description,
            "user": current_user(),
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "start_time": created if status == RunStatus.RUNNING else None,
        }
        _validate_tags(request["tags"])
        self._batcher.add_run(request)
        if heartbeat:
            self._batcher.watch(request["run_id"])
        return Run(
            id=request["run_id"],
            experiment_id=request["experiment_id"],
            name=request["name"],
            status=status,
            created_at=created,
            start_time=request["start_time"],
            parent_id=parent_id,
            kind=kind,
            description=description,
            user=request["user"],
            tags=request["tags"],
        )

    def _settle(self) -> None:
        """Write queued new runs before a call that needs them to exist."""
        if self._batcher.pending_runs:
            self.flush()

    def get(self, run_id: str) -> Run:
        self._settle()
        return self.meta.get_run(run_id)

    def end(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.COMPLETED,
        *,
        error: str | None = None,
    ) -> Run:
        """Flush queued metrics and move the run to a terminal status."""
        self._batcher.unwatch(run_id)
        try:
            self.flush()  # queued metrics (and the run itself) first
        finally:
            run = self.meta.update_run(run_id, status=RunStatus.parse(status), error=error)
        return run

    def delete(self, run_id: str) -> None:
        self._settle()
        self.meta.update_run(run_id, deleted=True)

    def restore(self, run_id: str) -> None:
        self._settle()
        self.meta.update_run(run_id, deleted=False)

    def search(
        self,
        experiment: str | Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunList:
        """Runs of the named experiment(s) (all when None) matching ``filter``.

        ``filter`` uses ``metrics.``, ``params.``, ``tags.`` and ``attributes.`` keys with
        =, !=, <, <=, >, >=, LIKE, ILIKE, IN, combined with AND / OR and parentheses.
        """
        self._settle()
        ids: list[str] | None = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            ids = [self.meta.get_experiment_by_name(n).id for n in names]
        page = self.meta.search_runs(
            ids,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            include_deleted=include_deleted,
        )
        out = RunList(page.items)
        out.next_page_token = page.next_page_token
        return out

    def list(self, experiment: str | None = None, *, max_results: int = 1000) -> RunList:
        return self.search(experiment, max_results=max_results)

    def children(self, run_id: str) -> RunList:
        return self.search(filter=f"attributes.parent_id = '{run_id}'")

    # -- logging ----------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int = 0,
        timestamp: int | None = None,
    ) -> None:
        """Queue one metric value; written asynchronously in batches (see :meth:`flush`)."""
        if key not in self._known_keys:
            validate_key("metric", key)
            self._known_keys.add(key)
        if not isinstance(value, int | float):
            try:
                value = float(value)
            except (TypeError, ValueError) as e:
                raise InvalidInputError(
                    f"Metric {key!r} got {value!r}; metric values must be numbers."
                ) from e
        stamp = timestamp if timestamp is not None else int(time.time() * 1000)
        self._batcher.add(run_id, Metric(key, float(value), int(step), stamp))

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        stamp = now_ms()
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step=step, timestamp=stamp)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Params are written at once and are immutable (a different value is a ConflictError)."""
        self._settle()
        self.meta.log_batch(run_id, params={k: str(v) for k, v in params.items()})

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self._settle()
        self.meta.log_batch(run_id, tags={k: str(v) for k, v in tags.items()})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._settle()
        self.meta.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> builtins.list[Metric]:
        self.flush()
        return self.meta.get_metric_history(run_id, key)

    def flush(self) -> None:
        """Write all queued metrics now."""
        self._batcher.flush()

    def heartbeat(self, run_id: str) -> None:
        self._settle()
        self.meta.heartbeat(run_id)

    # -- artifacts --------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str = ""
    ) -> builtins.list[ArtifactEntry]:
        """Upload a file (to ``artifact_path/<name>``) or a folder (its contents under it)."""
        self._settle()
        return self.trees.upload(run_owner(run_id), local_path, artifact_path)

    log_artifacts = log_artifact

    def log_text(self, run_id: str, text: str, artifact_file: str) -> ArtifactEntry:
        artifact_file = validate_relative_path(artifact_file)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, Path(artifact_file).name)
            local.write_text(text, encoding="utf-8")
            return self.log_artifact(run_id, local, _folder_of(artifact_file))[0]

    def log_dict(
        self, run_id: str, data: dict[str, Any] | builtins.list[Any], artifact_file: str
    ) -> ArtifactEntry:
        """Write ``data`` as JSON, or YAML when ``artifact_file`` ends in .yml/.yaml."""
        if artifact_file.endswith((".yml", ".yaml")):
            import yaml

            text = yaml.safe_dump(data, sort_keys=False)
        else:
            text = json.dumps(data, indent=2, default=str)
        return self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> ArtifactEntry:
        """Save a matplotlib figure (or anything with ``savefig``) as an image artifact."""
        artifact_file = validate_relative_path(artifact_file)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, Path(artifact_file).name)
            figure.savefig(local)
            return self.log_artifact(run_id, local, _folder_of(artifact_file))[0]

    def list_artifacts(self, run_id: str, path: str = "") -> builtins.list[ArtifactEntry]:
        return self.trees.list(run_owner(run_id), path)

    def download_artifacts(
        self, run_id: str, path: str = "", dest: str | os.PathLike[str] = "."
    ) -> Path:
        return self.trees.download(run_owner(run_id), path, dest)

    def log_model(
        self,
        run_id: str,
        model: Any,
        artifact_path: str = "model",
        *,
        input_example: Any = None,
        signature: dict[str, Any] | None = None,
        flavor: str | None = None,
        pip_requirements: Sequence[str] | None = None,
        artifacts: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Save ``model`` in the MLflow model format under the run's ``artifact_path``.

        Returns ``{"model_uri": "runs:/<id>/<path>", "flavors": [...], "signature": ...}``.
        """
        from modelworks.registry import save_model

        artifact_path = validate_relative_path(artifact_path)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp, "model")
            info = save_model(
                model,
                str(target),
                input_example=input_example,
                signature=signature,
                flavor=flavor,
                pip_requirements=pip_requirements,
                artifacts=artifacts,
                metadata=metadata,
            )
            _set_artifact_path(target, artifact_path, run_id)
            self.log_artifact(run_id, target, artifact_path)
        self.set_tag(run_id, f"mw.model.{artifact_path}", ",".join(info.flavors))
        return {
            "model_uri": f"runs:/{run_id}/{artifact_path}",
            "flavors": list(info.flavors),
            "signature": info.signature,
        }


def _set_artifact_path(model_dir: Path, artifact_path: str, run_id: str) -> None:
    """Record where the model lives in the MLmodel file, as MLflow does."""
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.exists():
        return
    data = yaml.safe_load(mlmodel.read_text()) or {}
    data["artifact_path"] = artifact_path
    data["run_id"] = run_id
    mlmodel.write_text(yaml.safe_dump(data, sort_keys=False))


def _validate_tags(tags: dict[str, str]) -> None:
    """Check new-run tags now, so a bad key fails at the call, not in the background."""
    for key in tags:
        validate_key("tag", key)


def _folder_of(artifact_file: str) -> str:
    return artifact_file.rsplit("/", 1)[0] if "/" in artifact_file else ""
