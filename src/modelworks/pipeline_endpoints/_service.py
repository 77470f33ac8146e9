"""Pipeline endpoints on a workspace's own database: what the SDK does on a local workspace and
what the server's routes do for REST callers.

Keys are random, stored as sha256 hashes and shown once (the helpers of online endpoints,
``serving/_auth.py``). Invoking an endpoint builds the job from the version's snapshot with
the request's input overrides and submits it through ``ws.jobs``; the run is recorded against
the endpoint so ``list_runs`` finds it.
"""

from __future__ import annotations

import builtins
import hmac
from typing import TYPE_CHECKING, Any

from modelworks.entities import now_ms
from modelworks.errors import ConflictError, InvalidInputError, NotFoundError
from modelworks.pipeline_endpoints.entities import (
    PipelineEndpoint,
    PipelineEndpointRun,
)
from modelworks.schedules.template import JobTemplate
from modelworks.serving._auth import hash_key, new_key

if TYPE_CHECKING:
    from modelworks.store.sql.triggers import TriggerStore
    from modelworks.workspace import Workspace

__all__ = ["SLOTS", "LocalPipelineEndpoints", "runs_path"]

SLOTS = ("primary", "secondary")


def runs_path(name: str, version: str | None = None) -> str:
    """The path (under the server's URL) that starts a run of an endpoint."""
    from urllib.parse import quote

    base = f"/api/v1/pipeline-endpoints/{quote(name, safe='')}"
    return f"{base}/versions/{quote(version, safe='')}/runs" if version else f"{base}/runs"


class LocalPipelineEndpoints:
    """The operations of ``ws.pipeline_endpoints`` against the SQL database of ``ws``."""

    def __init__(self, ws: Workspace) -> None:
        from modelworks.store.sql.triggers import open_trigger_store

        self._ws = ws
        self.store: TriggerStore = open_trigger_store(ws, "Pipeline endpoints")

    def publish(
        self,
        name: str,
        *,
        template: dict[str, Any],
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        make_default: bool = True,
    ) -> PipelineEndpoint:
        """Store a new version (and the endpoint with new keys on the first publish)."""
        from modelworks._validation import validate_name

        validate_name("pipeline endpoint", name)
        if version is not None:
            validate_name("pipeline endpoint version", version)
        parsed = JobTemplate.from_dict(template)
        keys = {slot: new_key() for slot in SLOTS}
        endpoint, _version, _created = self.store.publish_version(
            name,
            version=version,
            template=parsed.to_dict(),
            job_type=parsed.job_type,
            inputs=list(parsed.input_names),
            description=description,
            tags=dict(tags or {}),
            keys={slot: (hash_key(key), key) for slot, key in keys.items()},
            make_default=make_default,
        )
        endpoint.url = runs_path(name)
        return endpoint

    def get(self, name: str) -> PipelineEndpoint:
        endpoint = self.store.get_endpoint(name)
        endpoint.url = runs_path(name)
        return endpoint

    def list(self) -> list[PipelineEndpoint]:
        found = self.store.list_endpoints()
        for endpoint in found:
            endpoint.url = runs_path(endpoint.name)
        return found

    def update(
        self, name: str, *, default_version: str | None = None, enabled: bool | None = None
    ) -> PipelineEndpoint:
        values: dict[str, Any] = {}
        if default_version is not None:
            known = [v.version for v in self.store.get_endpoint(name).versions]
            if default_version not in known:
                raise NotFoundError(
                    f"Pipeline endpoint {name!r} has no version {default_version!r}; its versions: "
                    f"{', '.join(known)}."
                )
            values["default_version"] = default_version
        if enabled is not None:
            values["enabled"] = enabled
        self.store.update_endpoint(name, **values)
        return self.get(name)

    def delete(self, name: str) -> None:
        self.store.delete_endpoint(name)

    def get_credentials(self, name: str) -> dict[str, Any]:
        """The keys, the first time they are asked for (they are stored only as hashes)."""
        revealed = {slot: key for slot, key in self.store.reveal_keys(name).items() if key}
        if not revealed:
            raise ConflictError(
                f"The keys of pipeline endpoint {name!r} were already shown once; they are "
                "stored only as hashes. Make a new one with: modelworks pipeline "
                f"regenerate-keys --name {name} --key-type primary"
            )
        return {f"{slot}Key": revealed.get(slot) for slot in SLOTS} | {"url": runs_path(name)}

    def regenerate_keys(self, name: str, *, key_type: str = "primary") -> dict[str, str]:
        """Replace one key (the old one stops working at once); returns the new key."""
        if key_type not in SLOTS:
            raise InvalidInputError(f"key_type must be 'primary' or 'secondary', got {key_type!r}.")
        key = new_key()
        self.store.set_key(name, key_type, hash_key(key))
        return {f"{key_type}Key": key}

    def authenticate(self, name: str, key: str) -> bool:
        """Whether ``key`` is the primary or secondary key of endpoint ``name``."""
        digest = hash_key(key)
        return any(hmac.compare_digest(digest, h) for h in self.store.key_hashes(name).values())

    def invoke(
        self,
        name: str,
        *,
        inputs: dict[str, Any] | None = None,
        version: str | None = None,
        experiment_name: str | None = None,
        display_name: str | None = None,
        invoked_by: str = "sdk",
    ) -> dict[str, Any]:
        """Start a run of the endpoint's default version (or ``version``) with input
        overrides; returns ``{"name", "run_id", "status", "version"}``."""
        from modelworks.jobs._submit import new_job_name

        endpoint = self.store.get_endpoint(name)
        if not endpoint.enabled:
            raise ConflictError(
                f"Pipeline endpoint {name!r} is disabled; enable it with `modelworks pipeline "
                f"enable --name {name}` to start runs."
            )
        label = version or endpoint.default_version
        chosen = next((v for v in endpoint.versions if v.version == label), None)
        if chosen is None:
            raise NotFoundError(
                f"Pipeline endpoint {name!r} has no version {label!r}; its versions: "
                f"{', '.join(v.version for v in endpoint.versions)}."
            )
        if inputs is not None and not isinstance(inputs, dict):
            raise InvalidInputError('"inputs" must be a JSON object of input name -> value.')
        template = JobTemplate.from_dict(chosen.template)
        job_name = new_job_name()
        spec = template.build(
            self._ws,
            name=job_name,
            tags={"mw.pipeline_endpoint.name": name, "mw.pipeline_endpoint.version": label},
            inputs=inputs or {},
            experiment_name=experiment_name,
            display_name=display_name,
        )
        job = self._ws.jobs.create(spec)
        self.store.record_run(
            PipelineEndpointRun(
                endpoint_name=name,
                job_name=job.name,
                version=label,
                run_id=job.id,
                invoked_by=invoked_by,
                created_at=now_ms(),
            )
        )
        return {
            "name": job.name,
            "run_id": job.id,
            "status": job.status.value,
            "version": label,
        }

    def list_runs(self, name: str, *, max_results: int = 100) -> builtins.list[PipelineEndpointRun]:
        runs = self.store.list_runs(name, limit=max_results)
        for run in runs:
            try:
                run.status = self._ws.meta.get_run(run.run_id).status.value
            except NotFoundError:
                run.status = None
        return runs
