"""Forecasting data: checks, regular time grids and series, before any trial runs.

:func:`prepare_series` turns a table with a time column, an optional set of series id
columns and a target into one regular series per id (gaps filled by interpolation and
reported), and raises a clear error for what cannot be forecast: a missing or unparseable
time column, duplicate times within a series, an all-missing or non-numeric target, or a
horizon longer than the data.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import pandas as pd

from modelworks.automl.guardrails import refuse_infinite_target
from modelworks.errors import InvalidInputError

__all__ = ["SeriesSet", "parse_times", "prepare_series", "season_length"]

MIN_TRAIN_POINTS = 3

_SEASONS = {
    "H": 24,
    "h": 24,
    "D": 7,
    "B": 5,
    "W": 52,
    "M": 12,
    "MS": 12,
    "ME": 12,
    "Q": 4,
    "QS": 4,
    "QE": 4,
    "A": 1,
    "Y": 1,
    "YS": 1,
    "YE": 1,
    "AS": 1,
}


def season_length(freq: str | None) -> int:
    """The usual seasonal period of a pandas frequency ('MS' -> 12, 'D' -> 7, ...)."""
    if not freq:
        return 1
    base = freq.split("-")[0].lstrip("0123456789")
    return _SEASONS.get(base, _SEASONS.get(base[:1], 1))


@dataclasses.dataclass
class SeriesSet:
    """Regular series keyed by id (a tuple of id values, ``()`` for a single series)."""

    series: dict[tuple[Any, ...], pd.Series]
    id_columns: list[str]
    time_column: str
    freq: str
    season: int
    filled: int = 0
    dayfirst: bool = False
    """The time column's strings were read day first ('31/01/2024')."""

    @property
    def ids(self) -> list[tuple[Any, ...]]:
        return list(self.series)

    def min_length(self) -> int:
        return min(len(s) for s in self.series.values())


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 moves from a string to an offset
        found: Any = pd.infer_freq(index)
    if found is None:
        return None
    return str(getattr(found, "freqstr", found))


_ISO_START = r"^\s*\d{4}[-/.]"


def _to_datetime(values: pd.Series, dayfirst: bool) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=dayfirst)


def _regular(times: pd.Series) -> bool:
    distinct = pd.DatetimeIndex(times.dropna().unique()).sort_values()
    return len(distinct) >= 3 and _infer_freq(distinct) is not None


