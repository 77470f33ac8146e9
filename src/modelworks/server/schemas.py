"""Request bodies of the API, one pydantic model per write method of the MetadataStore.

They mirror the store's keyword arguments one-to-one (same names, same defaults) and add no
constraints of their own: the store validates values, so a bad value gets the same error over
HTTP as locally. Unknown fields are refused, which catches typos early.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from modelworks.entities import ArtifactEntry, LineageEdge, Metric

__all__ = [
    "AliasSet",
    "ArtifactEntryBody",
    "ArtifactsPut",
    "DataVersionCreate",
    "DataVersionUpdate",
    "ExperimentCreate",
    "ExperimentUpdate",
    "LineageBody",
    "LogBatch",
    "MetricBody",
    "ModelCreate",
    "ModelUpdate",
    "ModelVersionCreate",
    "ModelVersionUpdate",
    "ReapStale",
    "RunCreate",
    "RunSearch",
    "RunUpdate",
    "TokenCreate",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExperimentCreate(_Body):
    name: str
    tags: dict[str, str] | None = None


class ExperimentUpdate(_Body):
    name: str | None = None
    deleted: bool | None = None
    tags: dict[str, str] | None = None


class RunCreate(_Body):
    experiment_id: str
    name: str | None = None
    parent_id: str | None = None
    kind: str = "run"
    status: str = "Running"
    description: str = ""
    user: str = ""
    tags: dict[str, str] | None = None
    params: dict[str, str] | None = None
    start_time: int | None = None
    run_id: str | None = None


class RunCreateBatch(_Body):
    runs: list[RunCreate]


class RunUpdate(_Body):
    status: str | None = None
    end_time: int | None = None
    name: str | None = None
    description: str | None = None
    error: str | None = None
    deleted: bool | None = None


class MetricBody(_Body):
    key: str
    value: float
    step: int = 0
    timestamp: int = 0

    def to_entity(self) -> Metric:
        return Metric(key=self.key, value=self.value, step=self.step, timestamp=self.timestamp)


class LogBatch(_Body):
    metrics: list[MetricBody] = []
    params: dict[str, str] | None = None
    tags: dict[str, str] | None = None


class RunSearch(_Body):
    experiment_ids: list[str] | None = None
    filter: str | None = None
    order_by: list[str] | None = None
    max_results: int = 1000
    page_token: str | None = None
    include_deleted: bool = False


class ReapStale(_Body):
    timeout_ms: int


class ArtifactEntryBody(_Body):
    path: str
    digest: str
    size: int

    def to_entity(self) -> ArtifactEntry:
        return ArtifactEntry(path=self.path, digest=self.digest, size=self.size)


class ArtifactsPut(_Body):
    owner: str
    entries: list[ArtifactEntryBody]


class DataVersionCreate(_Body):
    name: str
    type: str
    source: str
    content_hash: str
    entries: list[ArtifactEntryBody]
    version: str | None = None
    description: str = ""
    tags: dict[str, str] | None = None
    profile: dict[str, Any] | None = None
    force: bool = False


class DataVersionUpdate(_Body):
    description: str | None = None
    tags: dict[str, str] | None = None
    archived: bool | None = None


class ModelCreate(_Body):
    name: str
    description: str = ""
    tags: dict[str, str] | None = None


class ModelUpdate(_Body):
    description: str | None = None
    tags: dict[str, str] | None = None


class ModelVersionCreate(_Body):
    entries: list[ArtifactEntryBody]
    source: str = ""
    run_id: str | None = None
    flavors: list[str] = []
    type: str = "custom_model"
    signature: dict[str, Any] | None = None
    content_hash: str = ""
    version: str | None = None
    description: str = ""
    tags: dict[str, str] | None = None


class ModelVersionUpdate(_Body):
    description: str | None = None
    tags: dict[str, str] | None = None
    archived: bool | None = None


class AliasSet(_Body):
    version: str


class LineageBody(_Body):
    run_id: str
    direction: str
    asset_kind: str
    name: str
    version: str

    def to_entity(self) -> LineageEdge:
        return LineageEdge(**self.model_dump())


class TokenCreate(_Body):
    name: str
    role: str
    token_hash: str
