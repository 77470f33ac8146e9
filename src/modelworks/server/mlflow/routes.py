"""The route table of the MLflow API: path and method -> handler and the role it needs.

Paths are those of MLflow's ``service.proto``, ``model_registry.proto`` and
``mlflow_artifacts.proto``, below ``/api/2.0/mlflow`` (or ``/api/3.0``, ``/ajax-api/...``)
and ``/api/2.0/mlflow-artifacts``. Reads need a ``reader`` token (GET, and the POSTs that only
search); everything else a ``writer``. A path we do not serve answers MLflow's
``ENDPOINT_NOT_FOUND`` (404), which is also how an MLflow client discovers an older server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from modelworks.server.mlflow import artifacts, experiments, logged_models, registry, runs
from modelworks.server.mlflow._errors import MlflowError

__all__ = ["ROUTES", "Route", "Router"]

READER, WRITER = "reader", "writer"


@dataclass(frozen=True)
class Route:
    """``handler(ctx, fields) -> dict`` in a worker thread, or, if ``raw``, an async
    ``handler(ctx, receive, send)`` that answers itself (artifact bytes)."""

    method: str
    service: str
    path: str
    handler: Callable[..., Any]
    role: str
    raw: bool = False


def _r(method: str, path: str, handler: Callable[..., Any], role: str | None = None) -> Route:
    return Route(method, "mlflow", path, handler, role or (READER if method == "GET" else WRITER))


def _a(
    method: str,
    path: str,
    handler: Callable[..., Any],
    *,
    raw: bool = False,
    role: str | None = None,
) -> Route:
    needed = role or (READER if method == "GET" else WRITER)
    return Route(method, "mlflow-artifacts", path, handler, needed, raw)


ROUTES: tuple[Route, ...] = (
    # experiments
    _r("POST", "/experiments/create", experiments.create_experiment),
    _r("GET", "/experiments/get", experiments.get_experiment),
    _r("GET", "/experiments/get-by-name", experiments.get_experiment_by_name),
    _r("POST", "/experiments/search", experiments.search_experiments, READER),
    _r("GET", "/experiments/search", experiments.search_experiments),
    _r("POST", "/experiments/update", experiments.update_experiment),
    _r("POST", "/experiments/delete", experiments.delete_experiment),
    _r("POST", "/experiments/restore", experiments.restore_experiment),
    _r("POST", "/experiments/set-experiment-tag", experiments.set_experiment_tag),
    _r("POST", "/experiments/delete-experiment-tag", experiments.delete_experiment_tag),
    # runs
    _r("POST", "/runs/create", runs.create_run),
    _r("GET", "/runs/get", runs.get_run),
    _r("POST", "/runs/update", runs.update_run),
    _r("POST", "/runs/delete", runs.delete_run),
    _r("POST", "/runs/restore", runs.restore_run),
    _r("POST", "/runs/search", runs.search_runs, READER),
    _r("POST", "/runs/log-metric", runs.log_metric),
    _r("POST", "/runs/log-parameter", runs.log_param),
    _r("POST", "/runs/set-tag", runs.set_tag),
    _r("POST", "/runs/delete-tag", runs.delete_tag),
    _r("POST", "/runs/log-batch", runs.log_batch),
    _r("POST", "/runs/log-inputs", runs.log_inputs),
    _r("POST", "/runs/outputs", runs.log_outputs),
    _r("POST", "/runs/log-model", runs.log_model),
    _r("GET", "/metrics/get-history", runs.get_metric_history),
    _r("GET", "/metrics/get-history-bulk-interval", runs.get_metric_history_bulk_interval),
    _r("GET", "/artifacts/list", runs.list_run_artifacts),
    # MLflow 3 logged models
    _r("POST", "/logged-models", logged_models.create_logged_model),
    _r("POST", "/logged-models/search", logged_models.search_logged_models, READER),
    _r("GET", "/logged-models/{model_id}", logged_models.get_logged_model),
    _r("PATCH", "/logged-models/{model_id}", logged_models.finalize_logged_model),
    _r("DELETE", "/logged-models/{model_id}", logged_models.delete_logged_model),
    _r("PATCH", "/logged-models/{model_id}/tags", logged_models.set_logged_model_tags),
    _r("DELETE", "/logged-models/{model_id}/tags/{tag_key}", logged_models.delete_logged_model_tag),
    _r("POST", "/logged-models/{model_id}/params", logged_models.log_logged_model_params),
    _r(
        "GET",
        "/logged-models/{model_id}/artifacts/directories",
        logged_models.list_logged_model_artifacts,
    ),
    # registered models
    _r("POST", "/registered-models/create", registry.create_registered_model),
    _r("GET", "/registered-models/get", registry.get_registered_model),
    _r("POST", "/registered-models/rename", registry.rename_registered_model),
    _r("PATCH", "/registered-models/update", registry.update_registered_model),
    _r("DELETE", "/registered-models/delete", registry.delete_registered_model),
    _r("GET", "/registered-models/search", registry.search_registered_models),
    _r("POST", "/registered-models/get-latest-versions", registry.get_latest_versions, READER),
    _r("GET", "/registered-models/get-latest-versions", registry.get_latest_versions),
    _r("POST", "/registered-models/set-tag", registry.set_registered_model_tag),
    _r("DELETE", "/registered-models/delete-tag", registry.unsupported_tag_delete),
    _r("POST", "/registered-models/alias", registry.set_model_alias),
    _r("DELETE", "/registered-models/alias", registry.delete_model_alias),
    _r("GET", "/registered-models/alias", registry.get_model_version_by_alias),
    # model versions
    _r("POST", "/model-versions/create", registry.create_model_version),
    _r("GET", "/model-versions/get", registry.get_model_version),
    _r("PATCH", "/model-versions/update", registry.update_model_version),
    _r("DELETE", "/model-versions/delete", registry.delete_model_version),
    _r("GET", "/model-versions/search", registry.search_model_versions),
    _r("GET", "/model-versions/get-download-uri", registry.get_model_version_download_uri),
    _r("POST", "/model-versions/transition-stage", registry.transition_stage),
    _r("POST", "/model-versions/set-tag", registry.set_model_version_tag),
    _r("DELETE", "/model-versions/delete-tag", registry.unsupported_tag_delete),
    # server
    _r("GET", "/server-info", artifacts.server_info),
    # the artifact proxy
    _a("GET", "/artifacts", artifacts.list_artifacts),
    _a("GET", "/artifacts/{path:path}", artifacts.download_artifact, raw=True),
    _a("HEAD", "/artifacts/{path:path}", artifacts.download_artifact, raw=True),
    _a("PUT", "/artifacts/{path:path}", artifacts.upload_artifact, raw=True),
    _a("DELETE", "/artifacts/{path:path}", artifacts.delete_artifact),
    _a("POST", "/mpu/create/{path:path}", artifacts.create_multipart),
    _a("PUT", "/mpu/part/{upload_id}/{part_number}", artifacts.upload_part, raw=True),
    _a("POST", "/mpu/complete/{path:path}", artifacts.complete_multipart),
    _a("POST", "/mpu/abort/{path:path}", artifacts.abort_multipart),
    _a("GET", "/presigned/{path:path}", artifacts.presigned_download),
)


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(
        r"\{(\w+)(:path)?\}",
        lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
        path,
    )
    return re.compile(f"^{regex}$")


class Router:
    """Finds the route of a request: exact paths first, then the parameterised ones."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        self._exact: dict[tuple[str, str], dict[str, Route]] = {}
        self._patterns: list[tuple[re.Pattern[str], Route]] = []
        for route in routes:
            if "{" in route.path:
                self._patterns.append((_pattern(route.path), route))
            else:
                self._exact.setdefault((route.service, route.path), {})[route.method] = route

    def match(self, method: str, service: str, subpath: str) -> tuple[Route, dict[str, str]]:
        """The route and path parameters; MLflow's ENDPOINT_NOT_FOUND if there is none."""
        path = subpath.rstrip("/") or "/"
        methods = self._exact.get((service, path))
        if methods:
            if method in methods:
                return methods[method], {}
            self._not_found(method, service, subpath, sorted(methods))
        allowed: list[str] = []
        for pattern, route in self._patterns:
            if route.service != service:
                continue
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed.append(route.method)
        self._not_found(method, service, subpath, sorted(set(allowed)))

    @staticmethod
    def _not_found(method: str, service: str, subpath: str, allowed: list[str]) -> NoReturn:
        where = f"/api/2.0/{service}{subpath}"
        hint = (
            f"; this path accepts {', '.join(allowed)}"
            if allowed
            else "; see docs/mlflow.md for the MLflow APIs modelworks serves"
        )
        raise MlflowError("ENDPOINT_NOT_FOUND", f"No MLflow API route {method} {where}{hint}.")
