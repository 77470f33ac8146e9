"""What ``ws.pipeline_endpoints`` returns: endpoints, their versions and the runs they started."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PipelineEndpoint", "PipelineEndpointRun", "PipelineEndpointVersion"]


@dataclasses.dataclass
class PipelineEndpointVersion:
    """One published job definition: its snapshot (``template``) and its input names."""

    endpoint_name: str
    version: str
    job_type: str
    inputs: list[str]
    description: str
    template: dict[str, Any]
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class PipelineEndpoint:
    """A named REST endpoint that starts a published job; ``url`` is filled in by the caller
    that knows the server's address. ``keys`` holds new keys the one time they are shown."""

    name: str
    description: str
    tags: dict[str, str]
    default_version: str
    enabled: bool
    created_at: int
    updated_at: int
    versions: list[PipelineEndpointVersion] = dataclasses.field(default_factory=list)
    url: str | None = None
    keys: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if out["keys"] is None:
            out.pop("keys")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineEndpoint:
        versions = [PipelineEndpointVersion(**v) for v in data.get("versions") or []]
        fields = {f.name for f in dataclasses.fields(cls)} - {"versions"}
        return cls(**{k: v for k, v in data.items() if k in fields}, versions=versions)


@dataclasses.dataclass
class PipelineEndpointRun:
    """A job an endpoint started (POST .../runs)."""

    endpoint_name: str
    job_name: str
    version: str
    run_id: str
    invoked_by: str
    created_at: int
    status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
