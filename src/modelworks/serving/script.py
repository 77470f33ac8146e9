"""Azure ML scoring scripts (``score.py`` with ``init()`` and ``run()``), called as Azure does.

- ``init()`` runs once per worker process, after ``AZUREML_MODEL_DIR`` and ``AML_APP_ROOT``
  are set and the code folder is the working directory and on ``sys.path``.
- An undecorated ``run(raw_data)`` receives the request body as a string.
- A ``run`` decorated with ``inference_schema``'s ``@input_schema`` receives the body's JSON
  keys as keyword arguments (missing one → 400), which the decorators convert (numpy arrays,
  DataFrames, ...).
- A ``request_headers`` parameter receives the request headers as a dict; ``@rawhttp``
  passes the whole request (:class:`~modelworks.serving._aml_compat.AMLRequest`).
- The answer is ``json.dumps`` of what run() returns (a returned string is JSON-encoded
  again, as Azure does), unless run() returns an ``AMLResponse``.
- A run() that raises answers 500 with ``{"message": "An unexpected error occurred in scoring
  script. Check the logs for more info."}`` and ``x-ms-run-function-failed: True`` (the
  endpoint turns that into Azure's 424); the traceback goes to the deployment's log.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError, ModelworksError, NotFoundError
from modelworks.serving import _aml_compat

__all__ = ["ScriptError", "ScriptResult", "ScriptScorer", "load_script"]

log = logging.getLogger("modelworks.serving.script")

SCRIPT_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."


class ScriptError(ModelworksError):
    """run() raised: Azure's 500 with x-ms-run-function-failed (424 at the endpoint)."""

    status_code = 500
    code = "SCORING_SCRIPT_ERROR"


class ScriptResult:
    """What one run() call answered: status, headers and body bytes, and run()'s duration."""

    __slots__ = ("body", "elapsed_ms", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[str, str]], body: bytes, elapsed_ms: float
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed_ms = elapsed_ms


