"""``ws.pipeline_endpoints`` and ``ws.schedules`` through a ``modelworks server`` URL: the same
operations as on a workspace folder, over ``/api/v1/pipeline-endpoints`` and
``/api/v1/schedules``. The job snapshot is uploaded by the caller (through the REST blob and
artifact stores) before the endpoint version or the schedule is stored."""

from __future__ import annotations

import builtins
from typing import Any

from modelworks.errors import InvalidInputError
from modelworks.pipeline_endpoints.entities import PipelineEndpoint, PipelineEndpointRun
from modelworks.schedules.entities import Schedule, ScheduleFire
from modelworks.store.base import MetadataStore
from modelworks.store.rest._http import Http, query, seg

__all__ = ["RestPipelineEndpoints", "RestSchedules"]


class RestPipelineEndpoints:
    """Pipeline endpoint operations against a server (same methods as the local service)."""

    def __init__(self, meta: MetadataStore) -> None:
        http = getattr(meta, "_http", None)
        if not isinstance(http, Http):
            raise InvalidInputError("Pipeline endpoints over HTTP need a server URL workspace.")
        self._http = http

    def _endpoint(self, data: dict[str, Any]) -> PipelineEndpoint:
        endpoint = PipelineEndpoint.from_dict(data)
        if endpoint.url and endpoint.url.startswith("/"):
            endpoint.url = f"{self._http.base_url}{endpoint.url}"
        return endpoint

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
        body = {
            "template": template,
            "version": version,
            "description": description,
            "tags": tags or {},
            "make_default": make_default,
        }
        return self._endpoint(
            self._http.json("POST", f"/pipeline-endpoints/{seg(name)}/versions", body=body)
        )

    def get(self, name: str) -> PipelineEndpoint:
        return self._endpoint(
            self._http.json("GET", f"/pipeline-endpoints/{seg(name)}", idempotent=True)
        )

    def list(self) -> list[PipelineEndpoint]:
        data = self._http.json("GET", "/pipeline-endpoints", idempotent=True)
        return [self._endpoint(item) for item in data["value"]]

    def update(
        self, name: str, *, default_version: str | None = None, enabled: bool | None = None
    ) -> PipelineEndpoint:
        body = {"default_version": default_version, "enabled": enabled}
        return self._endpoint(
            self._http.json("PATCH", f"/pipeline-endpoints/{seg(name)}", body=body)
        )

    def delete(self, name: str) -> None:
        self._http.request("DELETE", f"/pipeline-endpoints/{seg(name)}")

    def get_credentials(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = self._http.json(
            "POST", f"/pipeline-endpoints/{seg(name)}/credentials"
        )
        if str(data.get("url", "")).startswith("/"):
            data["url"] = f"{self._http.base_url}{data['url']}"
        return data

    def regenerate_keys(self, name: str, *, key_type: str = "primary") -> dict[str, str]:
        body = {"key_type": key_type}
        data: dict[str, str] = self._http.json(
            "POST", f"/pipeline-endpoints/{seg(name)}/regenerate-keys", body=body
        )
        return data

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
        path = f"/pipeline-endpoints/{seg(name)}"
        if version is not None:
            path += f"/versions/{seg(version)}"
        body = {
            "inputs": inputs or {},
            "experiment_name": experiment_name,
            "display_name": display_name,
        }
        result: dict[str, Any] = self._http.json("POST", f"{path}/runs", body=body)
        return result

    def list_runs(self, name: str, *, max_results: int = 100) -> builtins.list[PipelineEndpointRun]:
        data = self._http.json(
            "GET",
            f"/pipeline-endpoints/{seg(name)}/runs",
            params=query(max_results=max_results),
            idempotent=True,
        )
        return [PipelineEndpointRun(**item) for item in data["value"]]


class RestSchedules:
    """``ws.schedules`` storage through a server (the subset of the SQL trigger store that the
    operations use). The client validates and snapshots the job; the server re-checks."""

    def __init__(self, meta: MetadataStore) -> None:
        http = getattr(meta, "_http", None)
        if not isinstance(http, Http):
            raise InvalidInputError("Schedules over HTTP need a server URL workspace.")
        self._http = http

    def create_schedule(self, values: dict[str, Any]) -> Schedule:
        return Schedule.from_dict(self._http.json("POST", "/schedules", body=values))

    def get_schedule(self, name: str, *, fires: int = 0) -> Schedule:
        data = self._http.json(
            "GET", f"/schedules/{seg(name)}", params=query(fires=fires), idempotent=True
        )
        return Schedule.from_dict(data)

    def list_schedules(self) -> builtins.list[Schedule]:
        data = self._http.json("GET", "/schedules", idempotent=True)
        return [Schedule.from_dict(item) for item in data["value"]]

    def list_fires(self, name: str, *, limit: int = 20) -> builtins.list[ScheduleFire]:
        data = self._http.json(
            "GET", f"/schedules/{seg(name)}/fires", params=query(limit=limit), idempotent=True
        )
        return [ScheduleFire.from_dict(item) for item in data["value"]]

    def set_enabled(self, name: str, enabled: bool) -> Schedule:
        verb = "enable" if enabled else "disable"
        return Schedule.from_dict(self._http.json("POST", f"/schedules/{seg(name)}/{verb}"))

    def delete_schedule(self, name: str) -> None:
        self._http.request("DELETE", f"/schedules/{seg(name)}")
