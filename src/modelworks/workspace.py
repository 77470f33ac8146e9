"""``Workspace``: the entry point of the SDK, a local folder or a server URL.

Operations are grouped like Azure ML's MLClient: ``ws.runs``, ``ws.experiments``, ``ws.data``,
``ws.models``. The same code works on both backends because each group only talks to the two
storage ports.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.config import (
    ENV_HEARTBEAT_TIMEOUT,
    ENV_TOKEN,
    default_location,
    is_url,
    load_config,
)
from modelworks.entities import Experiment
from modelworks.store import open_blobs, open_metadata
from modelworks.tracking.client import TrackingClient

if TYPE_CHECKING:
    from modelworks.compute.operations import ComputeOperations
    from modelworks.data.operations import DataOperations
    from modelworks.endpoints.operations import OnlineDeploymentOperations, OnlineEndpointOperations
    from modelworks.environments.operations import EnvironmentOperations
    from modelworks.jobs.operations import JobOperations
    from modelworks.pipeline_endpoints.operations import PipelineEndpointOperations
    from modelworks.pipelines.components import ComponentOperations
    from modelworks.registry.operations import ModelOperations
    from modelworks.schedules.operations import ScheduleOperations

__all__ = ["ExperimentOperations", "Workspace"]

DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0


def heartbeat_timeout_s() -> float:
    return float(os.environ.get(ENV_HEARTBEAT_TIMEOUT, DEFAULT_HEARTBEAT_TIMEOUT_S))


class ExperimentOperations:
    """``ws.experiments``: named groups of runs."""

    def __init__(self, runs: TrackingClient) -> None:
        self._runs = runs
        self._meta = runs.meta

    def create(self, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        return self._meta.create_experiment(name, tags=tags)

    def get(self, name: str) -> Experiment:
        return self._meta.get_experiment_by_name(name)

    def get_or_create(self, name: str) -> Experiment:
        return self._runs.get_or_create_experiment(name)

    def list(self, *, include_deleted: bool = False) -> list[Experiment]:
        return self._meta.list_experiments(include_deleted=include_deleted)

    def update(
        self, name: str, *, new_name: str | None = None, tags: dict[str, str] | None = None
    ) -> Experiment:
        return self._meta.update_experiment(self.get(name).id, name=new_name, tags=tags)

    def delete(self, name: str) -> None:
        self._meta.update_experiment(self.get(name).id, deleted=True)

    def restore(self, name: str) -> None:
        self._meta.update_experiment(self.get(name).id, deleted=False)


class Workspace:
    """A modelworks workspace.

    ``Workspace("./ws")`` opens (creating if needed) a local workspace: a SQLite database and
    a blob folder inside ``./ws`` unless ``workspace.yaml`` there names others (PostgreSQL,
    S3). ``Workspace("http://host:8080", token=...)`` talks to a ``modelworks server``.
    Without a location: ``$MODELWORKS_WORKSPACE``, else ``./.modelworks``.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        token: str | None = None,
        metadata_uri: str | None = None,
        artifact_uri: str | None = None,
    ) -> None:
        self.location = str(location) if location is not None else default_location()
        self.is_remote = is_url(self.location)
        if self.is_remote:
            token = token or os.environ.get(ENV_TOKEN)
            self.root: Path | None = None
            self.meta = open_metadata(self.location, token=token)
            self.blobs = open_blobs(self.location, token=token)
            safe = hashlib.sha256(self.location.encode()).hexdigest()[:16]
            self.cache_dir = (
                Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelworks" / safe
            )
        else:
            config = load_config(
                self.location, metadata_uri=metadata_uri, artifact_uri=artifact_uri
            )
            self.root = config.root
            self.meta = open_metadata(config.metadata_uri)
            self.blobs = open_blobs(config.artifact_uri)
            self.cache_dir = config.root / "cache"
        self.runs = TrackingClient(self.meta, self.blobs)
        self.experiments = ExperimentOperations(self.runs)
        self._data: DataOperations | None = None
        self._models: ModelOperations | None = None
        if not self.is_remote:
            self.reap_stale_runs()

    @property
    def data(self) -> DataOperations:
        """``ws.data``: versioned data assets."""
        if self._data is None:
            from modelworks.data.operations import DataOperations

            self._data = DataOperations(self)
        return self._data

    @property
    def models(self) -> ModelOperations:
        """``ws.models``: the model registry."""
        if self._models is None:
            from modelworks.registry.operations import ModelOperations

            self._models = ModelOperations(self)
        return self._models

    @property
    def online_endpoints(self) -> OnlineEndpointOperations:
        """``ws.online_endpoints``: online endpoints (keys, traffic, invoke)."""
        from modelworks.endpoints.operations import OnlineEndpointOperations

        if "_online_endpoints" not in self.__dict__:
            self.__dict__["_online_endpoints"] = OnlineEndpointOperations(self)
        found: OnlineEndpointOperations = self.__dict__["_online_endpoints"]
        return found

    @property
    def online_deployments(self) -> OnlineDeploymentOperations:
        """``ws.online_deployments``: deployments behind online endpoints."""
        from modelworks.endpoints.operations import OnlineDeploymentOperations

        if "_online_deployments" not in self.__dict__:
            self.__dict__["_online_deployments"] = OnlineDeploymentOperations(self)
        found: OnlineDeploymentOperations = self.__dict__["_online_deployments"]
        return found

    # -- jobs, environments, computes (modelworks.jobs; issue 4) ---------------------------
    @property
    def jobs(self) -> JobOperations:
        """``ws.jobs``: command and sweep jobs."""
        from modelworks.jobs.operations import JobOperations

        if "_jobs" not in self.__dict__:
            self.__dict__["_jobs"] = JobOperations(self)
        return self.__dict__["_jobs"]

    @property
    def environments(self) -> EnvironmentOperations:
        """``ws.environments``: versioned job environments."""
        from modelworks.environments.operations import EnvironmentOperations

        return EnvironmentOperations(self.jobs.store)

    @property
    def compute(self) -> ComputeOperations:
        """``ws.compute``: compute targets (local, Ray clusters)."""
        from modelworks.compute.operations import ComputeOperations

        return ComputeOperations(self.jobs.store)

    @property
    def components(self) -> ComponentOperations:
        """``ws.components``: versioned command components for pipelines."""
        from modelworks.pipelines.components import ComponentOperations

        return ComponentOperations(self)

    @property
    def schedules(self) -> ScheduleOperations:
        """``ws.schedules``: cron and recurrence schedules that create jobs."""
        from modelworks.schedules.operations import ScheduleOperations

        if "_schedules" not in self.__dict__:
            self.__dict__["_schedules"] = ScheduleOperations(self)
        found: ScheduleOperations = self.__dict__["_schedules"]
        return found

    @property
    def pipeline_endpoints(self) -> PipelineEndpointOperations:
        """``ws.pipeline_endpoints``: published jobs that a REST call starts."""
        from modelworks.pipeline_endpoints.operations import PipelineEndpointOperations

        if "_pipeline_endpoints" not in self.__dict__:
            self.__dict__["_pipeline_endpoints"] = PipelineEndpointOperations(self)
        found: PipelineEndpointOperations = self.__dict__["_pipeline_endpoints"]
        return found

    def reap_stale_runs(self) -> list[str]:
        """Mark runs whose process stopped sending heartbeats as Failed."""
        return self.meta.reap_stale_runs(int(heartbeat_timeout_s() * 1000))

    def gc(self, *, min_age_s: float = 3600.0) -> dict[str, Any]:
        """Delete blobs that no run, data version or model version references any more and
        that were stored more than ``min_age_s`` seconds ago (so uploads in flight survive)."""
        deleted, freed = self.runs.trees.gc(min_age_s=min_age_s)
        return {"blobs_deleted": deleted, "bytes_freed": freed}

    def close(self) -> None:
        self.runs.flush()
        self.meta.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({self.location!r})"
