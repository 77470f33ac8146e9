"""Data guardrails: checks run on the training data before any trial, as Azure AutoML does.

:func:`check_target` raises a clear :class:`~modelworks.errors.InvalidInputError` for data
no model can be trained on (no target column, an all-missing target, a single class, a
non-numeric regression target, too few rows). :func:`report` returns what was found and
what AutoML did about it — missing values (imputed), class imbalance, high-cardinality and
ID-like columns, constant columns, likely target leakage, few rows — each a
:class:`Guardrail` with a status of ``passed``, ``done`` (something was fixed) or
``alerted`` (the user should look).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from modelworks.automl.featurize import (
    KIND_CATEGORICAL,
    KIND_CATEGORICAL_HIGH,
    KIND_DROP,
    KIND_NUMERIC,
    ColumnKinds,
)
from modelworks.errors import InvalidInputError

__all__ = ["MIN_ROWS", "Guardrail", "check_target", "report"]

MIN_ROWS = 10
FEW_ROWS = 100


@dataclasses.dataclass(frozen=True)
class Guardrail:
    """One check: its name, ``passed`` / ``done`` / ``alerted``, what was found and done."""

    name: str
    status: str
    description: str
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds, so messages read 1.0 rather than
    np.float64(1.0)."""
    return value.item() if isinstance(value, np.generic) else value


def _sample(values: Any, limit: int = 3) -> str:
    return ", ".join(repr(_plain(v)) for v in list(values)[:limit])


def refuse_infinite_target(y: pd.Series, name: str) -> None:
    """A numeric target with inf in it cannot be learned or scored: say where, before any trial."""
    infinite = np.isinf(y.to_numpy(dtype=float))
    if infinite.any():
        raise InvalidInputError(
            f"The target column {name!r} has infinite values in {int(infinite.sum())} "
            f"row(s) (the first at position {int(np.argmax(infinite))}). Drop those rows "
            "or replace the values with numbers (or leave them empty to skip the rows)."
        )


def check_target(y: pd.Series, task: str, *, name: str) -> pd.Series:
    """Validate the target for ``task``; return it with missing-target rows flagged as NaN.

    Raises InvalidInputError naming the column and what to do.
    """
    if len(y) == 0:
        raise InvalidInputError("The training data has no rows; AutoML needs at least 10.")
    present = y.notna()
    if not present.any():
        raise InvalidInputError(
            f"The target column {name!r} has no values: every one of its {len(y)} rows is "
            "missing. Fill it in or choose another target_column_name."
        )
    if int(present.sum()) < MIN_ROWS:
        raise InvalidInputError(
            f"The target column {name!r} has only {int(present.sum())} non-missing values; "
            f"AutoML needs at least {MIN_ROWS} rows to cross-validate."
        )
    if task == "classification":
        counts = y[present].astype(str).value_counts()
        if len(counts) < 2:
            raise InvalidInputError(
                f"The target column {name!r} has a single class ({_sample(counts.index)}) in all "
                f"{int(present.sum())} rows; classification needs at least two. Check the "
                "target column or the data."
            )
        values = y[present]
        if pd.api.types.is_float_dtype(values) and len(counts) > max(20, 0.2 * len(values)):
            numbers = values.to_numpy(dtype=float)
            if not np.all(np.isfinite(numbers) & (numbers == np.round(numbers))):
                raise InvalidInputError(
                    f"The target column {name!r} looks continuous: {len(counts)} distinct "
                    f"numbers in {len(values)} rows, such as {_sample(values.unique())}. "
                    "Use task='regression' (AutoMLRegressor) to predict numbers; "
                    "classification needs classes."
                )
    else:
        values = y[present]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            converted = pd.to_numeric(values, errors="coerce")
            bad = values[converted.isna()]
            if len(bad):
                raise InvalidInputError(
                    f"The target column {name!r} of a {task} task must be numeric, but it has "
                    f"values such as {_sample(bad.unique())}. Use task='classification' for "
                    "categories, or convert the column to numbers."
                )
            y = pd.to_numeric(y, errors="coerce")
        refuse_infinite_target(y, name)
        if float(np.nanstd(y.to_numpy(dtype=float))) == 0.0:
            raise InvalidInputError(
                f"The target column {name!r} is constant ({_plain(y[present].iloc[0])!r}); "
                "there is nothing to predict."
            )
    return y


