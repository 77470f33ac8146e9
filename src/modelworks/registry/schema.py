"""Model signatures as plain dicts, in MLflow's schema vocabulary.

A signature is ``{"inputs": [spec, ...], "outputs": [spec, ...] | None}`` (plus ``"params"`` when
a model declares any). A spec is either a column::

    {"type": "long", "name": "age", "required": true}

with a type among :data:`COLUMN_TYPES` (MLflow's richer ``array``/``object``/``map``/``any``
columns are kept and passed through unchecked), or a tensor::

    {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}

In the MLmodel file each part is stored as a JSON string, as MLflow does.
"""

from __future__ import annotations

import json
from typing import Any

from modelworks.errors import InvalidInputError

__all__ = [
    "COLUMN_TYPES",
    "describe_columns",
    "is_tensor_schema",
    "normalize_signature",
    "signature_from_mlmodel",
    "signature_to_mlmodel",
]

COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
_PASS_THROUGH_TYPES = ("array", "object", "map", "any", "sparkml_vector")
_PARTS = ("inputs", "outputs", "params")


def _check_spec(part: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise InvalidInputError(
            f"Signature {part} must be a list of specs like {{'name': 'age', 'type': 'long'}}; "
            f"got an entry {spec!r}."
        )
    kind = spec.get("type")
    if part == "params":
        return dict(spec)
    if kind == "tensor":
        tensor = spec.get("tensor-spec")
        if not isinstance(tensor, dict) or "dtype" not in tensor or "shape" not in tensor:
            raise InvalidInputError(
                f"Tensor spec in signature {part} needs 'tensor-spec': {{'dtype': ..., "
                f"'shape': [...]}}; got {spec!r}."
            )
        return dict(spec)
    if kind not in COLUMN_TYPES and kind not in _PASS_THROUGH_TYPES:
        raise InvalidInputError(
            f"Column type {kind!r} in signature {part} is not known; use one of "
            f"{', '.join(COLUMN_TYPES)}."
        )
    out = dict(spec)
    out["required"] = bool(spec.get("required", True))
    return out


def _part(part: str, value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"Signature {part} is not valid JSON: {e}") from e
    if not isinstance(value, list):
        raise InvalidInputError(
            f"Signature {part} must be a list of column or tensor specs; got "
            f"{type(value).__name__}."
        )
    specs = [_check_spec(part, s) for s in value]
    if part != "params":
        kinds = {s["type"] == "tensor" for s in specs}
        if len(kinds) > 1:
            raise InvalidInputError(f"Signature {part} mixes tensor and column specs; use one.")
    return specs


def normalize_signature(signature: Any) -> dict[str, Any] | None:
    """Check and normalise a signature given as a dict, JSON strings, or an MLflow signature.

    Accepts ``{"inputs": [...], "outputs": [...]}`` with lists or JSON strings (the MLmodel form)
    and any object with ``to_dict()`` (``mlflow.models.ModelSignature``).
    """
    if signature is None:
        return None
    if not isinstance(signature, dict) and callable(getattr(signature, "to_dict", None)):
        signature = signature.to_dict()
    if isinstance(signature, str):
        try:
            signature = json.loads(signature)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"Signature is not valid JSON: {e}") from e
    if not isinstance(signature, dict) or "inputs" not in signature:
        raise InvalidInputError(
            "A signature must be a dict with 'inputs' (and optionally 'outputs'), e.g. "
            "{'inputs': [{'name': 'age', 'type': 'long'}], 'outputs': [{'type': 'double'}]}; "
            "modelworks.registry.infer_signature(example) builds one."
        )
    unknown = set(signature) - set(_PARTS)
    if unknown:
        raise InvalidInputError(
            f"Unknown signature key(s) {sorted(unknown)}; expected inputs, outputs, params."
        )
    out: dict[str, Any] = {
        "inputs": _part("inputs", signature.get("inputs")),
        "outputs": _part("outputs", signature.get("outputs")),
    }
    params = _part("params", signature.get("params"))
    if params is not None:
        out["params"] = params
    return out


def signature_to_mlmodel(signature: dict[str, Any]) -> dict[str, Any]:
    """The MLmodel form: each part as a JSON string (or null)."""
    return {
        part: None if signature.get(part) is None else json.dumps(signature[part])
        for part in _PARTS
    }


def signature_from_mlmodel(raw: Any) -> dict[str, Any] | None:
    """Parse the MLmodel ``signature`` entry (None when absent)."""
    if not raw:
        return None
    return normalize_signature(raw)


def is_tensor_schema(specs: list[dict[str, Any]] | None) -> bool:
    """True when the specs describe tensors rather than columns."""
    return bool(specs) and all(s.get("type") == "tensor" for s in specs or [])


def describe_columns(specs: list[dict[str, Any]]) -> str:
    """``age (long), city (string, optional)`` — for error messages."""
    parts = []
    for spec in specs:
        label = spec.get("type", "?")
        if not spec.get("required", True):
            label += ", optional"
        name = spec.get("name")
        parts.append(f"{name} ({label})" if name is not None else f"<unnamed> ({label})")
    return ", ".join(parts)
