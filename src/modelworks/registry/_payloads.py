"""Turn the request shapes people send into the table (or tensor) a model scores.

Accepted, as MLflow's scoring server and Azure ML endpoints accept them:

- a ``pandas.DataFrame`` or ``Series``, a numpy array;
- a list of row dicts (records), a dict of column lists, one row dict;
- ``{"columns": [...], "data": [[...], ...]}`` (pandas ``split``; ``index`` ignored), or
  ``{"data": [[...]]}`` alone with the column names taken from the signature;
- a list of rows (lists) or of scalars (one row), named from the signature;
- the same wrapped as ``{"dataframe_split": ...}``, ``{"dataframe_records": ...}``,
  ``{"inputs": ...}``, ``{"instances": ...}`` or ``{"input_data": ...}`` (optionally with
  ``"params"``), or as a JSON string/bytes of any of these.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError
from modelworks.registry.schema import is_tensor_schema, normalize_signature

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["to_dataframe", "to_model_input"]

_WRAPPERS = ("dataframe_split", "dataframe_records", "inputs", "instances", "input_data")
_FORMS = (
    "a DataFrame, a list of row dicts, a dict of column lists, {'columns': [...], 'data': "
    "[[...]]} (split), or a payload {'dataframe_split': ...}, {'dataframe_records': [...]}, "
    "{'inputs': ...} or {'input_data': ...}"
)


def _parse_json(payload: str | bytes | bytearray) -> Any:
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"The request body is not valid JSON: {e}. Send {_FORMS}.") from e


def _unwrap(payload: Any) -> Any:
    """Strip a JSON encoding and one wrapper key such as ``dataframe_split``."""
    if isinstance(payload, (str, bytes, bytearray)):
        payload = _parse_json(payload)
    if isinstance(payload, dict):
        keys = set(payload) - {"params"}
        if len(keys) == 1 and (key := next(iter(keys))) in _WRAPPERS:
            inner = payload[key]
            if key == "dataframe_split" and not isinstance(inner, dict):
                raise InvalidInputError(
                    "'dataframe_split' must be {'columns': [...], 'data': [[...], ...]}; got "
                    f"{type(inner).__name__}."
                )
            if key == "dataframe_records" and not isinstance(inner, list):
                raise InvalidInputError(
                    f"'dataframe_records' must be a list of row dicts; got {type(inner).__name__}."
                )
            return inner
    return payload


def _column_names(signature: dict[str, Any] | None) -> list[str] | None:
    if not signature or not signature.get("inputs") or is_tensor_schema(signature["inputs"]):
        return None
    names = [s.get("name") for s in signature["inputs"]]
    return [str(n) for n in names] if all(n is not None for n in names) else None


def _rows_frame(rows: Any, names: list[str] | None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    array = rows if isinstance(rows, np.ndarray) else None
    width = array.shape[1] if array is not None else (len(rows[0]) if len(rows) else 0)
    if any(len(r) != width for r in rows):
        raise InvalidInputError("Every row must have the same number of values.")
    columns = names if names is not None and len(names) == width else None
    if names is not None and columns is None and len(rows):
        raise InvalidInputError(
            f"Each row has {width} values but the model expects {len(names)} columns: "
            f"{', '.join(names)}. Send rows in that order or name the columns."
        )
    return pd.DataFrame(list(rows) if array is None else array, columns=columns)


def _split_frame(split: dict[str, Any], names: list[str] | None) -> pd.DataFrame:
    import pandas as pd

    data = split.get("data")
    columns = split.get("columns")
    if columns is None:  # Azure ML's {"data": ...}: rows, records or columns
        return _frame(data, names)
    if not isinstance(data, list):
        raise InvalidInputError(
            f"A split payload needs 'data' as a list of rows; got {type(data).__name__}."
        )
    if not isinstance(columns, list):
        raise InvalidInputError("A split payload's 'columns' must be a list of column names.")
    if any(not isinstance(r, (list, tuple)) or len(r) != len(columns) for r in data):
        raise InvalidInputError(
            f"Each row of a split payload must have {len(columns)} values, one per column "
            f"({', '.join(map(str, columns))})."
        )
    return pd.DataFrame(data, columns=columns)


def _dict_frame(data: dict[Any, Any], names: list[str] | None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if "data" in data and set(data) <= {"columns", "data", "index"}:
        return _split_frame(data, names)
    if any(isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in data.values()):
        lengths = {len(v) for v in data.values() if isinstance(v, (list, tuple, np.ndarray))}
        if len(lengths) > 1:
            raise InvalidInputError(
                f"The columns of a dict-of-lists payload have different lengths {sorted(lengths)}; "
                "every column needs one value per row."
            )
        return pd.DataFrame(data)
    return pd.DataFrame([data])


def _frame(data: Any, names: list[str] | None) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            if names is not None and len(names) == data.shape[0] and len(names) > 1:
                return pd.DataFrame([data], columns=names)
            return pd.DataFrame({names[0] if names and len(names) == 1 else 0: data})
        if data.ndim == 2:
            return _rows_frame(data, names)
        raise InvalidInputError(f"Expected a 1-D or 2-D array for a table; got {data.ndim}-D.")
    if isinstance(data, dict):
        return _dict_frame(data, names)
    if isinstance(data, (list, tuple)):
        if not data:
            return pd.DataFrame(columns=names)
        if all(isinstance(r, dict) for r in data):
            return pd.DataFrame(list(data))
        if all(isinstance(r, (list, tuple)) for r in data):
            return _rows_frame(data, names)
        if not any(isinstance(r, (list, tuple, dict)) for r in data):
            return _frame(np.asarray(data, dtype=object), names)
    if isinstance(data, (str, int, float, bool)) and names is not None and len(names) == 1:
        return pd.DataFrame({names[0]: [data]})
    raise InvalidInputError(f"Cannot read a table from {type(data).__name__}. Send {_FORMS}.")


def to_dataframe(payload: Any, signature: Any = None) -> pd.DataFrame:
    """A DataFrame from any accepted payload form (see the module docstring).

    ``signature`` supplies column names for payloads that carry none (rows as lists).
    A DataFrame is returned as is (not copied).
    """
    names = _column_names(normalize_signature(signature))
    return _frame(_unwrap(payload), names)


def _tensor(payload: Any, specs: list[dict[str, Any]]) -> Any:
    import numpy as np
    import pandas as pd

    data = _unwrap(payload)
    named = all(s.get("name") is not None for s in specs) and len(specs) > 1
    if named:
        if not isinstance(data, dict):
            raise InvalidInputError(
                f"The model takes named tensors {[s['name'] for s in specs]}; send a dict of "
                "arrays keyed by these names."
            )
        return {s["name"]: _array(data.get(s["name"]), s) for s in specs}
    if isinstance(data, dict) and len(specs) == 1 and specs[0].get("name") in data:
        data = data[specs[0]["name"]]
    if isinstance(data, pd.DataFrame):
        data = data.to_numpy()
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    return _array(np.asarray(data) if not isinstance(data, np.ndarray) else data, specs[0])


def _array(values: Any, spec: dict[str, Any]) -> Any:
    import numpy as np

    tensor = spec["tensor-spec"]
    name = spec.get("name") or "input"
    if values is None:
        raise InvalidInputError(f"Tensor input {name!r} is missing.")
    dtype = tensor["dtype"]
    try:
        array = np.asarray(values, dtype=None if dtype in ("object", "str", "bytes") else dtype)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"Tensor input {name!r} must hold {dtype} values: {e}") from e
    shape = list(tensor["shape"])
    if array.ndim != len(shape) or any(
        want != -1 and got != want for want, got in zip(shape, array.shape, strict=False)
    ):
        raise InvalidInputError(
            f"Tensor input {name!r} must have shape {shape} (-1: any size); got "
            f"{list(array.shape)}."
        )
    return array


def to_model_input(payload: Any, signature: Any = None) -> Any:
    """What a loaded model scores: an enforced DataFrame, or an array for tensor signatures.

    Without a signature a DataFrame or numpy array is passed through unchanged and other
    payloads become a DataFrame.
    """
    import numpy as np
    import pandas as pd

    from modelworks.registry._enforce import enforce_signature

    sig = normalize_signature(signature)
    if not sig or not sig.get("inputs"):
        if isinstance(payload, (pd.DataFrame, np.ndarray)):
            return payload
        return to_dataframe(payload)
    if is_tensor_schema(sig["inputs"]):
        return _tensor(payload, sig["inputs"])
    return enforce_signature(to_dataframe(payload, sig), sig)