def parse_times(
    values: pd.Series, name: str, *, dayfirst: bool | None = None
) -> tuple[pd.Series, bool]:
    """The time column as datetimes, and whether its strings were read day first.

    ``dayfirst=None`` (training) decides it: strings that do not start with a year
    ('31/01/2024', '01.02.2024') are read both ways, and day first wins when it reads more
    of them or, reading as many, only it gives regular times. Prediction passes the
    training's choice so the same string means the same day.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values, False
    parsed = None
    if dayfirst is None:
        text = values.dropna().astype(str)
        dayfirst = False
        if len(text) and not text.str.match(_ISO_START).any():
            month_first, day_first = _to_datetime(values, False), _to_datetime(values, True)
            unread_m, unread_d = int(month_first.isna().sum()), int(day_first.isna().sum())
            dayfirst = unread_d < unread_m or (
                unread_d == unread_m
                and not month_first.equals(day_first)
                and _regular(day_first)
                and not _regular(month_first)
            )
            parsed = day_first if dayfirst else month_first
    if parsed is None:
        parsed = _to_datetime(values, dayfirst)
    bad = values[parsed.isna() & values.notna()]
    if len(bad) or parsed.isna().all():
        example = repr(bad.iloc[0]) if len(bad) else "(all missing)"
        raise InvalidInputError(
            f"The time column {name!r} has values that are not dates or times, such as "
            f"{example}. Use ISO dates like '2024-01-31' or a datetime column."
        )
    return parsed, dayfirst


def prepare_series(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    time_column: str | None,
    id_columns: list[str],
    horizon: int,
    frequency: str | None,
    seasonality: int | str | None,
    target_name: str,
) -> SeriesSet:
    """Validate and regularise the training data into one series per id."""
    if not time_column:
        raise InvalidInputError(
            "Forecasting needs forecasting.time_column_name (the column holding the time)."
        )
    if time_column not in X.columns:
        raise InvalidInputError(
            f"The time column {time_column!r} is not in the training data; its columns are "
            f"{list(X.columns)}."
        )
    for column in id_columns:
        if column not in X.columns:
            raise InvalidInputError(
                f"The time series id column {column!r} is not in the training data; its "
                f"columns are {list(X.columns)}."
            )
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise InvalidInputError(f"forecast_horizon must be an int >= 1. Got {horizon!r}.")
    if y.isna().all():
        raise InvalidInputError(
            f"The target column {target_name!r} has no values: every row is missing."
        )
    target = pd.to_numeric(y, errors="coerce")
    bad = y[target.isna() & y.notna()]
    if len(bad):
        raise InvalidInputError(
            f"The target column {target_name!r} of a forecasting task must be numeric, but it "
            f"has values such as {bad.iloc[0]!r}. Convert it to numbers."
        )
    refuse_infinite_target(target, target_name)
    times, dayfirst = parse_times(X[time_column].reset_index(drop=True), time_column)
    frame = pd.DataFrame({"__time": times, "__y": target.reset_index(drop=True)})
    for column in id_columns:
        frame[column] = X[column].reset_index(drop=True).to_numpy()
    keys = [*id_columns, "__time"]
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        row = frame[dup].iloc[0]
        where = ", ".join(f"{c}={row[c]!r}" for c in id_columns)
        raise InvalidInputError(
            f"The time column {time_column!r} has duplicate times within a series "
            f"({int(dup.sum())} rows; e.g. {row['__time']}"
            + (f" for {where}" if where else "")
            + "). Each series needs one row per time: aggregate the duplicates, or add the "
            "column that tells the series apart to time_series_id_column_names."
        )
    groups = frame.groupby(id_columns, sort=True) if id_columns else [((), frame)]
    freq = frequency
    raw: dict[tuple[Any, ...], pd.Series] = {}
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        s = group.set_index("__time")["__y"].sort_index()
        raw[tuple(key) if id_columns else ()] = s
    if freq is None:
        for s in raw.values():
            if len(s) >= 3:
                freq = _infer_freq(pd.DatetimeIndex(s.index))
                if freq:
                    break
    if freq is None:
        longest = max(raw.values(), key=len)
        step = pd.Series(longest.index).diff().median()
        if pd.isna(step):
            raise InvalidInputError(
                "Cannot tell the frequency of the series; give forecasting.frequency (e.g. 'D')."
            )
        freq = pd.tseries.frequencies.to_offset(pd.Timedelta(step)).freqstr
    series: dict[tuple[Any, ...], pd.Series] = {}
    filled = 0
    for key, s in raw.items():
        s = s[s.index.notna()]
        grid = pd.date_range(s.index.min(), s.index.max(), freq=freq)
        regular = s.reindex(grid)
        if len(grid) > 4 * max(len(s), 1):
            raise InvalidInputError(
                f"The times of series {key or 'the series'} do not follow the frequency "
                f"{freq!r}; give forecasting.frequency to match the data."
            )
        missing = int(regular.isna().sum())
        if missing:
            filled += missing
            regular = regular.interpolate(limit_direction="both")
        series[key] = regular.astype(float)
    season = int(seasonality) if isinstance(seasonality, int) else season_length(freq)
    out = SeriesSet(
        series, list(id_columns), time_column, str(freq), max(1, season), filled, dayfirst
    )
    shortest = out.min_length()
    if horizon >= shortest or shortest < horizon + MIN_TRAIN_POINTS:
        raise InvalidInputError(
            f"forecast_horizon {horizon} is longer than the data allows: the shortest series "
            f"has {shortest} points, and at least horizon + {MIN_TRAIN_POINTS} are needed to "
            "validate a forecast. Use a shorter horizon or more history."
        )
    return out
