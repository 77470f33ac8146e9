"""The MLflow artifact proxy over our artifact trees: multipart upload, refusals, listings."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelworks as mw

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def uniq(prefix: str) -> str:
    return f"{prefix}-{os.urandom(4).hex()}"


def test_multipart_upload_lands_as_one_file(
    mlflow_server: Any,
    use_mlflow: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "10000")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "4096")
    payload = os.urandom(50_000)  # 13 parts
    (tmp_path / "big.bin").write_bytes(payload)
    mlflow.set_experiment(uniq("mpu"))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "big.bin"), artifact_path="data")
    assert "mpu/part/" in mlflow_server.log()  # the parts went through the multipart routes

    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    [entry] = ws.runs.list_artifacts(run.info.run_id, "data")
    assert entry.path == "data/big.bin" and entry.size == len(payload)
    assert entry.digest == hashlib.sha256(payload).hexdigest()
    out = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="data/big.bin", dst_path=str(tmp_path / "dl")
    )
    assert Path(out).read_bytes() == payload


def test_proxy_refusals_and_listings(sqlite_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(sqlite_server.url, sqlite_server.writer)
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment(uniq("proxy"))
    run_id = client.create_run(exp_id).info.run_id
    base = f"{PROXY}/{exp_id}/{run_id}/artifacts"
    auth = {"Authorization": f"Bearer {sqlite_server.writer}"}
    with httpx.Client(base_url=sqlite_server.url, headers=auth, timeout=30) as http:
        assert http.put(f"{base}/dir/a.txt", content=b"alpha").status_code == 200
        assert http.put(f"{base}/dir/sub/b.txt", content=b"beta").status_code == 200
        assert http.get(f"{base}/dir/a.txt").content == b"alpha"
        listing = http.get(PROXY, params={"path": f"{exp_id}/{run_id}/artifacts/dir"}).json()
        assert listing == {
            "files": [
                {"path": "a.txt", "is_dir": False, "file_size": 5},
                {"path": "sub", "is_dir": True},
            ]
        }
        runs_list = http.get(
            "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "dir"}
        ).json()
        assert [f["path"] for f in runs_list["files"]] == ["dir/a.txt", "dir/sub"]
        assert runs_list["root_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"

        missing = http.get(f"{base}/dir/nope.txt")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        escape = http.put(f"{base}/%2E%2E/%2E%2E/evil.txt", content=b"x")
        assert escape.status_code == 400 and "'..'" in escape.json()["message"]
        elsewhere = http.get(f"{PROXY}/somewhere/else.txt")
        assert elsewhere.status_code == 404
        assert "not an artifact location of this server" in elsewhere.json()["message"]
        no_run = http.put(f"{PROXY}/{exp_id}/{'0' * 32}/artifacts/x.txt", content=b"x")
        assert no_run.status_code == 404

        assert http.delete(f"{base}/dir/sub").status_code == 200
        ws = mw.Workspace(sqlite_server.url, token=sqlite_server.reader)
        assert [e.path for e in ws.runs.list_artifacts(run_id)] == ["dir/a.txt"]

        ws_writer = mw.Workspace(sqlite_server.url, token=sqlite_server.writer)
        model = uniq("frozen")
        ws_writer.models.register(f"runs:/{run_id}/dir", name=model)
        frozen = http.put(f"{PROXY}/registry/{model}/1/a.txt", content=b"changed")
        assert frozen.status_code == 403
        assert http.get(f"{PROXY}/registry/{model}/1/a.txt").content == b"alpha"
