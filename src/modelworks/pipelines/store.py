"""The pipeline store port: component versions and the step-reuse index.

``store.sql.pipelines.SqlPipelineStore`` implements it on the workspace database. Like jobs,
pipelines need the workspace folder (a local workspace), not a server URL.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from modelworks.entities import Record

__all__ = ["ComponentRecord", "PipelineStore"]


@dataclasses.dataclass(frozen=True)
class ComponentRecord(Record):
    """One registered component version."""

    name: str
    version: str
    spec: dict[str, Any]
    created_at: int
    code_hash: str | None = None
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    archived: bool = False

    @property
    def ref(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class PipelineStore(abc.ABC):
    """Component versions (``get_*`` raise NotFoundError) and the reuse index."""

    @abc.abstractmethod
    def create_component(self, record: ComponentRecord) -> ComponentRecord:
        """Insert a version; AlreadyExistsError when ``name:version`` exists."""

    @abc.abstractmethod
    def get_component(self, name: str, version: str) -> ComponentRecord: ...

    @abc.abstractmethod
    def list_components(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[ComponentRecord]:
        """Versions, by name then newest first."""

    @abc.abstractmethod
    def set_component_archived(self, name: str, version: str | None, archived: bool) -> int:
        """Archive (or restore) one version or every version of ``name``; returns the count."""

    @abc.abstractmethod
    def find_reusable(self, fingerprint: str) -> str | None:
        """The run id of the step last computed with ``fingerprint``, if any."""

    @abc.abstractmethod
    def record_reusable(self, fingerprint: str, run_id: str) -> None:
        """Remember that ``run_id`` computed ``fingerprint`` successfully (latest wins)."""

    @abc.abstractmethod
    def forget_reusable(self, fingerprint: str) -> None: ...