def load_script(path: Path) -> Any:
    """Import the scoring script at ``path`` as module ``entry_module`` (as Azure names it)."""
    _aml_compat.install()
    if not path.is_file():
        raise NotFoundError(
            f"Scoring script {path} does not exist; code_configuration.scoring_script must name "
            "a file inside code_configuration.code."
        )
    _forget_schemas("entry_module")
    spec = importlib.util.spec_from_file_location("entry_module", path)
    if spec is None or spec.loader is None:
        raise InvalidInputError(f"Cannot import {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules["entry_module"] = module
    spec.loader.exec_module(module)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise InvalidInputError(
                f"Scoring script {path} has no {name}() function; Azure scoring scripts define "
                "init() (load the model) and run(raw_data) (score one request)."
            )
    return module


def _forget_schemas(module: str) -> None:
    """Drop inference_schema's records of an earlier script loaded under the same module name."""
    try:
        from inference_schema import schema_util
    except ImportError:
        return
    registry = getattr(schema_util, "__functions_schema__", None)
    if isinstance(registry, dict):
        for key in [k for k in registry if str(k).startswith(f"{module}.")]:
            del registry[key]


def _schema_decorated(func: Any) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:
        return False
    return bool(is_schema_decorated(func))


class ScriptScorer:
    """Calls one scoring script's run() for each request."""

    kind = "script"

    def __init__(
        self, script: Path, *, app_root: Path, name: str = "score", version: str = "1"
    ) -> None:
        self.script = script
        self.app_root = app_root
        self.name = name
        self.version = version
        os.environ.setdefault("AML_APP_ROOT", str(app_root))
        os.environ.setdefault("AZUREML_ENTRY_SCRIPT", str(script.relative_to(app_root)))
        if str(app_root) not in sys.path:
            sys.path.insert(0, str(app_root))
        os.chdir(app_root)
        module = load_script(script)
        self.module = module
        driver = getattr(module, "driver_module", None)
        self.run_fn = driver.run if driver is not None and hasattr(driver, "run") else module.run
        self._analyze()
        log.info("Calling init() of %s", script)
        module.init()

    def _analyze(self) -> None:
        params = list(inspect.signature(self.run_fn).parameters.values())
        if any(p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
            raise InvalidInputError(
                f"run() in {self.script} takes positional-only arguments, *args or **kwargs; "
                "declare named parameters, e.g. def run(raw_data)."
            )
        self.wants_headers = any(p.name == "request_headers" for p in params)
        params = [p for p in params if p.name != "request_headers"]
        if not params:
            raise InvalidInputError(
                f"run() in {self.script} needs a parameter for the input data, e.g. "
                "def run(raw_data)."
            )
        self.params = params
        self.first = params[0].name
        self.raw = _aml_compat.is_rawhttp(self.run_fn)
        self.decorated = _schema_decorated(self.run_fn)
        if self.raw and self.decorated:
            raise InvalidInputError(
                f"run() in {self.script} is decorated with both @rawhttp and @input_schema; "
                "use one of them."
            )

    # -- calling ----------------------------------------------------------------------------
    def _arguments(
        self,
        method: str,
        body: bytes,
        query: bytes,
        headers: list[tuple[str, str]],
        path: str,
    ) -> dict[str, Any]:
        if self.raw:
            request = _aml_compat.AMLRequest(
                method=method, path=path, query_string=query, headers=headers, body=body
            )
            return {self.first: request}
        if method == "GET":
            values = _aml_compat.QueryArgs(query.decode("latin-1"))
            parsed = {k: _maybe_json(v) for k, v in values.to_dict().items()}
            if not self.decorated:
                return {self.first: json.dumps(parsed)}
            return self._extract(parsed)
        if not self.decorated:
            try:
                return {self.first: body.decode("utf-8")}
            except UnicodeDecodeError as e:
                raise InvalidInputError(f"Input cannot be decoded as UTF-8: {e}") from e
        if not body.strip():
            raise InvalidInputError("POST body is empty. Expecting a JSON dictionary.")
        try:
            payload = json.loads(body)
        except ValueError as e:
            raise InvalidInputError(f"POST body could not be decoded as JSON: {e}") from e
        if not isinstance(payload, dict):
            raise InvalidInputError("POST body should be a JSON dictionary.")
        return self._extract(payload)

    def _extract(self, payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for param in self.params:
            value = payload.get(param.name, param.default)
            if value is inspect.Parameter.empty:
                raise InvalidInputError(
                    f"A value is not provided for the {param.name!r} parameter.",
                    parameter=param.name,
                )
            out[param.name] = value
        return out

    def call(
        self,
        *,
        method: str,
        body: bytes,
        query: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        path: str = "/score",
    ) -> ScriptResult:
        """Call run() for one request; returns what to answer."""
        headers = headers or []
        arguments = self._arguments(method, body, query, headers, path)
        if self.wants_headers:
            arguments["request_headers"] = dict(headers)
        started = time.perf_counter()
        try:
            output = self.run_fn(**arguments)
        except Exception as e:
            log.error("run() raised:\n%s", traceback.format_exc())
            raise ScriptError(SCRIPT_FAILED) from e
        elapsed = (time.perf_counter() - started) * 1000
        return self._answer(output, elapsed)

    def _answer(self, output: Any, elapsed: float) -> ScriptResult:
        if isinstance(output, _aml_compat.AMLResponse):
            return ScriptResult(
                output.status_code, list(output.headers.items()), output.body, elapsed
            )
        if (
            hasattr(output, "status_code")
            and hasattr(output, "get_data")
            and hasattr(output, "headers")
        ):
            # A Flask/Werkzeug response (Azure's own AMLResponse when that package is installed).
            items = list(output.headers.items())
            return ScriptResult(int(output.status_code), items, output.get_data(), elapsed)
        try:
            body = json.dumps(output).encode()
        except (TypeError, ValueError) as e:
            log.error(
                "run() returned a value json.dumps cannot encode:\n%s", traceback.format_exc()
            )
            raise ScriptError(SCRIPT_FAILED) from e
        return ScriptResult(200, [("content-type", "application/json")], body, elapsed)


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
