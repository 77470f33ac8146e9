"""The pipeline store port (:class:`~modelworks.pipelines.store.PipelineStore`) over a
``modelworks server``: the component registry and the step-reuse index, so
``Workspace(url).components`` and pipeline submission work as on a local workspace (the
pipeline's driver runs on the server's workers, next to the database)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from modelworks.pipelines.store import ComponentRecord, PipelineStore
from modelworks.store.rest._http import Http

__all__ = ["RestPipelineStore"]


class RestPipelineStore(PipelineStore):
    """A PipelineStore served by ``modelworks server`` (routes in ``server/routes_pipelines``)."""

    def __init__(self, meta: Any) -> None:
        http = getattr(meta, "_http", None)
        if not isinstance(http, Http):
            raise TypeError(f"{type(meta).__name__} is not a REST metadata store")
        self._http = http

    def create_component(self, record: ComponentRecord) -> ComponentRecord:
        found = self._http.json("POST", "/components", body=record.to_dict())
        return ComponentRecord.from_dict(found)

    def get_component(self, name: str, version: str) -> ComponentRecord:
        path = f"/components/{quote(name, safe='')}/versions/{quote(version, safe='')}"
        return ComponentRecord.from_dict(self._http.json("GET", path, idempotent=True))

    def list_components(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[ComponentRecord]:
        params: dict[str, Any] = {"include_archived": str(include_archived).lower()}
        if name is not None:
            params["name"] = name
        found = self._http.json("GET", "/components", params=params, idempotent=True)
        return [ComponentRecord.from_dict(item) for item in found["items"]]

    def set_component_archived(self, name: str, version: str | None, archived: bool) -> int:
        body = {"version": version, "archived": archived}
        found = self._http.json("POST", f"/components/{quote(name, safe='')}/archive", body=body)
        return int(found["count"])

    def find_reusable(self, fingerprint: str) -> str | None:
        found = self._http.json("GET", f"/pipeline-reuse/{fingerprint}", idempotent=True)
        run_id = found.get("run_id")
        return None if run_id is None else str(run_id)

    def record_reusable(self, fingerprint: str, run_id: str) -> None:
        self._http.json("PUT", f"/pipeline-reuse/{fingerprint}", body={"run_id": run_id})

    def forget_reusable(self, fingerprint: str) -> None:
        self._http.json("DELETE", f"/pipeline-reuse/{fingerprint}")