def _leakage(X: pd.DataFrame, y: pd.Series, kinds: ColumnKinds, task: str) -> list[str]:
    """Columns that alone predict the target almost perfectly (ROC AUC or |Spearman| >= 0.99)."""
    from scipy.stats import spearmanr

    if len(X) > 20000:
        X = X.sample(20000, random_state=0)
        y = y.loc[X.index]
    found = []
    target = y.astype(str) if task == "classification" else y.astype(float)
    for column, kind in kinds.items():
        if kind not in (KIND_NUMERIC, KIND_CATEGORICAL, KIND_CATEGORICAL_HIGH):
            continue
        values = X[column]
        if kind == KIND_NUMERIC:
            numbers = pd.to_numeric(values, errors="coerce")
            ok = numbers.notna()
            if ok.sum() < 10:
                continue
            if task == "classification":
                from modelworks.automl.metrics import _binary_auc

                codes = pd.factorize(target[ok])[0]
                auc = _binary_auc(codes, numbers[ok].to_numpy()) if len(set(codes)) == 2 else 0.5
                rho = max(auc, 1 - auc) if np.isfinite(auc) else 0.0
            else:
                rho = abs(spearmanr(numbers[ok], target[ok]).statistic)
            if np.isfinite(rho) and rho >= 0.99:
                found.append(str(column))
        elif task == "classification":
            groups = pd.DataFrame({"v": values.astype(str), "t": target})
            n_groups = groups["v"].nunique()
            if n_groups >= len(groups) * 0.5:
                continue
            purity = groups.groupby("v")["t"].agg(lambda s: s.value_counts().iloc[0]).sum()
            if purity / len(groups) >= 0.99 and target.value_counts(normalize=True).max() < 0.95:
                found.append(str(column))
    return found


def report(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: str,
    kinds: ColumnKinds,
    target_name: str,
    dropped_target_rows: int = 0,
) -> list[Guardrail]:
    """What the data looks like and what AutoML does about it."""
    out: list[Guardrail] = []
    if dropped_target_rows:
        out.append(
            Guardrail(
                "Missing target values",
                "done",
                f"{dropped_target_rows} rows with a missing {target_name!r} were left out of "
                "training.",
            )
        )
    missing = [c for c in X.columns if kinds.get(str(c)) != KIND_DROP and X[c].isna().any()]
    out.append(
        Guardrail(
            "Missing feature values imputation",
            "done" if missing else "passed",
            (
                "Missing values in "
                + ", ".join(f"{c} ({int(X[c].isna().sum())})" for c in missing[:10])
                + ": imputed with the median (numbers, plus a missing-value indicator for "
                "linear models), kept as 'missing' for trees and categories."
            )
            if missing
            else "No missing values in the features.",
            tuple(str(c) for c in missing),
        )
    )
    if task == "classification":
        shares = y.astype(str).value_counts(normalize=True)
        minority, majority = float(shares.min()), float(shares.max())
        imbalanced = minority / majority < 0.2
        out.append(
            Guardrail(
                "Class balancing detection",
                "alerted" if imbalanced else "passed",
                (
                    f"The smallest class ({shares.idxmin()!r}) is {minority:.1%} of the rows "
                    f"against {majority:.1%} for the largest. Folds are stratified; prefer "
                    "AUC_weighted or average_precision_score_weighted over accuracy as the "
                    "primary metric."
                )
                if imbalanced
                else "The classes are balanced enough: "
                + ", ".join(f"{k!r} {v:.1%}" for k, v in shares.head(5).items()),
            )
        )
    high = kinds.of(KIND_CATEGORICAL_HIGH)
    id_like = [c for c in kinds.of(KIND_DROP) if "ID-like" in kinds.reasons.get(c, "")]
    out.append(
        Guardrail(
            "High cardinality feature detection",
            "done" if high or id_like else "passed",
            "; ".join(
                part
                for part in (
                    f"frequency- and target-encoded: {', '.join(high)}" if high else "",
                    f"dropped as ID-like: {', '.join(id_like)}" if id_like else "",
                )
                if part
            )
            or "No high-cardinality or ID-like columns.",
            tuple(high + id_like),
        )
    )
    constant = [
        c
        for c in kinds.of(KIND_DROP)
        if "constant" in kinds.reasons.get(c, "") or "all values" in kinds.reasons.get(c, "")
    ]
    out.append(
        Guardrail(
            "Constant and empty columns",
            "done" if constant else "passed",
            f"Dropped: {', '.join(constant)}." if constant else "No constant or empty columns.",
            tuple(constant),
        )
    )
    leaks = _leakage(X, y, kinds, task)
    out.append(
        Guardrail(
            "Target leakage",
            "alerted" if leaks else "passed",
            (
                f"{', '.join(leaks)} alone predict(s) {target_name!r} almost perfectly; make sure "
                "such a column is known at prediction time, or drop it (drop_columns)."
            )
            if leaks
            else "No single column predicts the target almost perfectly.",
            tuple(leaks),
        )
    )
    out.append(
        Guardrail(
            "Data size",
            "alerted" if len(X) < FEW_ROWS else "passed",
            f"Only {len(X)} rows: scores will vary a lot between folds; more data helps most."
            if len(X) < FEW_ROWS
            else f"{len(X)} rows, {X.shape[1]} columns.",
        )
    )
    return out


def announce(report: list[Guardrail], callbacks: list[Any] | None) -> None:
    """Tell the callbacks that have ``on_guardrails`` (a job's log view) before training."""
    for callback in callbacks or []:
        hook = getattr(callback, "on_guardrails", None)
        if hook is not None:
            hook(report)
