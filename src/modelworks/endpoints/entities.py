"""Records of online endpoints and deployments (snapshots of what the database holds)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from modelworks.entities import Record

__all__ = ["EndpointHost", "OnlineDeployment", "OnlineEndpoint", "endpoint_address"]


def endpoint_address() -> str:
    """The interface endpoints listen on: ``MODELWORKS_ENDPOINT_HOST`` or 127.0.0.1."""
    return os.environ.get("MODELWORKS_ENDPOINT_HOST", "127.0.0.1")


def _public_host() -> str:
    host = endpoint_address()
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@dataclasses.dataclass(frozen=True)
class OnlineEndpoint(Record):
    """An endpoint: a stable scoring URL with keys, holding deployments with traffic weights."""

    name: str
    auth_mode: str
    port: int
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    traffic: dict[str, int] = dataclasses.field(default_factory=dict)
    mirror_traffic: dict[str, int] = dataclasses.field(default_factory=dict)
    provisioning_state: str = "Creating"
    error: str | None = None
    created_at: int = 0
    updated_at: int = 0
    #: the host name in the URLs (through a server: the server's; else this machine's)
    address: str | None = None

    @property
    def scoring_uri(self) -> str:
        """``http://127.0.0.1:<port>/score``."""
        return f"http://{self.address or _public_host()}:{self.port}/score"

    @property
    def openapi_uri(self) -> str:
        """``http://127.0.0.1:<port>/swagger.json`` (add ``?version=3`` for OpenAPI 3)."""
        return f"http://{self.address or _public_host()}:{self.port}/swagger.json"

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "scoring_uri": self.scoring_uri,
            "openapi_uri": self.openapi_uri,
        }


@dataclasses.dataclass(frozen=True)
class OnlineDeployment(Record):
    """A deployment: a model (and/or a score.py) running in worker processes behind an endpoint.

    ``spec`` is the validated deployment spec as a dict; ``runtime`` is what the host last
    reported (instances with their pids, restarts, the generation serving traffic).
    """

    name: str
    endpoint_name: str
    spec: dict[str, Any]
    generation: int
    provisioning_state: str
    model_name: str | None = None
    model_version: str | None = None
    code_owner: str | None = None
    error: str | None = None
    runtime: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0

    @property
    def model(self) -> str | None:
        """``azureml:<name>:<version>`` of the deployed model, if any."""
        if self.model_name is None:
            return None
        return f"azureml:{self.model_name}:{self.model_version}"

    @property
    def instance_count(self) -> int:
        return int(self.spec.get("instance_count", 1))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "model": self.model}


@dataclasses.dataclass(frozen=True)
class EndpointHost(Record):
    """The process that hosts this workspace's endpoints."""

    id: str
    hostname: str
    pid: int
    started_at: int
    heartbeat_at: int
    applied_revision: int
