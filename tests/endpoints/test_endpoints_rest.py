"""Online endpoints through a server URL: ``Workspace("http://...")`` creates, invokes, splits
traffic, rotates keys and deletes, with the endpoint host running next to the real server
process, and errors keep their classes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import modelworks as mw
from modelworks.errors import ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError

pytestmark = pytest.mark.slow

COLUMNS = ["a", "b", "c"]


def _model(folder: Path) -> list[list[float]]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from modelworks.registry import save_model

    X, y = make_classification(n_samples=100, n_features=3, n_informative=2, n_redundant=0)
    frame = pd.DataFrame(X, columns=COLUMNS)
    save_model(LogisticRegression().fit(frame, y), folder, input_example=frame.head(2))
    return frame.head(3).to_numpy().tolist()


def test_endpoints_through_a_server_url(live_server: tuple[str, str], tmp_path: Path) -> None:
    url, token = live_server
    ws = mw.Workspace(url, token=token)
    rows = _model(tmp_path / "model")
    body = {"input_data": {"columns": COLUMNS, "data": rows}}
    endpoint = ws.online_endpoints.begin_create_or_update({"name": "remote"}).result()
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.scoring_uri.startswith("http://127.0.0.1:")
    try:
        for name in ("blue", "green"):
            deployment = ws.online_deployments.begin_create_or_update(
                {
                    "name": name,
                    "endpoint_name": "remote",
                    "model": {"path": str(tmp_path / "model")},
                },
                all_traffic=name == "blue",
            ).result()
            assert deployment.provisioning_state == "Succeeded"
        assert {d.name for d in ws.online_deployments.list("remote")} == {"blue", "green"}
        keys = ws.online_endpoints.get_keys("remote")
        with pytest.raises(ConflictError, match="already shown once"):
            ws.online_endpoints.get_keys("remote")
        scoring_uri = ws.online_endpoints.get("remote").scoring_uri
        auth = {"Authorization": f"Bearer {keys['primaryKey']}"}
        direct = httpx.post(scoring_uri, json=body, headers=auth, timeout=30)
        assert direct.status_code == 200, direct.text
        assert direct.headers["azureml-model-deployment"] == "blue"
        invoked = json.loads(ws.online_endpoints.invoke("remote", data=body))
        assert invoked["predictions"] == direct.json()["predictions"]
        pinned = ws.online_endpoints.invoke("remote", data=body, deployment_name="green")
        assert json.loads(pinned) == invoked

        updated = ws.online_endpoints.update_traffic("remote", {"blue": 0, "green": 100})
        assert updated.traffic == {"blue": 0, "green": 100}
        after = httpx.post(scoring_uri, json=body, headers=auth, timeout=30)
        assert after.headers["azureml-model-deployment"] == "green"
        with pytest.raises(InvalidInputError, match="add up to 100"):
            ws.online_endpoints.update_traffic("remote", {"blue": 50, "green": 20})

        new = ws.online_endpoints.regenerate_keys("remote", key_type="primary")["primaryKey"]
        assert httpx.post(scoring_uri, json=body, headers=auth).status_code == 401
        with pytest.raises(UnauthenticatedError):
            ws.online_endpoints.invoke("remote", data=body, key=keys["primaryKey"])
        assert ws.online_endpoints.invoke("remote", data=body, key=new)
        assert "starting instance-0 of green" in ws.online_deployments.get_logs("green", "remote")

        with pytest.raises(NotFoundError):
            ws.online_endpoints.get("nope")
        with pytest.raises(ConflictError, match="still takes traffic"):
            ws.online_deployments.delete("green", "remote")
        ws.online_deployments.delete("blue", "remote")
        assert [d.name for d in ws.online_deployments.list("remote")] == ["green"]
    finally:
        ws.online_endpoints.delete("remote")
    assert [e.name for e in ws.online_endpoints.list()] == []
    ws.close()
