"""Input examples: written as ``input_example.json`` the way MLflow writes them, and read back.

A table is stored in pandas ``split`` orient without the index (``{"columns": [...], "data":
[[...]]}``), a numpy array as a nested list; ``serving_input_example.json`` holds the same example
as a scoring request (``{"dataframe_split": ...}`` or ``{"inputs": ...}``). Values become plain
JSON: NaN and missing values are null, datetimes ISO-8601 text, bytes base64 text.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError

__all__ = ["EXAMPLE_FILE", "SERVING_EXAMPLE_FILE", "read_input_example", "save_input_example"]

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def _json_value(value: Any) -> Any:
    """A JSON-ready version of one cell (recursing into lists and dicts)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (str, int, bool)):
        return value
    raise InvalidInputError(
        f"The input example holds a {type(value).__name__} value, which cannot be stored as "
        "JSON; use numbers, text, booleans, datetimes or bytes."
    )


def save_input_example(path: Path, example: Any) -> tuple[dict[str, Any], Any]:
    """Write the example files into ``path``; return (saved_input_example_info, example table).

    The returned example is a DataFrame, or a numpy array for array examples, ready to feed the
    model for signature inference.
    """
    import numpy as np

    from modelworks.registry._payloads import to_dataframe

    if isinstance(example, np.ndarray):
        rows = _json_value(example)
        info = {"artifact_path": EXAMPLE_FILE, "type": "ndarray"}
        serving = {"inputs": rows}
        content: Any = rows
    else:
        df = to_dataframe(example)
        content = {
            "columns": [str(c) for c in df.columns],
            "data": [[_json_value(v) for v in row] for row in df.itertuples(index=False)],
        }
        info = {"artifact_path": EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split"}
        serving = {"dataframe_split": content}
        example = df
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    (path / EXAMPLE_FILE).write_text(json.dumps(content, allow_nan=False), encoding="utf-8")
    (path / SERVING_EXAMPLE_FILE).write_text(
        json.dumps(serving, indent=2, allow_nan=False), encoding="utf-8"
    )
    return info, example


def read_input_example(path: Path, info: dict[str, Any] | None) -> Any:
    """The example of the model folder ``path``: a DataFrame, an array, or None if it has none."""
    import numpy as np
    import pandas as pd

    if not info or not isinstance(info, dict) or not info.get("artifact_path"):
        return None
    file = path / str(info["artifact_path"])
    if not file.is_file():
        return None
    content = json.loads(file.read_text(encoding="utf-8"))
    kind = info.get("type")
    if kind == "ndarray":
        if isinstance(content, dict) and "inputs" in content:
            content = content["inputs"]
        return np.asarray(content)
    if kind == "dataframe":
        if isinstance(content, dict) and "dataframe_split" in content:
            content = content["dataframe_split"]
        if isinstance(content, dict) and "data" in content:
            return pd.DataFrame(content["data"], columns=content.get("columns"))
        return pd.DataFrame(content)
    return content
