"""Check a table against a column signature and convert it to the declared types.

Rules: a missing required column is an error naming the missing columns and listing the expected
ones; extra columns are dropped; columns come out in signature order; values are converted when
no information is lost in meaning (int to float, "3" to 3, 2.0 to 2, "true" to True, ISO text to
datetime); anything else (a word in a numeric column, 2.5 in an integer column, a missing value in
a required column) is an :class:`InvalidInputError` naming the column, the row and the value.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError
from modelworks.registry.schema import describe_columns, is_tensor_schema, normalize_signature

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["enforce_signature"]

_HINTS = {
    "double": "numbers",
    "float": "numbers",
    "long": "whole numbers",
    "integer": "whole numbers (32-bit)",
    "boolean": "true or false",
    "datetime": "ISO-8601 date-times such as 2024-05-01T12:00:00",
    "binary": "base64-encoded text",
    "string": "text",
}
_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_NUMPY_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _bad_value(name: str, kind: str, series: pd.Series, mask: Any) -> InvalidInputError:
    """The error for the first row where ``mask`` is true."""
    import numpy as np

    position = int(np.flatnonzero(np.asarray(mask))[0])
    value = series.iloc[position]
    return InvalidInputError(
        f"Column {name!r} expects {kind} values, but row {position} has {value!r}. "
        f"Send {_HINTS.get(kind, kind)} in this column.",
        column=name,
        row=position,
        value=repr(value),
        expected_type=kind,
    )


def _numbers(name: str, kind: str, series: pd.Series) -> pd.Series:
    """The column as numbers; text that does not parse is an error."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("int64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series
    values = series.astype(object).map(_plain_number)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        raise _bad_value(name, kind, series, bad)
    return converted


def _already(series: pd.Series, kind: str, required: bool) -> bool:
    """Fast path: the column already has the declared numpy dtype and no gap it may not have."""
    import numpy as np

    target = _NUMPY_DTYPES.get(kind)
    if target is None or series.dtype != target:
        return False
    return not (required and kind in ("double", "float") and np.isnan(series.to_numpy()).any())


def _conforms(df: pd.DataFrame, specs: list[dict[str, Any]]) -> bool:
    """Whole-frame fast path: right columns in order, declared dtypes, no forbidden gaps."""
    if [str(c) for c in df.columns] != [s["name"] for s in specs]:
        return False
    if any(_NUMPY_DTYPES.get(s["type"]) != dt for s, dt in zip(specs, df.dtypes, strict=True)):
        return False
    gaps_forbidden = [
        i
        for i, s in enumerate(specs)
        if s["type"] in ("double", "float") and s.get("required", True)
    ]
    return not gaps_forbidden or not df.iloc[:, gaps_forbidden].isna().to_numpy().any()


def _plain_number(value: Any) -> Any:
    """Booleans as 0/1 and text stripped, ready for ``pandas.to_numeric``."""
    if isinstance(value, bool):
        return int(value)
    return value.strip() if isinstance(value, str) else value


def _convert(series: pd.Series, spec: dict[str, Any]) -> pd.Series:
    import pandas as pd

    name = str(spec.get("name", series.name))
    kind = spec["type"]
    if kind not in _HINTS:  # array / object / map / any: passed through unchecked
        return series
    if _already(series, kind, bool(spec.get("required", True))):
        return series
    missing = series.isna()
    if spec.get("required", True) and missing.any():
        raise InvalidInputError(
            f"Column {name!r} is required but row "
            f"{int(missing.to_numpy().nonzero()[0][0])} has no value. Send a value in every row, "
            "or save the model with a signature marking the column optional.",
            column=name,
        )
    if kind in ("double", "float"):
        return _numbers(name, kind, series).astype("float64" if kind == "double" else "float32")
    if kind in ("long", "integer"):
        numbers = _numbers(name, kind, series)
        present = numbers.notna()
        if pd.api.types.is_float_dtype(numbers.dtype):
            fractional = present & (numbers.where(present, 0) % 1 != 0)
            if fractional.any():
                raise _bad_value(name, kind, series, fractional)
        low, high = _INT_RANGE[kind]
        out_of_range = present & ((numbers < low) | (numbers > high))
        if out_of_range.any():
            raise _bad_value(name, kind, series, out_of_range)
        if not present.all():
            return numbers.astype("float64")  # optional column with gaps: NaN needs floats
        return numbers.astype("int64" if kind == "long" else "int32")
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(series.dtype):
            return series
        return _booleans(name, series)
    if kind == "string":
        if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
            series.dtype
        ):
            return series
        return series.map(lambda v: v if v is None or _isna(v) or isinstance(v, str) else str(v))
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return series
        converted = pd.to_datetime(series, errors="coerce", format="mixed")
        bad = converted.isna() & series.notna()
        if bad.any():
            raise _bad_value(name, kind, series, bad)
        return converted
    return _binary(name, series)


def _isna(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _booleans(name: str, series: pd.Series) -> pd.Series:
    def parse(value: Any) -> Any:
        if value is None or _isna(value) or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return _Bad

    converted = series.astype(object).map(parse)
    bad = converted.map(lambda v: v is _Bad)
    if bad.any():
        raise _bad_value(name, "boolean", series, bad)
    return converted.astype(bool) if converted.notna().all() else converted


def _binary(name: str, series: pd.Series) -> pd.Series:
    def parse(value: Any) -> Any:
        if value is None or _isna(value) or isinstance(value, (bytes, bytearray)):
            return value
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return _Bad
        return _Bad

    converted = series.astype(object).map(parse)
    bad = converted.map(lambda v: v is _Bad)
    if bad.any():
        raise _bad_value(name, "binary", series, bad)
    return converted


class _Bad:
    """Marker for a value that does not convert."""


def enforce_signature(df: pd.DataFrame, signature: Any) -> pd.DataFrame:
    """``df`` checked against ``signature['inputs']`` and converted to its types.

    Returns a new DataFrame with exactly the signature's columns, in its order (a missing
    optional column is added as all-missing). A tensor signature or no signature returns ``df``
    unchanged. Raises :class:`InvalidInputError` for missing required columns and bad values.
    """
    import pandas as pd

    sig = normalize_signature(signature)
    specs = (sig or {}).get("inputs")
    if not specs or is_tensor_schema(specs):
        return df
    if any(s.get("name") is None for s in specs):
        if df.shape[1] != len(specs):
            raise InvalidInputError(
                f"The model takes {len(specs)} unnamed column(s) "
                f"({describe_columns(specs)}); got {df.shape[1]}."
            )
        converted = {df.columns[i]: _convert(df.iloc[:, i], spec) for i, spec in enumerate(specs)}
        return pd.DataFrame(converted, index=df.index)
    columns = {str(c): c for c in df.columns}
    missing = [s["name"] for s in specs if s.get("required", True) and s["name"] not in columns]
    if missing:
        quoted = ", ".join(repr(m) for m in missing)
        raise InvalidInputError(
            f"Input is missing required column(s) {quoted}. Expected columns: "
            f"{describe_columns(specs)}.",
            missing=missing,
            expected=[s["name"] for s in specs],
        )
    if _conforms(df, specs):
        return df  # the common case at scoring time: nothing to convert
    out: dict[str, Any] = {}
    for spec in specs:
        name = spec["name"]
        if name in columns:
            out[name] = _convert(df[columns[name]], spec)
        else:
            out[name] = pd.Series([None] * len(df), index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index)
