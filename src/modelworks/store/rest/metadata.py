"""``RestMetadataStore``: the MetadataStore port over a server's ``/api/v1`` routes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from modelworks.entities import (
    ArtifactEntry,
    DataVersion,
    Experiment,
    LineageEdge,
    Metric,
    ModelVersion,
    Page,
    RegisteredModel,
    Run,
    RunStatus,
    Token,
)
from modelworks.store.base import MetadataStore
from modelworks.store.rest._http import Http, items, query, seg

__all__ = ["RestMetadataStore"]


class RestMetadataStore(MetadataStore):
    """A MetadataStore served by ``modelworks server`` at ``base_url``.

    ``token`` defaults to the ``MODELWORKS_TOKEN`` environment variable.
    """

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.uri = base_url.rstrip("/")
        self._http = Http(self.uri, token, read_timeout=120.0)

    def __repr__(self) -> str:
        return f"RestMetadataStore({self.uri!r})"

    def close(self) -> None:
        self._http.close()

    # -- experiments ------------------------------------------------------------------------
    def create_experiment(self, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        data = self._http.json("POST", "/experiments", body={"name": name, "tags": tags})
        return Experiment.from_dict(data)

    def get_experiment(self, experiment_id: str) -> Experiment:
        data = self._http.json("GET", f"/experiments/{seg(experiment_id)}", idempotent=True)
        return Experiment.from_dict(data)

    def get_experiment_by_name(self, name: str) -> Experiment:
        data = self._http.json("GET", f"/experiments/by-name/{seg(name)}", idempotent=True)
        return Experiment.from_dict(data)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        data = self._http.json(
            "GET", "/experiments", params={"include_deleted": include_deleted}, idempotent=True
        )
        return [Experiment.from_dict(d) for d in items(data)]

    def update_experiment(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: dict[str, str] | None = None,
    ) -> Experiment:
        body = {"name": name, "deleted": deleted, "tags": tags}
        data = self._http.json("PATCH", f"/experiments/{seg(experiment_id)}", body=body)
        return Experiment.from_dict(data)

    # -- runs -------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        kind: str = "run",
        status: RunStatus = RunStatus.RUNNING,
        description: str = "",
        user: str = "",
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "parent_id": parent_id,
            "kind": kind,
            "status": RunStatus.parse(status).value,
            "description": description,
            "user": user,
            "tags": tags,
            "params": params,
            "start_time": start_time,
            "run_id": run_id,
        }
        return Run.from_dict(self._http.json("POST", "/runs", body=body))

    def create_runs(self, requests: Sequence[dict[str, Any]]) -> list[Run]:
        runs = []
        for request in requests:
            body = dict(request)
            body["status"] = RunStatus.parse(body.get("status") or RunStatus.RUNNING).value
            runs.append(body)
        data = self._http.json("POST", "/runs/batch", body={"runs": runs})
        return [Run.from_dict(r) for r in items(data)]

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._http.json("GET", f"/runs/{seg(run_id)}", idempotent=True))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        description: str | None = None,
        error: str | None = None,
        deleted: bool | None = None,
    ) -> Run:
        body = {
            "status": None if status is None else RunStatus.parse(status).value,
            "end_time": end_time,
            "name": name,
            "description": description,
            "error": error,
            "deleted": deleted,
        }
        return Run.from_dict(self._http.json("PATCH", f"/runs/{seg(run_id)}", body=body))

    def heartbeat(self, run_id: str) -> None:
        self._http.request("POST", f"/runs/{seg(run_id)}/heartbeat", idempotent=True)

    def reap_stale_runs(self, timeout_ms: int) -> list[str]:
        data = self._http.json("POST", "/runs/reap-stale", body={"timeout_ms": timeout_ms})
        return list(data["run_ids"])

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        body = {
            "metrics": [
                {"key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp}
                for m in metrics
            ],
            "params": params,
            "tags": tags,
        }
        self._http.request("POST", f"/runs/{seg(run_id)}/log-batch", body=body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._http.request(
            "DELETE", f"/runs/{seg(run_id)}/tags", params={"key": key}, idempotent=True
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        data = self._http.json(
            "GET", f"/runs/{seg(run_id)}/metrics/history", params={"key": key}, idempotent=True
        )
        return [Metric.from_dict(d) for d in items(data)]

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        body = {
            "experiment_ids": None if experiment_ids is None else list(experiment_ids),
            "filter": filter,
            "order_by": None if order_by is None else list(order_by),
            "max_results": max_results,
            "page_token": page_token,
            "include_deleted": include_deleted,
        }
        data = self._http.json("POST", "/runs/search", body=body, idempotent=True)
        return Page(
            items=[Run.from_dict(d) for d in items(data)],
            next_page_token=data.get("next_page_token"),
        )

    # -- artifact manifests -----------------------------------------------------------------
    def put_artifact_entries(self, owner: str, entries: Iterable[ArtifactEntry]) -> None:
        body = {"owner": owner, "entries": [e.to_dict() for e in entries]}
        self._http.request("PUT", "/artifacts", body=body, idempotent=True)

    def list_artifact_entries(self, owner: str, prefix: str = "") -> list[ArtifactEntry]:
        data = self._http.json(
            "GET", "/artifacts", params={"owner": owner, "prefix": prefix}, idempotent=True
        )
        return [ArtifactEntry.from_dict(d) for d in items(data)]

    def delete_artifact_entries(self, owner: str, prefix: str = "") -> int:
        data = self._http.json("DELETE", "/artifacts", params={"owner": owner, "prefix": prefix})
        return int(data["deleted"])

    def referenced_digests(self) -> set[str]:
        data = self._http.json("GET", "/artifacts/referenced-digests", idempotent=True)
        return set(items(data))

    # -- data assets ------------------------------------------------------------------------
    def create_data_version(
        self,
        name: str,
        *,
        type: str,
        source: str,
        content_hash: str,
        entries: Sequence[ArtifactEntry],
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
        force: bool = False,
    ) -> tuple[DataVersion, bool]:
        body = {
            "name": name,
            "type": type,
            "source": source,
            "content_hash": content_hash,
            "entries": [e.to_dict() for e in entries],
            "version": version,
            "description": description,
            "tags": tags,
            "profile": profile,
            "force": force,
        }
        data = self._http.json("POST", "/data", body=body)
        return DataVersion.from_dict(data["data_version"]), bool(data["created"])

    def get_data_version(self, name: str, version: str = "latest") -> DataVersion:
        path = f"/data/{seg(name)}/versions/{seg(version)}"
        return DataVersion.from_dict(self._http.json("GET", path, idempotent=True))

    def list_data_versions(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[DataVersion]:
        params = query(name=name, include_archived=include_archived)
        data = self._http.json("GET", "/data", params=params, idempotent=True)
        return [DataVersion.from_dict(d) for d in items(data)]

    def update_data_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> DataVersion:
        body = {"description": description, "tags": tags, "archived": archived}
        path = f"/data/{seg(name)}/versions/{seg(version)}"
        return DataVersion.from_dict(self._http.json("PATCH", path, body=body))

    # -- model registry ---------------------------------------------------------------------
    def create_registered_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        body = {"name": name, "description": description, "tags": tags}
        return RegisteredModel.from_dict(self._http.json("POST", "/models", body=body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        data = self._http.json("GET", f"/models/{seg(name)}", idempotent=True)
        return RegisteredModel.from_dict(data)

    def list_registered_models(self, *, name_like: str | None = None) -> list[RegisteredModel]:
        data = self._http.json("GET", "/models", params=query(name_like=name_like), idempotent=True)
        return [RegisteredModel.from_dict(d) for d in items(data)]

    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        body = {"description": description, "tags": tags}
        return RegisteredModel.from_dict(
            self._http.json("PATCH", f"/models/{seg(name)}", body=body)
        )

    def delete_registered_model(self, name: str) -> None:
        self._http.request("DELETE", f"/models/{seg(name)}")

    def create_model_version(
        self,
        name: str,
        *,
        entries: Sequence[ArtifactEntry],
        source: str = "",
        run_id: str | None = None,
        flavors: Sequence[str] = (),
        type: str = "custom_model",
        signature: dict[str, Any] | None = None,
        content_hash: str = "",
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        body = {
            "entries": [e.to_dict() for e in entries],
            "source": source,
            "run_id": run_id,
            "flavors": list(flavors),
            "type": type,
            "signature": signature,
            "content_hash": content_hash,
            "version": version,
            "description": description,
            "tags": tags,
        }
        data = self._http.json("POST", f"/models/{seg(name)}/versions", body=body)
        return ModelVersion.from_dict(data)

    def get_model_version(self, name: str, version: str = "latest") -> ModelVersion:
        path = f"/models/{seg(name)}/versions/{seg(version)}"
        return ModelVersion.from_dict(self._http.json("GET", path, idempotent=True))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        path = f"/models/{seg(name)}/aliases/{seg(alias)}"
        return ModelVersion.from_dict(self._http.json("GET", path, idempotent=True))

    def list_model_versions(
        self, name: str | None = None, *, run_id: str | None = None
    ) -> list[ModelVersion]:
        data = self._http.json(
            "GET", "/model-versions", params=query(name=name, run_id=run_id), idempotent=True
        )
        return [ModelVersion.from_dict(d) for d in items(data)]

    def update_model_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> ModelVersion:
        body = {"description": description, "tags": tags, "archived": archived}
        path = f"/models/{seg(name)}/versions/{seg(version)}"
        return ModelVersion.from_dict(self._http.json("PATCH", path, body=body))

    def delete_model_version(self, name: str, version: str) -> None:
        self._http.request("DELETE", f"/models/{seg(name)}/versions/{seg(version)}")

    def set_model_alias(self, name: str, alias: str, version: str) -> None:
        path = f"/models/{seg(name)}/aliases/{seg(alias)}"
        self._http.request("PUT", path, body={"version": version}, idempotent=True)

    def delete_model_alias(self, name: str, alias: str) -> None:
        self._http.request("DELETE", f"/models/{seg(name)}/aliases/{seg(alias)}")

    # -- lineage ----------------------------------------------------------------------------
    def add_lineage(self, edge: LineageEdge) -> None:
        self._http.request("POST", "/lineage", body=edge.to_dict(), idempotent=True)

    def list_lineage(
        self,
        *,
        run_id: str | None = None,
        asset_kind: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> list[LineageEdge]:
        params = query(run_id=run_id, asset_kind=asset_kind, name=name, version=version)
        data = self._http.json("GET", "/lineage", params=params, idempotent=True)
        return [LineageEdge.from_dict(d) for d in items(data)]

    # -- tokens -----------------------------------------------------------------------------
    def create_token(self, *, name: str, role: str, token_hash: str) -> Token:
        body = {"name": name, "role": role, "token_hash": token_hash}
        return Token.from_dict(self._http.json("POST", "/tokens", body=body))

    def get_token_by_hash(self, token_hash: str) -> Token:
        data = self._http.json("GET", f"/tokens/by-hash/{seg(token_hash)}", idempotent=True)
        return Token.from_dict(data)

    def list_tokens(self) -> list[Token]:
        return [Token.from_dict(d) for d in items(self._http.json("GET", "/tokens"))]

    def revoke_token(self, token_id: str) -> None:
        self._http.request("DELETE", f"/tokens/{seg(token_id)}", idempotent=True)

    # -- extras -----------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        """The calling token's ``name`` and ``role`` as the server sees them."""
        data: dict[str, Any] = self._http.json("GET", "/auth/whoami", idempotent=True)
        return data
