"""``ws.pipeline_endpoints``: publish a job (usually a pipeline) as a versioned REST endpoint.

::

    endpoint = ws.pipeline_endpoints.publish("pipeline.yml", name="retrain")
    keys = ws.pipeline_endpoints.get_credentials("retrain")      # shown once
    ws.pipeline_endpoints.invoke("retrain", inputs={"lr": 0.1})  # or POST .../runs with a key

Publishing validates the job and snapshots its folder into the blob store (so runs use the
files as they were when published); publishing the same name again adds a version and makes
it the default. On a local workspace the operations use its database; through a server URL
they use the server's ``/api/v1/pipeline-endpoints`` routes.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.pipeline_endpoints.entities import PipelineEndpoint, PipelineEndpointRun
from modelworks.schedules.template import capture_job

if TYPE_CHECKING:
    from modelworks.pipeline_endpoints._service import LocalPipelineEndpoints
    from modelworks.store.rest.triggers import RestPipelineEndpoints
    from modelworks.workspace import Workspace

__all__ = ["PipelineEndpointOperations"]


class PipelineEndpointOperations:
    """Publish, inspect, invoke and delete pipeline endpoints of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._backend_: LocalPipelineEndpoints | RestPipelineEndpoints | None = None

    @property
    def _backend(self) -> LocalPipelineEndpoints | RestPipelineEndpoints:
        if self._backend_ is None:
            if self._ws.is_remote:
                from modelworks.store.rest.triggers import RestPipelineEndpoints

                self._backend_ = RestPipelineEndpoints(self._ws.meta)
            else:
                from modelworks.pipeline_endpoints._service import LocalPipelineEndpoints

                self._backend_ = LocalPipelineEndpoints(self._ws)
        return self._backend_

    def publish(
        self,
        job: str | os.PathLike[str] | dict[str, Any],
        *,
        name: str,
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        inputs: dict[str, Any] | None = None,
        make_default: bool = True,
    ) -> PipelineEndpoint:
        """Publish a job YAML (or mapping) as version ``version`` (default: the next number) of
        endpoint ``name``; ``inputs`` become the version's default input values."""
        overrides = {"inputs": dict(inputs)} if inputs else {}
        target: str | dict[str, Any]
        if isinstance(job, str | os.PathLike):
            source, base_dir = os.fspath(job), None
            target = str(Path(job).resolve())
        else:
            source, base_dir, target = f"pipeline endpoint {name!r}", os.getcwd(), job
        template = capture_job(
            self._ws,
            target,
            base_dir=base_dir,
            overrides=overrides,
            source=source,
            default_experiment=name,
        )
        return self._backend.publish(
            name,
            template=template.to_dict(),
            version=version,
            description=description,
            tags=tags,
            make_default=make_default,
        )

    def get(self, name: str) -> PipelineEndpoint:
        return self._backend.get(name)

    def list(self) -> builtins.list[PipelineEndpoint]:
        return self._backend.list()

    def set_default_version(self, name: str, version: str) -> PipelineEndpoint:
        return self._backend.update(name, default_version=version)

    def disable(self, name: str) -> PipelineEndpoint:
        """Refuse new runs (409) until enabled again."""
        return self._backend.update(name, enabled=False)

    def enable(self, name: str) -> PipelineEndpoint:
        return self._backend.update(name, enabled=True)

    def delete(self, name: str) -> None:
        """Delete the endpoint, its versions and keys (the jobs it started stay)."""
        self._backend.delete(name)

    def get_credentials(self, name: str) -> dict[str, Any]:
        """``{"primaryKey", "secondaryKey", "url"}``, the first time only (keys are stored
        as hashes); ConflictError afterwards — regenerate a key then."""
        return self._backend.get_credentials(name)

    def regenerate_keys(self, name: str, *, key_type: str = "primary") -> dict[str, str]:
        return self._backend.regenerate_keys(name, key_type=key_type)

    def invoke(
        self,
        name: str,
        *,
        inputs: dict[str, Any] | None = None,
        version: str | None = None,
        experiment_name: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Start a run: ``{"name", "run_id", "status", "version"}`` (and ``url`` from a server).
        Unknown input names raise UnknownInputError (HTTP 422) listing the known ones."""
        return self._backend.invoke(
            name,
            inputs=inputs,
            version=version,
            experiment_name=experiment_name,
            display_name=display_name,
        )

    def list_runs(self, name: str, *, max_results: int = 100) -> builtins.list[PipelineEndpointRun]:
        """The runs the endpoint started, newest first, with their current status."""
        return self._backend.list_runs(name, max_results=max_results)
