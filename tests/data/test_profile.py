"""profile_table on the bank-marketing data, edge cases, large tables and random frames."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelworks.data.profile import profile_table
from modelworks.errors import InvalidInputError


def columns(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in profile["column_profiles"]}


def json_safe(profile: dict[str, Any]) -> None:
    """Only plain JSON types, no NaN/inf, and a lossless round trip."""
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


@pytest.fixture(scope="module")
def bank(bank_csv: Path) -> pd.DataFrame:
    return pd.read_csv(bank_csv)


def test_bank_marketing_profile_matches_pandas(bank: pd.DataFrame) -> None:
    profile = profile_table(bank)
    json_safe(profile)
    assert profile["rows"] == len(bank) == 32950
    assert profile["columns"] == 21
    assert profile["sampled_rows"] is None
    assert profile["memory_bytes"] >= bank.memory_usage(deep=False).sum()
    cols = columns(profile)
    assert list(cols) == list(bank.columns)
    for name, col in cols.items():
        assert col["missing"] == int(bank[name].isna().sum())
        assert col["distinct"] == bank[name].nunique()
        assert col["distinct_approximate"] is False

    age = cols["age"]
    assert age["kind"] == "numeric"
    assert (age["min"], age["max"]) == (int(bank["age"].min()), int(bank["age"].max()))
    assert age["mean"] == pytest.approx(bank["age"].mean())
    assert age["std"] == pytest.approx(bank["age"].std())
    assert age["zeros"] == 0
    expected_q = bank["age"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
    assert list(age["quantiles"]) == ["0.05", "0.25", "0.5", "0.75", "0.95"]
    assert list(age["quantiles"].values()) == pytest.approx(expected_q)
    hist = age["histogram"]
    assert len(hist["edges"]) == 21 and len(hist["counts"]) == 20
    assert hist["edges"][0] == bank["age"].min() and hist["edges"][-1] == bank["age"].max()
    expected_counts, _ = np.histogram(bank["age"], bins=20)
    assert hist["counts"] == expected_counts.tolist()

    assert cols["pdays"]["zeros"] == int((bank["pdays"] == 0).sum())
    assert cols["emp.var.rate"]["kind"] == "numeric"

    response = cols["response"]
    assert response["kind"] == "categorical"
    counts = bank["response"].value_counts()
    assert response["top_values"] == [
        {"value": "no", "count": int(counts["no"])},
        {"value": "yes", "count": int(counts["yes"])},
    ]
    assert response["top_values"][1]["count"] == 3692
    job = cols["job"]
    assert len(job["top_values"]) == 10
    assert job["top_values"][0] == {
        "value": bank["job"].value_counts().index[0],
        "count": int(bank["job"].value_counts().iloc[0]),
    }


def test_numeric_with_nan_and_infinity() -> None:
    df = pd.DataFrame({"x": [1.0, np.nan, np.inf, -np.inf, 0.0, 3.0]})
    col = columns(profile_table(df))["x"]
    assert col["missing"] == 1
    assert col["missing_fraction"] == pytest.approx(1 / 6)
    assert col["infinite"] == 2
    assert (col["min"], col["max"]) == (0.0, 3.0)
    assert col["mean"] == pytest.approx(4 / 3)
    assert col["zeros"] == 1
    assert sum(col["histogram"]["counts"]) == 3
    json_safe(profile_table(df))


def test_all_missing_columns_of_every_dtype() -> None:
    df = pd.DataFrame(
        {
            "f": pd.Series([np.nan] * 3, dtype="float64"),
            "o": pd.Series([None] * 3, dtype=object),
            "t": pd.Series([pd.NaT] * 3, dtype="datetime64[ns]"),
            "i": pd.Series([pd.NA] * 3, dtype="Int64"),
            "b": pd.Series([pd.NA] * 3, dtype="boolean"),
            "s": pd.Series([None] * 3, dtype="string"),
        }
    )
    profile = profile_table(df)
    json_safe(profile)
    cols = columns(profile)
    for col in cols.values():
        assert col["missing"] == 3 and col["missing_fraction"] == 1.0
        assert col["distinct"] == 0
    assert cols["f"]["kind"] == "numeric" and cols["f"]["min"] is None
    assert cols["f"]["histogram"] is None and cols["f"]["quantiles"] is None
    assert cols["t"]["kind"] == "datetime" and cols["t"]["min"] is None
    assert cols["b"]["kind"] == "boolean" and cols["b"]["top_values"] == []
    assert cols["o"]["top_values"] == []


def test_empty_frames() -> None:
    empty_rows = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype=str)})
    profile = profile_table(empty_rows)
    json_safe(profile)
    assert profile["rows"] == 0 and profile["columns"] == 2
    assert all(c["missing_fraction"] == 0.0 for c in profile["column_profiles"])
    nothing = profile_table(pd.DataFrame())
    assert (nothing["rows"], nothing["columns"], nothing["column_profiles"]) == (0, 0, [])


def test_kinds() -> None:
    n = 300
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "flag": rng.random(n) > 0.3,
            "flag_obj": pd.Series([True, False, None] * (n // 3), dtype=object),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "comment": [f"free text number {i} " + "x" * (i % 7) for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "wait": pd.to_timedelta(np.arange(n), unit="s"),
            "obj_num": pd.Series([1, 2.5, None] * (n // 3), dtype=object),
            "mixed": pd.Series([1, "a", None] * (n // 3), dtype=object),
            "lists": pd.Series([[1], [2, 3], None] * (n // 3), dtype=object),
        }
    )
    profile = profile_table(df)
    json_safe(profile)
    cols = columns(profile)
    kinds = {name: c["kind"] for name, c in cols.items()}
    assert kinds == {
        "flag": "boolean",
        "flag_obj": "boolean",
        "cat": "categorical",
        "city": "categorical",
        "comment": "text",
        "when": "datetime",
        "wait": "numeric",
        "obj_num": "numeric",
        "mixed": "categorical",
        "lists": "categorical",
    }
    trues = int(df["flag"].sum())
    assert {"value": True, "count": trues} in cols["flag"]["top_values"]
    assert cols["flag_obj"]["top_values"] == [
        {"value": True, "count": n // 3},
        {"value": False, "count": n // 3},
    ]
    assert cols["comment"]["mean_length"] == pytest.approx(df["comment"].str.len().mean())
    assert len(cols["comment"]["top_values"]) == 10
    assert cols["when"]["min"] == "2024-01-01T00:00:00+00:00"
    assert cols["when"]["max"] == df["when"].max().isoformat()
    assert cols["wait"]["max"] == n - 1
    assert cols["obj_num"]["max"] == 2.5 and cols["obj_num"]["missing"] == n // 3
    assert {"value": "[2, 3]", "count": n // 3} in cols["lists"]["top_values"]


def test_duplicate_and_non_string_column_names() -> None:
    df = pd.DataFrame([[1, "a", 2.0]], columns=["x", "x", 3])
    profile = profile_table(df)
    json_safe(profile)
    assert [c["name"] for c in profile["column_profiles"]] == ["x", "x", "3"]
    assert [c["kind"] for c in profile["column_profiles"]] == ["numeric", "categorical", "numeric"]


def test_constant_and_extreme_numeric_columns() -> None:
    df = pd.DataFrame(
        {
            "const": [5.0] * 10,
            "huge": [-1.7e308, 0.0, 1.7e308, 1e300, -1e300, 2.0, 3.0, 4.0, 5.0, 6.0],
            "big_int": np.array([2**62, -(2**62)] * 5, dtype=np.int64),
            "max_const": [np.finfo(np.float64).max] * 10,
        }
    )
    profile = profile_table(df)
    json_safe(profile)
    cols = columns(profile)
    const = cols["const"]["histogram"]
    assert sum(const["counts"]) == 10 and max(const["counts"]) == 10
    assert const["edges"][0] < 5.0 < const["edges"][-1]
    huge = cols["huge"]["histogram"]
    assert sum(huge["counts"]) == 10
    assert huge["edges"][0] == -1.7e308 and huge["edges"][-1] == 1.7e308
    assert all(a <= b for a, b in zip(huge["edges"], huge["edges"][1:], strict=False))
    assert cols["huge"]["mean"] is None or math.isfinite(cols["huge"]["mean"])
    top = cols["max_const"]["histogram"]
    assert sum(top["counts"]) == 10 and top["edges"][-1] == np.finfo(np.float64).max
    assert cols["big_int"]["max"] == 2**62 and cols["big_int"]["min"] == -(2**62)


def test_large_tables_sample_quantiles_and_estimate_distinct() -> None:
    rows = 1_200_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "k": rng.integers(0, 50_000, size=rows),
            "g": rng.choice(np.array(["a", "b", "c"], dtype=object), size=rows),
        }
    )
    df.loc[::1000, "x"] = np.nan
    profile = profile_table(df)
    json_safe(profile)
    assert profile["rows"] == rows
    assert profile["sampled_rows"] == 100_000
    cols = columns(profile)
    x = cols["x"]
    assert x["missing"] == int(df["x"].isna().sum())  # exact, not sampled
    assert x["min"] == pytest.approx(df["x"].min())
    assert 99_800 <= sum(x["histogram"]["counts"]) <= 100_000
    assert x["quantiles"]["0.5"] == pytest.approx(0.0, abs=0.02)
    k = cols["k"]
    assert k["distinct_approximate"] is True
    assert k["distinct"] == pytest.approx(df["k"].nunique(), rel=0.03)
    assert cols["g"]["distinct"] == 3
    g_counts = df["g"].value_counts()
    assert cols["g"]["top_values"][0] == {
        "value": g_counts.index[0],
        "count": int(g_counts.iloc[0]),
    }


def test_thresholds_are_parameters() -> None:
    df = pd.DataFrame({"x": np.arange(1000, dtype=float), "s": [f"v{i % 37}" for i in range(1000)]})
    profile = profile_table(df, sample_above=100, sample_size=50, exact_distinct_max=10)
    assert profile["sampled_rows"] == 50
    cols = columns(profile)
    assert sum(cols["x"]["histogram"]["counts"]) == 50
    assert cols["x"]["distinct_approximate"] is True
    assert cols["x"]["distinct"] == pytest.approx(1000, rel=0.03)
    assert cols["s"]["distinct"] == 37
    with pytest.raises(InvalidInputError, match="sample_size must be a positive integer, got 0"):
        profile_table(df, sample_size=0)
    with pytest.raises(InvalidInputError, match="expects a pandas DataFrame, got list"):
        profile_table([1, 2])  # type: ignore[arg-type]
    assert profile_table(df, sample_above=100, sample_size=50, seed=3) == profile_table(
        df, sample_above=100, sample_size=50, seed=3
    )


# ----------------------------------------------------------------------- random DataFrames

_any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
_COLUMN = st.sampled_from(
    ["float", "int", "nullable_int", "bool", "text", "time", "object", "none"]
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 25))
    data: dict[str, pd.Series] = {}
    for i in range(draw(st.integers(0, 6))):
        kind = draw(_COLUMN)
        if kind == "float":
            values: Any = draw(st.lists(_any_float, min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="float64")
        elif kind == "int":
            ints = st.integers(-(2**63), 2**63 - 1)
            series = pd.Series(draw(st.lists(ints, min_size=rows, max_size=rows)), dtype="int64")
        elif kind == "nullable_int":
            ints_or_none = st.none() | st.integers(-(2**40), 2**40)
            values = draw(st.lists(ints_or_none, min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="Int64")
        elif kind == "bool":
            series = pd.Series(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)))
        elif kind == "text":
            values = draw(st.lists(st.none() | st.text(max_size=12), min_size=rows, max_size=rows))
            series = pd.Series(values, dtype="string" if draw(st.booleans()) else object)
        elif kind == "time":
            stamps = st.none() | st.datetimes(
                min_value=pd.Timestamp("1700-01-01").to_pydatetime(),
                max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
            )
            series = pd.Series(pd.to_datetime(draw(st.lists(stamps, min_size=rows, max_size=rows))))
        elif kind == "object":
            scalars = st.none() | st.booleans() | st.integers() | _any_float | st.text(max_size=5)
            values = draw(st.lists(scalars, min_size=rows, max_size=rows))
            series = pd.Series(values, dtype=object)
        else:
            series = pd.Series([None] * rows, dtype=object)
        data[f"{kind}_{i}"] = series
    return pd.DataFrame(data, index=range(rows))


@settings(max_examples=150, deadline=None)
@given(df=frames(), small=st.booleans())
def test_random_frames_always_profile_to_json(df: pd.DataFrame, small: bool) -> None:
    limits = {"sample_above": 5, "sample_size": 3, "exact_distinct_max": 4} if small else {}
    profile = profile_table(df, **limits)
    json_safe(profile)
    assert profile["rows"] == len(df)
    assert profile["columns"] == df.shape[1] == len(profile["column_profiles"])
    sampled = profile["sampled_rows"]
    assert sampled is None or (small and len(df) > 5 and sampled == 3)
    for col, (_, series) in zip(profile["column_profiles"], df.items(), strict=True):
        assert col["missing"] == int(series.isna().sum())
        assert 0.0 <= col["missing_fraction"] <= 1.0
        assert col["kind"] in ("numeric", "categorical", "boolean", "datetime", "text")
        assert 0 <= col["distinct"] <= len(df) - col["missing"]
        if col["kind"] == "numeric" and col["histogram"] is not None:
            hist = col["histogram"]
            assert len(hist["edges"]) == 21 and len(hist["counts"]) == 20
            finite = np.isfinite(pd.to_numeric(series, errors="coerce").astype(float)).sum()
            assert sum(hist["counts"]) == (finite if sampled is None else sum(hist["counts"]))
            assert sum(hist["counts"]) <= finite
        if "top_values" in col:
            assert len(col["top_values"]) <= 10
            assert sum(t["count"] for t in col["top_values"]) <= len(df) - col["missing"]
