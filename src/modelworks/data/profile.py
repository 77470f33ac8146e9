"""Profiling a table: schema, counts, missing values, statistics and histograms.

:func:`profile_table` returns a JSON-safe dict (only str/int/float/bool/None/list/dict; NaN and
infinities become None) that is stored with each data version and rendered by the CLI and the
studio. Its shape (``profile_version`` 1)::

    {"profile_version": 1, "rows": 32950, "columns": 21, "memory_bytes": 12345678,
     "sampled_rows": None,            # or the number of rows behind quantiles/histograms
     "column_profiles": [
        {"name": "age", "dtype": "int64", "kind": "numeric",   # numeric|categorical|boolean|
         "missing": 0, "missing_fraction": 0.0,                # datetime|text
         "distinct": 77, "distinct_approximate": False,
         # numeric:
         "min": 17, "max": 98, "mean": 40.0, "std": 10.4, "zeros": 0, "infinite": 0,
         "quantiles": {"0.05": 26.0, "0.25": 32.0, "0.5": 38.0, "0.75": 47.0, "0.95": 58.0},
         "histogram": {"edges": [... 21 floats], "counts": [... 20 ints]}},
        # categorical / boolean / text: "top_values": [{"value": "no", "count": 29258}, ...]
        # text also: "mean_length"; datetime: "min", "max" (ISO 8601)
     ]}

Counts, missing values, min/max/mean/std and top values are exact over all rows. Distinct
counts of numeric and datetime columns are exact up to 100,000 rows and a HyperLogLog estimate
(about 1% error) above, marked ``distinct_approximate``; other columns count their values
exactly anyway (for the top values), so their distinct count is always exact. Tables above 1,000,000 rows compute quantiles and histograms on a
random sample of 100,000 rows, named in ``sampled_rows``.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "EXACT_DISTINCT_MAX_ROWS",
    "PROFILE_VERSION",
    "SAMPLE_ABOVE_ROWS",
    "SAMPLE_SIZE",
    "profile_table",
]

PROFILE_VERSION = 1
EXACT_DISTINCT_MAX_ROWS = 100_000
SAMPLE_ABOVE_ROWS = 1_000_000
SAMPLE_SIZE = 100_000
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_VALUES = 10
# A string column is categorical when it repeats: at most this many distinct values, or ...
_CATEGORICAL_MAX_DISTINCT = 50
# ... at most this fraction of its non-missing values distinct; otherwise it is free text.
_CATEGORICAL_MAX_RATIO = 0.2
_HLL_PRECISION = 14


def profile_table(
    df: pd.DataFrame,
    *,
    sample_above: int = SAMPLE_ABOVE_ROWS,
    sample_size: int = SAMPLE_SIZE,
    exact_distinct_max: int = EXACT_DISTINCT_MAX_ROWS,
    seed: int = 0,
) -> dict[str, Any]:
    """Profile ``df`` into a JSON-safe dict (see the module docstring for its shape).

    Tables with more than ``sample_above`` rows compute quantiles and histograms from a
    random sample of ``sample_size`` rows (reproducible through ``seed``); distinct counts
    are approximate above ``exact_distinct_max`` rows.
    """
    import numpy as np
    import pandas as pd

    from modelworks.errors import InvalidInputError

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(
            f"profile_table expects a pandas DataFrame, got {df.__class__.__name__}."
        )
    if sample_size < 1:
        raise InvalidInputError(f"sample_size must be a positive integer, got {sample_size}.")
    rows = len(df)
    positions = None
    if rows > sample_above and sample_size < rows:
        rng = np.random.default_rng(seed)
        positions = np.sort(rng.choice(rows, size=sample_size, replace=False))
    approximate = rows > exact_distinct_max
    profiles = [
        _profile_column(df.iloc[:, i], df.columns[i], positions, approximate)
        for i in range(df.shape[1])
    ]
    try:
        memory = int(df.memory_usage(deep=True, index=True).sum())
    except (TypeError, ValueError):
        memory = int(df.memory_usage(deep=False, index=True).sum())
    return _json_safe(
        {
            "profile_version": PROFILE_VERSION,
            "rows": rows,
            "columns": df.shape[1],
            "memory_bytes": memory,
            "sampled_rows": None if positions is None else len(positions),
            "column_profiles": profiles,
        }
    )


# ------------------------------------------------------------------------------- per column


def _profile_column(
    series: pd.Series, name: Any, positions: np.ndarray | None, approximate: bool
) -> dict[str, Any]:
    rows = len(series)
    missing = int(series.isna().sum())
    kind, values = _classify(series)
    present = values.dropna()
    out: dict[str, Any] = {
        "name": str(name),
        "dtype": str(series.dtype),
        "kind": kind,
        "missing": missing,
        "missing_fraction": missing / rows if rows else 0.0,
    }
    if kind in ("numeric", "datetime"):
        out["distinct"], out["distinct_approximate"] = _distinct(present, approximate)
    else:  # the exact value counts are needed for the top values anyway
        counts = _value_counts(present)
        out["distinct"], out["distinct_approximate"] = len(counts), False
        out["top_values"] = [
            {"value": _json_value(v), "count": int(c)} for v, c in counts.head(TOP_VALUES).items()
        ]
    if kind == "string":  # categorical if its values repeat enough, else free text
        kind = out["kind"] = _string_kind(out["distinct"], len(present))
    if kind == "numeric":
        sample = values if positions is None else values.iloc[positions]
        out.update(_numeric_stats(present, sample.dropna(), series.dtype))
    elif kind == "datetime":
        out["min"] = _iso(present.min()) if len(present) else None
        out["max"] = _iso(present.max()) if len(present) else None
    elif kind == "text":
        lengths = present.astype(str).str.len()
        out["mean_length"] = float(lengths.mean()) if len(lengths) else None
    return out


def _classify(series: pd.Series) -> tuple[str, pd.Series]:
    """The column's kind and its values in a form the statistics can use.

    ``string`` means categorical or text, decided once the distinct count is known.
    """
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "boolean", series
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", series
    if types.is_datetime64_any_dtype(dtype):
        return "datetime", series
    if types.is_timedelta64_dtype(dtype):
        return "numeric", series.dt.total_seconds()
    if types.is_complex_dtype(dtype):
        return "string", _as_text(series)
    if types.is_numeric_dtype(dtype):
        return "numeric", series
    if types.is_object_dtype(dtype):
        inferred = types.infer_dtype(series, skipna=True)
        try:
            if inferred == "boolean":
                return "boolean", series
            if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
                return "numeric", pd.to_numeric(series, errors="coerce").astype("float64")
            if inferred in ("datetime", "datetime64", "date"):
                return "datetime", pd.to_datetime(series, errors="coerce")
        except (TypeError, ValueError, OverflowError):
            pass
        if inferred == "empty":
            return "categorical", series
    return "string", _as_text(series)


def _as_text(series: pd.Series) -> pd.Series:
    """String values (missing kept missing), so that any object column can be counted."""
    from pandas.api import types

    if types.is_string_dtype(series.dtype) and types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
    ):
        return series
    return series.map(str, na_action="ignore").astype(object)


def _string_kind(distinct: int, present: int) -> str:
    if distinct <= _CATEGORICAL_MAX_DISTINCT or distinct <= _CATEGORICAL_MAX_RATIO * present:
        return "categorical"
    return "text"


def _distinct(present: pd.Series, approximate: bool) -> tuple[int, bool]:
    """Exact distinct count, or a HyperLogLog estimate when ``approximate``."""
    if not approximate:
        try:
            return int(present.nunique(dropna=True)), False
        except TypeError:
            return int(_as_text(present).nunique(dropna=True)), False
    return _hyperloglog(present), True


def _hyperloglog(present: pd.Series) -> int:
    """HyperLogLog distinct-count estimate (2^14 registers, ~0.8% standard error)."""
    import numpy as np
    import pandas as pd

    if len(present) == 0:
        return 0
    try:
        hashes = pd.util.hash_pandas_object(present, index=False).to_numpy(dtype=np.uint64)
    except TypeError:
        hashes = pd.util.hash_pandas_object(_as_text(present), index=False).to_numpy(np.uint64)
    p = _HLL_PRECISION
    m = 1 << p
    rest_bits = 64 - p
    buckets = (hashes >> np.uint64(rest_bits)).astype(np.intp)
    rest = (hashes & np.uint64((1 << rest_bits) - 1)).astype(np.float64)  # exact below 2**53
    # bit length = the float's biased exponent - 1022 (and 0 for 0), read straight from its bits
    exponent = (rest.view(np.uint64) >> np.uint64(52)).astype(np.int16) - 1022
    ranks = (rest_bits + 1 - np.maximum(exponent, 0)).astype(np.uint8)
    registers = np.zeros(m, dtype=np.uint8)
    np.maximum.at(registers, buckets, ranks)
    alpha = 0.7213 / (1 + 1.079 / m)
    estimate = alpha * m * m / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    empty = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and empty:
        estimate = m * math.log(m / empty)
    return min(round(estimate), len(present))


def _numeric_stats(present: pd.Series, sample: pd.Series, dtype: Any) -> dict[str, Any]:
    import numpy as np
    from pandas.api import types

    values = present.to_numpy(dtype=np.float64, na_value=np.nan)
    finite_mask = np.isfinite(values)
    finite = values[finite_mask]
    stats: dict[str, Any] = {
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "zeros": int(np.count_nonzero(values == 0)),
        "infinite": int(values.size - finite.size),
        "quantiles": None,
        "histogram": None,
    }
    if finite.size:
        with np.errstate(all="ignore"):
            if types.is_integer_dtype(dtype) and not types.is_bool_dtype(dtype):
                stats["min"], stats["max"] = int(present.min()), int(present.max())
            else:
                stats["min"], stats["max"] = float(finite.min()), float(finite.max())
            stats["mean"] = float(np.mean(finite))
            stats["std"] = float(np.std(finite, ddof=1)) if finite.size > 1 else None
    sampled = sample.to_numpy(dtype=np.float64, na_value=np.nan)
    sampled = sampled[np.isfinite(sampled)]
    if sampled.size:
        with np.errstate(all="ignore"):
            qs = np.quantile(sampled, QUANTILES)
        stats["quantiles"] = {str(q): float(v) for q, v in zip(QUANTILES, qs, strict=True)}
        stats["histogram"] = _histogram(sampled)
    return stats


def _histogram(values: np.ndarray) -> dict[str, list[Any]]:
    """20 equal-width bins over [min, max]; robust to a constant column and huge ranges."""
    import numpy as np

    lo, hi = float(values.min()), float(values.max())
    if lo == hi:  # widen a constant column's range, staying finite at the float limits
        delta = max(0.5, abs(lo) * 1e-9)
        lo, hi = max(lo - delta, -sys.float_info.max), min(hi + delta, sys.float_info.max)
    with np.errstate(all="ignore"):
        if math.isfinite(hi - lo):  # equal-width bins: numpy's fast path, no sort
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
        else:  # hi - lo overflows: build the edges at half scale
            edges = np.linspace(lo / 2, hi / 2, HISTOGRAM_BINS + 1) * 2
            edges[0], edges[-1] = lo, hi
            counts, _ = np.histogram(values, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _value_counts(present: pd.Series) -> pd.Series:
    """Counts of each value, most frequent first (unused categories left out)."""
    try:
        counts = present.value_counts(dropna=True, sort=True)
    except TypeError:
        counts = _as_text(present).value_counts(dropna=True, sort=True)
    return counts[counts > 0]


def _iso(value: Any) -> str | None:
    import pandas as pd

    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _json_value(value: Any) -> Any:
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _json_safe(value: Any) -> Any:
    """Plain JSON types throughout; NaN and infinities become None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
