"""MLflow's error shapes, codes and messages from the modelworks server, and token auth.

Raw HTTP checks the wire shape (``{"error_code", "message"}`` and the status MLflow uses); the
MLflow client checks that it reports them (it decides on the code: RESOURCE_ALREADY_EXISTS,
RESOURCE_DOES_NOT_EXIST, ...).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

API = "/api/2.0/mlflow"


def uniq(prefix: str) -> str:
    return f"{prefix}-{os.urandom(4).hex()}"


def _http(server: Any, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def _run(server: Any) -> str:
    with _http(server, server.writer) as http:
        exp = http.post(f"{API}/experiments/create", json={"name": uniq("errors")}).json()
        run = http.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]})
        return str(run.json()["run"]["info"]["run_id"])


def test_unknown_route_answers_endpoint_not_found(sqlite_server: Any) -> None:
    with _http(sqlite_server, sqlite_server.reader) as http:
        for path in (f"{API}/runs/explode", "/ajax-api/2.0/mlflow/nothing/here"):
            response = http.get(path)
            assert response.status_code == 404
            body = response.json()
            assert body["error_code"] == "ENDPOINT_NOT_FOUND"
            assert "No MLflow API route GET" in body["message"]
        wrong_method = http.delete(f"{API}/runs/get")
        assert wrong_method.status_code == 404
        assert "this path accepts GET" in wrong_method.json()["message"]
    assert "Unserved MLflow API call: GET /api/2.0/mlflow/runs/explode" in sqlite_server.log()


def test_invalid_requests_name_the_field(sqlite_server: Any) -> None:
    run_id = _run(sqlite_server)
    with _http(sqlite_server, sqlite_server.writer) as http:
        missing = http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "value": 1})
        assert missing.status_code == 400
        assert missing.json() == {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": "Missing value for required parameter 'key'. See the API docs for more "
            "information about request parameters.",
        }
        bad_type = http.post(
            f"{API}/runs/search", json={"experiment_ids": ["0"], "max_results": "many"}
        )
        assert bad_type.status_code == 400
        assert "'max_results'" in bad_type.json()["message"]
        too_many = http.post(f"{API}/runs/search", json={"max_results": 50_001})
        assert "it must be at most 50000" in too_many.json()["message"]
        nested = http.post(
            f"{API}/runs/log-batch",
            json={"run_id": run_id, "metrics": [{"key": "a", "value": 1}, {"value": 2}]},
        )
        assert "'metrics[1].key'" in nested.json()["message"]
        bad_filter = http.post(
            f"{API}/runs/search", json={"filter": "metrics.auc >> 1", "experiment_ids": ["0"]}
        )
        assert bad_filter.status_code == 400
        assert bad_filter.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "position" in bad_filter.json()["message"]
        not_json = http.post(
            f"{API}/runs/create", content=b"{oops", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 400 and "Malformed JSON" in not_json.json()["message"]
        absent = http.get(f"{API}/runs/get", params={"run_id": "0" * 32})
        assert absent.status_code == 404
        assert absent.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_client_reports_errors_with_mlflow_codes(
    sqlite_server: Any, use_mlflow: Callable[..., Any]
) -> None:
    mlflow = use_mlflow(sqlite_server.url, sqlite_server.writer)
    client = mlflow.MlflowClient()
    name = uniq("dup")
    client.create_experiment(name)
    with pytest.raises(mlflow.exceptions.MlflowException) as dup:
        client.create_experiment(name)
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(mlflow.exceptions.MlflowException) as absent:
        client.get_run("f" * 32)
    assert absent.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    run_id = _run(sqlite_server)
    client.log_param(run_id, "lr", "0.1")
    with pytest.raises(mlflow.exceptions.MlflowException) as changed:
        client.log_param(run_id, "lr", "0.2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "immutable" in changed.value.message
    model = uniq("local")
    client.create_registered_model(model)
    with pytest.raises(mlflow.exceptions.MlflowException, match="not readable by this server"):
        client.create_model_version(model, "/tmp/model")


def test_log_batch_limits_give_mlflows_own_message(
    sqlite_server: Any, use_mlflow: Callable[..., Any]
) -> None:
    mlflow = use_mlflow(sqlite_server.url, sqlite_server.writer)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.validation import _validate_batch_log_limits

    store = RestStore(lambda: get_default_host_creds(sqlite_server.url))  # sends as given
    run_id = _run(sqlite_server)
    now = int(time.time() * 1000)
    cases = [
        ([Metric("m", 1.0, now, i) for i in range(1001)], [], []),
        ([], [Param(f"p{i}", "1") for i in range(101)], []),
        ([], [], [RunTag(f"t{i}", "1") for i in range(101)]),
        (
            [Metric("m", 1.0, now, i) for i in range(950)],
            [Param(f"p{i}", "1") for i in range(30)],
            [RunTag(f"t{i}", "1") for i in range(30)],
        ),
    ]
    for metrics, params, tags in cases:
        with pytest.raises(mlflow.exceptions.MlflowException) as theirs:
            _validate_batch_log_limits(metrics, params, tags)
        with pytest.raises(mlflow.exceptions.RestException) as ours:
            store.log_batch(run_id, metrics, params, tags)
        assert ours.value.error_code == "INVALID_PARAMETER_VALUE"
        assert ours.value.json["message"] == theirs.value.message
    assert mlflow.MlflowClient().get_run(run_id).data.metrics == {}  # nothing half-written
    store.log_batch(run_id, [Metric("m", 1.0, now, i) for i in range(1000)], [], [])
    assert len(mlflow.MlflowClient().get_metric_history(run_id, "m")) == 1000


def test_token_auth_with_mlflow_tracking_token(
    sqlite_server: Any, use_mlflow: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = use_mlflow(sqlite_server.url, None)  # no MLFLOW_TRACKING_TOKEN
    with pytest.raises(mlflow.exceptions.MlflowException) as anonymous:
        mlflow.MlflowClient().search_experiments()
    assert anonymous.value.error_code == "UNAUTHENTICATED"
    assert "MLFLOW_TRACKING_TOKEN" in anonymous.value.message
    with _http(sqlite_server, None) as http:
        refused = http.post(f"{API}/experiments/create", json={"name": "x"})
        assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    with _http(sqlite_server, "mw_not_a_real_token") as http:
        assert http.get(f"{API}/experiments/get", params={"experiment_id": "0"}).status_code == 401

    mlflow = use_mlflow(sqlite_server.url, sqlite_server.reader)
    client = mlflow.MlflowClient()
    assert client.get_experiment("0").name == "Default"
    client.search_runs(["0"])  # a read-only POST is allowed to a reader
    with pytest.raises(mlflow.exceptions.MlflowException) as denied:
        client.create_experiment(uniq("reader"))
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert "needs the 'writer' role" in denied.value.message
    with _http(sqlite_server, sqlite_server.reader) as http:
        upload = http.put(
            "/api/2.0/mlflow-artifacts/artifacts/0/" + "a" * 32 + "/artifacts/x.txt",
            content=b"data",
        )
        assert upload.status_code == 403

    mlflow = use_mlflow(sqlite_server.url, None)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "anyone")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", sqlite_server.writer)  # Basic auth
    assert len(mlflow.MlflowClient().create_experiment(uniq("basic"))) == 32
