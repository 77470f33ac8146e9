"""MLflow compatibility: the MLflow REST API, served over the workspace's own entities.

With ``MLFLOW_TRACKING_URI=http://host:port`` (and ``MLFLOW_TRACKING_TOKEN=<token>`` when auth
is on), the stock ``mlflow`` client logs runs, uploads artifacts, logs and registers models
and loads them back from a ``modelworks server``. Nothing is stored twice: an MLflow
experiment, run, registered model and model version ARE the modelworks ones (see
``_convert`` for the mapping), artifacts go to the same manifests and blobs.

Layout: ``_asgi`` (the middleware: routing, auth, parsing, errors), ``routes`` (the table),
``experiments``, ``runs``, ``logged_models``, ``registry``, ``artifacts`` (handlers),
``_convert`` (entity <-> MLflow JSON), ``_search`` (MLflow's filter syntax), ``_locations``
(artifact URIs <-> trees), ``env`` (the environment a job's MLflow client needs).

:func:`install` is all the app does at start-up; the handlers are imported on the first
MLflow request, so the server still answers ``/health`` at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelworks.server.mlflow.env import mlflow_env

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["install", "mlflow_env"]


def install(app: FastAPI) -> None:
    """Serve the MLflow API (``/api/2.0/mlflow/...``, ``/api/2.0/mlflow-artifacts/...``,
    their ``/ajax-api`` twins and ``/api/3.0/mlflow/server-info``) from ``app``."""
    from modelworks.server.mlflow._asgi import MlflowMiddleware

    app.add_middleware(MlflowMiddleware)
