"""The worker's scoring app over real HTTP semantics (in-process ASGI): Azure score.py calling
conventions, error shapes, swagger, and no-code bodies."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelworks.serving.app import ScoringApp
from modelworks.serving.worker import build_scorer


def _client(app: ScoringApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _script_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, **files: str
) -> ScoringApp:
    code = tmp_path / "code"
    code.mkdir()
    (code / "score.py").write_text(textwrap.dedent(source))
    for name, text in files.items():
        (code / name).write_text(text)
    model = tmp_path / "models" / "model"
    model.mkdir(parents=True)
    (model / "weights.txt").write_text("3")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AML_APP_ROOT", str(code))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "models"))
    return ScoringApp(build_scorer(model_dir=tmp_path / "models", entry_script=code / "score.py"))


UNDECORATED = """
    import json, os

    def init():
        global factor
        with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.txt")) as f:
            factor = int(f.read())

    def run(raw_data, request_headers):
        if raw_data == "boom":
            raise ValueError("the scoring script exploded")
        if raw_data == "text":
            return "a string"
        data = json.loads(raw_data)["data"]
        return {"scaled": [x * factor for x in data], "ua": request_headers.get("X-Test")}
"""


def test_undecorated_run_gets_the_body_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _script_app(tmp_path, monkeypatch, UNDECORATED)

    async def go() -> None:
        async with _client(app) as client:
            ok = await client.post("/score", content=b'{"data": [1, 2]}', headers={"X-Test": "yes"})
            assert ok.status_code == 200
            assert ok.json() == {"scaled": [3, 6], "ua": "yes"}
            assert float(ok.headers["x-ms-run-fn-exec-ms"]) >= 0
            text = await client.post("/score", content=b"text")
            assert text.text == '"a string"'  # json.dumps of a str, as Azure does
            health = await client.get("/")
            assert (health.status_code, health.text) == (200, "Healthy")

    _run(go())


def test_a_failing_run_answers_azures_500_and_logs_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = _script_app(tmp_path, monkeypatch, UNDECORATED)

    async def go() -> httpx.Response:
        async with _client(app) as client:
            return await client.post("/score", content=b"boom")

    response = _run(go())
    assert response.status_code == 500
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert response.json()["message"] == (
        "An unexpected error occurred in scoring script. Check the logs for more info."
    )
    assert "the scoring script exploded" in caplog.text


DECORATED = """
    import numpy as np
    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

    def init():
        pass

    @input_schema("data", NumpyParameterType(np.array([[1.0, 2.0]])))
    @input_schema("GlobalParameters", StandardPythonParameterType({"scale": 1.0}))
    @output_schema(StandardPythonParameterType([3.0]))
    def run(data, GlobalParameters):
        assert isinstance(data, np.ndarray)
        return (data.sum(axis=1) * GlobalParameters["scale"]).tolist()
"""


def test_inference_schema_decorators_convert_and_describe_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _script_app(tmp_path, monkeypatch, DECORATED)

    async def go() -> None:
        async with _client(app) as client:
            body = {"data": [[1, 2], [3, 4]], "GlobalParameters": {"scale": 10}}
            ok = await client.post("/score", json=body)
            assert ok.json() == [30.0, 70.0]
            missing = await client.post("/score", json={"data": [[1, 2]]})
            assert missing.status_code == 400
            assert "GlobalParameters" in missing.json()["message"]
            bad = await client.post("/score", content=b"{not json")
            assert bad.status_code == 400
            v2 = (await client.get("/swagger.json")).json()
            assert v2["swagger"] == "2.0"
            assert set(v2["definitions"]["ServiceInput"]["properties"]) == {
                "data",
                "GlobalParameters",
            }
            assert v2["definitions"]["ServiceOutput"]["example"] == [3.0]
            v3 = (await client.get("/swagger.json?version=3")).json()
            assert v3["openapi"].startswith("3.")
            assert "ServiceInput" in v3["components"]["schemas"]
            assert (await client.get("/swagger.json?version=7")).status_code == 404

    _run(go())


RAW = """
    from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        if request.method == "GET":
            return AMLResponse({"echo": request.args.get("q")}, 200, json_str=True)
        payload = request.get_json()
        return AMLResponse(str(payload["n"] * 2), 201, {"X-Custom": "1"})
"""


def test_rawhttp_receives_the_request_and_may_answer_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _script_app(
        tmp_path,
        monkeypatch,
        RAW,
        **{"swagger2.json": json.dumps({"swagger": "2.0", "info": {"title": "mine"}})},
    )

    async def go() -> None:
        async with _client(app) as client:
            created = await client.post("/score", json={"n": 21})
            assert (created.status_code, created.text, created.headers["x-custom"]) == (
                201,
                "42",
                "1",
            )
            echoed = await client.get("/score?q=hello")
            assert echoed.json() == {"echo": "hello"}
            assert (await client.get("/swagger.json")).json()["info"]["title"] == "mine"
            assert (await client.post("/invocations", json={})).status_code == 404

    _run(go())


def test_no_code_app_error_statuses(lgbm_dir: Path, numeric_data: tuple) -> None:
    X, _, columns = numeric_data
    app = ScoringApp(build_scorer(model_dir=lgbm_dir), max_body_bytes=4096)
    rows = X.head(2).to_numpy().tolist()

    async def go() -> None:
        async with _client(app) as client:
            ok = await client.post(
                "/score?probabilities=true", json={"input_data": {"columns": columns, "data": rows}}
            )
            assert ok.status_code == 200 and len(ok.json()["probabilities"]) == 2
            mlflow = await client.post(
                "/invocations", json={"dataframe_split": {"columns": columns, "data": rows}}
            )
            assert mlflow.json()["predictions"] == ok.json()["predictions"]
            assert (await client.post("/score", content=b"{oops")).status_code == 400
            assert (await client.post("/score", content=b"")).status_code == 400
            wrong = await client.post(
                "/score",
                json={"input_data": {"columns": columns[:-1], "data": [r[:-1] for r in rows]}},
            )
            assert wrong.status_code == 422 and "'f5'" in wrong.json()["message"]
            big = await client.post(
                "/score", json={"input_data": {"columns": columns, "data": rows * 100}}
            )
            assert big.status_code == 413
            assert (await client.get("/score")).status_code == 405
            doc = (await client.get("/swagger.json?version=3")).json()
            example = doc["components"]["schemas"]["ServiceInput"]["example"]["input_data"]
            assert example["columns"] == columns and len(example["data"]) == 3
            assert "/invocations" in doc["paths"]

    _run(go())


def test_micro_batching_predicts_concurrent_requests_together(
    lgbm_dir: Path, numeric_data: tuple
) -> None:
    X, _, columns = numeric_data
    app = ScoringApp(
        build_scorer(model_dir=lgbm_dir), batching={"max_batch_size": 64, "max_latency_ms": 20}
    )
    assert app.batcher is not None
    expected = app.scorer.model.predict(X.head(40)).tolist()

    async def go() -> list[Any]:
        async with _client(app) as client:
            calls = [
                client.post(
                    "/score",
                    json={"input_data": {"columns": columns, "data": [X.iloc[i].tolist()]}},
                )
                for i in range(40)
            ]
            return [r.json()["predictions"][0] for r in await asyncio.gather(*calls)]

    assert _run(go()) == expected
    assert app.batcher.rows == 40
    assert app.batcher.batches < 40
