"""Swagger 2.0 and OpenAPI 3 documents of a deployment (``GET /swagger.json[?version=3]``).

For a scoring script: the user's ``swagger.json``/``swagger2.json``/``swagger3.json`` in the
code folder when present, else generated from run()'s ``inference_schema`` decorators (an empty
object schema when run() is undecorated), in the layout Azure's inference server uses
(``ServiceInput``, ``ServiceOutput``, ``ErrorResponse``). For a no-code model: generated from
the signature, with the saved input example, for ``/score`` (Azure's ``input_data``) and, in
OpenAPI 3, ``/invocations`` (MLflow's four body forms).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.errors import NotFoundError

if TYPE_CHECKING:
    from modelworks.serving.nocode import NoCodeScorer
    from modelworks.serving.script import ScriptScorer

__all__ = ["swagger_for"]

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
    "long": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "binary": {"type": "string", "format": "byte"},
    "datetime": {"type": "string", "format": "date-time"},
}
_ERROR = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "error_code": {"type": "string"},
        "details": {"type": "object"},
    },
}
_DESCRIPTION = (
    "Scoring API of a modelworks online deployment. Send the endpoint key as "
    "'Authorization: Bearer <key>'."
)


def _version(version: str | None) -> str:
    text = (version or "2").strip()
    if text in ("2", "2.0"):
        return "2"
    if text in ("3", "3.0", "3.1"):
        return "3"
    raise NotFoundError(
        f"Swagger version [{text}] is not valid. Supported versions: [2, 3]. "
        "Use /swagger.json or /swagger.json?version=3."
    )


def _document(
    version: str,
    *,
    title: str,
    service_version: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    extra_paths: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ref = "#/definitions/" if version == "2" else "#/components/schemas/"
    error = {
        "description": "The service failed to execute due to an error.",
        "schema": {"$ref": f"{ref}ErrorResponse"},
    }
    ok_out = {
        "description": "The service processed the input correctly and returned predictions.",
        "schema": {"$ref": f"{ref}ServiceOutput"},
    }
    health = {
        "operationId": "ServiceHealthCheck",
        "description": "Simple health check endpoint to ensure the service is up at any given point.",
        "responses": {
            "200": {
                "description": "The service is up.",
                "schema": {"type": "string", "example": "Healthy"},
            },
            "default": error,
        },
    }
    score = {
        "operationId": "RunMLService",
        "description": "Run the deployment's model and get the prediction output.",
        "security": [{"Bearer": []}],
        "parameters": [
            {
                "name": "serviceInputPayload",
                "in": "body",
                "description": "The input payload for scoring.",
                "required": True,
                "schema": {"$ref": f"{ref}ServiceInput"},
            }
        ],
        "responses": {"200": ok_out, "default": error},
    }
    paths: dict[str, Any] = {"/": {"get": health}, "/score": {"post": score}}
    paths.update(extra_paths or {})
    if version == "2":
        return {
            "swagger": "2.0",
            "info": {"title": title, "description": _DESCRIPTION, "version": service_version},
            "schemes": ["http"],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "securityDefinitions": {
                "Bearer": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "For example: Bearer abc123",
                }
            },
            "paths": paths,
            "definitions": {
                "ServiceInput": input_schema,
                "ServiceOutput": output_schema,
                "ErrorResponse": _ERROR,
            },
        }
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "description": _DESCRIPTION, "version": service_version},
        "paths": {
            path: {m: _v3_operation(op) for m, op in ops.items()} for path, ops in paths.items()
        },
        "components": {
            "securitySchemes": {
                "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header"}
            },
            "schemas": {
                "ServiceInput": input_schema,
                "ServiceOutput": output_schema,
                "ErrorResponse": _ERROR,
            },
        },
    }


def _v3_operation(operation: dict[str, Any]) -> dict[str, Any]:
    """A Swagger 2.0 operation in OpenAPI 3 form (body parameter → requestBody)."""
    out = {k: v for k, v in operation.items() if k not in ("parameters", "responses")}
    body = next((p for p in operation.get("parameters", []) if p.get("in") == "body"), None)
    if body is not None:
        out["requestBody"] = {
            "required": bool(body.get("required", False)),
            "description": body.get("description", ""),
            "content": {"application/json": {"schema": body["schema"]}},
        }
    responses = {}
    for status, response in operation["responses"].items():
        item = {"description": response["description"]}
        if "schema" in response:
            kind = (
                "text/plain" if response["schema"].get("type") == "string" else "application/json"
            )
            item["content"] = {kind: {"schema": response["schema"]}}
        responses[status] = item
    out["responses"] = responses
    return out


# -- scoring scripts -----------------------------------------------------------------------


def _user_file(root: Path, version: str) -> dict[str, Any] | None:
    names = ("swagger.json", "swagger2.json") if version == "2" else ("swagger3.json",)
    for name in names:
        path = root / name
        if path.is_file():
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return loaded
    return None


def script_swagger(scorer: ScriptScorer, version: str | None) -> dict[str, Any]:
    wanted = _version(version)
    user = _user_file(scorer.app_root, wanted)
    if user is not None:
        return user
    if scorer.decorated:
        from inference_schema.schema_util import get_input_schema, get_output_schema

        input_schema = get_input_schema(scorer.run_fn)
        output_schema = get_output_schema(scorer.run_fn) or {"type": "object", "example": {}}
    else:
        input_schema = output_schema = {"type": "object", "example": {}}
    return _document(
        wanted,
        title=scorer.name,
        service_version=scorer.version,
        input_schema=input_schema,
        output_schema=output_schema,
    )


# -- no-code models ------------------------------------------------------------------------


def _column_schema(spec: dict[str, Any]) -> dict[str, Any]:
    schema = dict(_JSON_TYPES.get(str(spec.get("type")), {}))
    if not spec.get("required", True):
        schema["nullable"] = True
    return schema


def _example(scorer: NoCodeScorer) -> dict[str, Any] | None:
    try:
        example = scorer.model.input_example
    except Exception:  # noqa: BLE001 - an unreadable example must not break the document
        return None
    if example is None or not hasattr(example, "to_json"):
        return None
    split: dict[str, Any] = json.loads(example.head(5).to_json(orient="split", date_format="iso"))
    split.pop("index", None)
    return split


def model_swagger(scorer: NoCodeScorer, version: str | None) -> dict[str, Any]:
    wanted = _version(version)
    specs = (scorer.signature or {}).get("inputs") or []
    columns = scorer.columns
    cell: dict[str, Any] = {}
    if columns:
        kinds = [_column_schema(s) for s in specs]
        distinct = {json.dumps(k, sort_keys=True) for k in kinds}
        if len(distinct) == 1:
            cell = kinds[0]
        elif wanted == "3":
            cell = {"anyOf": [json.loads(k) for k in sorted(distinct)]}
    row: dict[str, Any] = {"type": "array", "items": cell}
    if columns:
        row.update(minItems=len(columns), maxItems=len(columns))
    split: dict[str, Any] = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "index": {"type": "array", "items": {"type": "integer"}},
            "data": {"type": "array", "items": row},
        },
    }
    if columns:
        split["properties"]["columns"]["example"] = columns
        split["required"] = ["columns", "data"]
    example = _example(scorer)
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["input_data"],
        "properties": {
            "input_data": split,
            "params": {
                "type": "object",
                "properties": {"probabilities": {"type": "boolean"}},
            },
        },
    }
    if example is not None:
        input_schema["example"] = {"input_data": example}
    output_schema = {
        "type": "object",
        "properties": {
            "predictions": {"type": "array", "items": {}},
            "probabilities": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "number"}},
            },
            "classes": {"type": "array", "items": {}},
        },
    }
    extra: dict[str, Any] = {}
    if wanted == "3":
        record: dict[str, Any] = {"type": "object"}
        if columns:
            record["properties"] = {s["name"]: _column_schema(s) for s in specs}
            record["required"] = [s["name"] for s in specs if s.get("required", True)]
        extra["/invocations"] = {
            "post": {
                "operationId": "Invocations",
                "description": "MLflow scoring protocol: dataframe_split, dataframe_records, instances or inputs.",
                "security": [{"Bearer": []}],
                "parameters": [
                    {
                        "name": "body",
                        "in": "body",
                        "required": True,
                        "schema": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "required": ["dataframe_split"],
                                    "properties": {"dataframe_split": split},
                                },
                                {
                                    "type": "object",
                                    "required": ["dataframe_records"],
                                    "properties": {
                                        "dataframe_records": {"type": "array", "items": record}
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": ["instances"],
                                    "properties": {"instances": {"type": "array", "items": record}},
                                },
                            ]
                        },
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Predictions.",
                        "schema": {"$ref": "#/components/schemas/ServiceOutput"},
                    },
                    "default": {
                        "description": "Error.",
                        "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                    },
                },
            }
        }
    return _document(
        wanted,
        title=f"{scorer.name}",
        service_version=scorer.version,
        input_schema=input_schema,
        output_schema=output_schema,
        extra_paths=extra,
    )


def swagger_for(scorer: Any, version: str | None) -> dict[str, Any]:
    """The document for a scorer (script or model)."""
    if getattr(scorer, "kind", "") == "script":
        return script_swagger(scorer, version)
    return model_swagger(scorer, version)
