"""Real ``modelworks server`` processes (SQLite and PostgreSQL) for the stock MLflow client.

``mlflow_server`` is parametrised over both metadata backends; ``sqlite_server`` is the SQLite
one alone, for tests whose subject is not storage. ``use_mlflow(server, token)`` points the
in-process MLflow client at a server (the client caches its tracking URI, so tests set it
explicitly and the fixture restores the previous one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from _live_server import LiveServer
from modelworks.server.tokens import create_token
from modelworks.store.rest import RestMetadataStore


@dataclass(frozen=True)
class MlflowServer:
    live: LiveServer
    backend: str
    writer: str
    reader: str

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def admin(self) -> str:
        return self.live.admin_token

    def log(self) -> str:
        return self.live.log()


def _start(root: Path, backend: str, metadata_uri: str | None) -> Iterator[MlflowServer]:
    root.mkdir(parents=True, exist_ok=True)
    if metadata_uri is not None:
        config = {"metadata_uri": metadata_uri, "artifact_uri": str(root / "blobs")}
        (root / "workspace.yaml").write_text(yaml.safe_dump(config))
    with LiveServer(root, log_level="info") as live:
        admin = RestMetadataStore(live.url, token=live.admin_token)
        try:
            writer = create_token(admin, "mlflow-writer", "writer")
            reader = create_token(admin, "mlflow-reader", "reader")
        finally:
            admin.close()
        yield MlflowServer(live, backend, writer, reader)


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    yield from _start(tmp_path_factory.mktemp("mlflow-sqlite"), "sqlite", None)


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[MlflowServer]:
    yield from _start(tmp_path_factory.mktemp("mlflow-pg"), "postgresql", postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def mlflow_server(request: pytest.FixtureRequest) -> MlflowServer:
    name = "sqlite_server" if request.param == "sqlite" else "postgres_server"
    server: MlflowServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def use_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str | None], Any]]:
    """``use_mlflow(url, token)`` -> the ``mlflow`` module, talking to that server."""
    mlflow = pytest.importorskip("mlflow")
    previous = mlflow.get_tracking_uri()
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

    def use(url: str, token: str | None) -> Any:
        if token is None:
            monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        else:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        return mlflow

    yield use
    while mlflow.active_run() is not None:
        mlflow.end_run()
    import mlflow.tracking.fluent as fluent
    from mlflow.tracking._tracking_service import utils

    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # mlflow.set_experiment sets it
    utils._artifact_repos_cache.clear()
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)
