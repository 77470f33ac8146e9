"""Signature inference from example data, plus the checks applied to inputs at scoring time.

:func:`infer_signature` produces MLflow's column-based schema from a DataFrame, a dict of
columns or a list of row dicts (MLflow type names: boolean, integer, long, float, double, string,
binary, datetime; ``required`` is false for a column with missing values), and a tensor spec for
numpy arrays. :func:`enforce_signature` and :func:`to_dataframe` live in their own modules and are
re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError
from modelworks.registry._enforce import enforce_signature
from modelworks.registry._payloads import to_dataframe, to_model_input

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "enforce_signature",
    "infer_schema",
    "infer_signature",
    "to_dataframe",
    "to_model_input",
]


def _object_type(name: Any, values: list[Any]) -> str:
    """Type of an object column from its non-missing values."""
    import datetime

    import numpy as np

    if not values:
        return "string"
    kinds = set()
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            kinds.add("boolean")
        elif isinstance(v, (int, np.integer)):
            kinds.add("long")
        elif isinstance(v, (float, np.floating)):
            kinds.add("double")
        elif isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, (bytes, bytearray)):
            kinds.add("binary")
        elif isinstance(v, (datetime.date, np.datetime64)):
            kinds.add("datetime")
        else:
            kinds.add(type(v).__name__)
    if len(kinds) == 1 and kinds <= {"boolean", "long", "double", "string", "binary", "datetime"}:
        return kinds.pop()
    if kinds == {"long", "double"}:
        return "double"
    raise InvalidInputError(
        f"Cannot infer a type for column {name!r}: it mixes {', '.join(sorted(kinds))} values. "
        "Give the column one type (e.g. df[col].astype(str)) or pass signature= explicitly."
    )


def column_type(series: pd.Series) -> str:
    """MLflow type name of one pandas column (``long`` for int64, ``double`` for float64, ...)."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _object_type(series.name, [v for v in dtype.categories if not pd.isna(v)])
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    size = int(getattr(dtype, "itemsize", 8))
    if pd.api.types.is_integer_dtype(dtype):
        signed = pd.api.types.is_signed_integer_dtype(dtype)
        return "integer" if size < 4 or (signed and size == 4) else "long"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if size <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return _object_type(series.name, [v for v in series.tolist() if not _missing(v)])
    raise InvalidInputError(
        f"Column {series.name!r} has dtype {dtype}, which has no signature type; convert it to "
        "a number, string, boolean or datetime column."
    )


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays inside a cell
        return False


def _tensor_spec(array: np.ndarray, name: str | None = None) -> dict[str, Any]:
    kind = array.dtype.kind
    dtype = {"U": "str", "S": "bytes", "O": "object"}.get(kind, array.dtype.name)
    spec: dict[str, Any] = {
        "type": "tensor",
        "tensor-spec": {"dtype": dtype, "shape": [-1, *array.shape[1:]]},
    }
    if name is not None:
        spec["name"] = name
    return spec


def _frame_schema(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"type": column_type(df[c]), "name": str(c), "required": not bool(df[c].isna().any())}
        for c in df.columns
    ]


def infer_schema(data: Any) -> list[dict[str, Any]]:
    """Specs for one side of a signature (see :func:`infer_signature`)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _frame_schema(data)
    if isinstance(data, pd.Series):
        spec: dict[str, Any] = {"type": column_type(data)}
        if data.name is not None:
            spec["name"] = str(data.name)
        spec["required"] = not bool(data.isna().any())
        return [spec]
    if isinstance(data, np.ndarray):
        return [_tensor_spec(data)]
    if isinstance(data, dict) and data and all(isinstance(v, np.ndarray) for v in data.values()):
        return [_tensor_spec(v, str(k)) for k, v in data.items()]
    if isinstance(data, list) and data and all(isinstance(v, (list, tuple)) for v in data):
        return [_tensor_spec(np.asarray(data))]
    if isinstance(data, list) and not any(isinstance(v, dict) for v in data):
        if not data:
            return [{"type": "string", "required": True}]
        return infer_schema(pd.Series(data))
    if isinstance(data, (dict, list)):
        return _frame_schema(to_dataframe(data))
    if isinstance(data, (str, bytes, bool, int, float)):
        return infer_schema(pd.Series([data]))
    raise InvalidInputError(
        f"Cannot infer a schema from {type(data).__name__}; pass a DataFrame, a dict of columns, "
        "a list of row dicts, a Series or a numpy array."
    )


def infer_signature(model_input: Any, model_output: Any = None) -> dict[str, Any]:
    """A signature ``{"inputs": [...], "outputs": [...] | None}`` from example data.

    A 1-D array of predictions for a column-based input becomes one unnamed output column, as
    MLflow infers it (e.g. ``[{"type": "long", "required": true}]`` for class labels).
    """
    import numpy as np
    import pandas as pd

    inputs = infer_schema(model_input)
    outputs = None
    if model_output is not None:
        column_input = not all(s.get("type") == "tensor" for s in inputs)
        if column_input and isinstance(model_output, np.ndarray) and model_output.ndim == 1:
            model_output = pd.Series(model_output)
        outputs = infer_schema(model_output)
    return {"inputs": inputs, "outputs": outputs}
