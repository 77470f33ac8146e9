"""A FastAPI app that scores one loaded model.

Routes: ``POST /score`` (Azure ML), ``POST /invocations`` (MLflow), ``GET /health`` (liveness),
``GET /ready`` (readiness), ``GET /swagger.json`` (the OpenAPI document). Accepted bodies: a
list of records, ``{"data": ...}``, ``{"input_data": {"columns", "data"}}``,
``{"dataframe_split": ...}``, ``{"dataframe_records": ...}``, ``{"inputs": ...}``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from modelworks.errors import InvalidInputError, ModelworksError

if TYPE_CHECKING:
    from modelworks.registry.pyfunc import LoadedModel

__all__ = ["create_scoring_app"]

log = logging.getLogger(__name__)


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict):
        if "input_data" in payload:
            return payload["input_data"]
        if "data" in payload and len(payload) == 1:
            return payload["data"]
    return payload


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict(orient="records")
    return value


def create_scoring_app(model: LoadedModel, *, name: str = "model", version: str = "1") -> FastAPI:
    """An app scoring ``model``; ``name``/``version`` appear in responses and the OpenAPI title."""
    app = FastAPI(title=f"{name} scoring API", version=str(version), docs_url="/docs")

    @app.exception_handler(ModelworksError)
    async def _error(_: Request, exc: ModelworksError) -> JSONResponse:
        return JSONResponse(exc.to_payload(), status_code=exc.status_code)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready", "model": name, "version": str(version)}

    @app.get("/swagger.json", include_in_schema=False)
    def swagger() -> dict[str, Any]:
        return app.openapi()

    def _score(payload: Any) -> dict[str, Any]:
        started = time.perf_counter()
        data = _unwrap(payload)
        if data is None or data == [] or data == {}:
            raise InvalidInputError(
                'The request body has no rows to score; send e.g. {"data": [{"age": 41, ...}]}.'
            )
        result: dict[str, Any] = {"predictions": _jsonable(model.predict(data))}
        with contextlib.suppress(AttributeError, NotImplementedError, ModelworksError):
            result["probabilities"] = _jsonable(model.predict_proba(data))
        log.debug("scored in %.1f ms", (time.perf_counter() - started) * 1000)
        return result

    async def _body(request: Request) -> Any:
        import json

        raw = await request.body()
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidInputError(f"The request body is not valid JSON: {e}.") from e

    @app.post("/score")
    async def score(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(_score, await _body(request))

    @app.post("/invocations")
    async def invocations(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(_score, await _body(request))

    return app
