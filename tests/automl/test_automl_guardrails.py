"""Bad data is refused with a clear message before any trial runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks import Workspace
from modelworks.automl import AutoMLClassifier, AutoMLForecaster, AutoMLRegressor
from modelworks.automl.featurize import infer_column_kinds
from modelworks.automl.guardrails import report
from modelworks.errors import InvalidInputError


def _no_trials(ws: Workspace) -> None:
    assert not [r for r in ws.runs.search() if r.kind == "trial"]


def test_missing_target_column(tmp_path, cancer) -> None:
    X, _ = cancer
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InvalidInputError, match=r"target column 'label' is not in the training"):
        AutoMLClassifier(time_budget=5, verbose=0, workspace=ws).fit(X, "label")
    _no_trials(ws)


def test_single_class(tmp_path, cancer) -> None:
    X, _ = cancer
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InvalidInputError, match="single class"):
        AutoMLClassifier(time_budget=5, verbose=0, workspace=ws).fit(X, np.ones(len(X)))
    _no_trials(ws)


def test_all_missing_target(cancer) -> None:
    X, _ = cancer
    with pytest.raises(InvalidInputError, match="has no values"):
        AutoMLRegressor(time_budget=5, verbose=0).fit(X, np.full(len(X), np.nan))


def test_constant_regression_target_names_its_value(cancer) -> None:
    X, _ = cancer
    with pytest.raises(InvalidInputError, match=r"'target' is constant \(1\.0\)"):
        AutoMLRegressor(time_budget=5, verbose=0).fit(X, np.ones(len(X)))


def test_repeated_column_names_are_refused_by_name(tmp_path, cancer) -> None:
    X, y = cancer
    twice = pd.concat([X.iloc[:, :3], X.iloc[:, :1]], axis=1)  # pandas allows two 'mean radius'
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InvalidInputError, match=r"more than one column named \['mean radius'\]"):
        AutoMLClassifier(time_budget=5, verbose=0, workspace=ws).fit(twice, y)
    _no_trials(ws)


def test_infinite_regression_and_forecasting_targets(cancer, two_series) -> None:
    X, _ = cancer
    y = np.arange(len(X), dtype=float)
    y[7] = np.inf
    with pytest.raises(
        InvalidInputError, match=r"infinite values in 1 row\(s\) \(the first at position 7\)"
    ):
        AutoMLRegressor(time_budget=5, verbose=0).fit(X, y)
    sales = two_series["sales"].to_numpy(copy=True)
    sales[3] = -np.inf
    with pytest.raises(InvalidInputError, match="infinite values in 1 row"):
        AutoMLForecaster(time_column="month", horizon=3, time_budget=5, verbose=0).fit(
            two_series.assign(sales=sales), "sales"
        )


def test_a_continuous_target_given_to_a_classifier_says_to_regress(cancer) -> None:
    X, _ = cancer
    y = pd.Series(np.linspace(0.5, 9.5, len(X)), name="price")
    with pytest.raises(InvalidInputError, match=r"'price' looks continuous.*task='regression'"):
        AutoMLClassifier(time_budget=5, verbose=0).fit(X, y)
    many = np.where(np.arange(len(X)) < 40, np.arange(len(X)).astype(str), "common")
    with pytest.raises(
        InvalidInputError, match=r"'0', '1', '10', '11', '12', \.\.\. \(40 in all\)"
    ):
        AutoMLClassifier(time_budget=5, verbose=0).fit(X, many)


def test_non_numeric_regression_target(bank_small) -> None:
    with pytest.raises(InvalidInputError, match=r"must be numeric.*'(yes|no)'.*classification"):
        AutoMLRegressor(time_budget=5, verbose=0).fit(bank_small, "response")


def test_duplicate_time_within_a_series(two_series) -> None:
    data = pd.concat([two_series, two_series.iloc[[3]]], ignore_index=True)
    with pytest.raises(InvalidInputError, match=r"duplicate times within a series.*store='a'"):
        AutoMLForecaster(
            time_column="month", horizon=3, time_series_id_columns=["store"], verbose=0
        ).fit(data, "sales")


def test_horizon_longer_than_the_data(two_series) -> None:
    with pytest.raises(InvalidInputError, match=r"forecast_horizon 80 is longer than the data"):
        AutoMLForecaster(
            time_column="month", horizon=80, time_series_id_columns=["store"], verbose=0
        ).fit(two_series, "sales")


def test_bad_parameter_is_named_at_fit() -> None:
    clf = AutoMLClassifier(time_budget=-1)  # the constructor only stores
    with pytest.raises(InvalidInputError, match="'time_budget' parameter of AutoMLClassifier"):
        clf.fit(pd.DataFrame({"a": range(20)}), [0, 1] * 10)


def test_report_flags_imbalance_leakage_and_dropped_columns(bank_small) -> None:
    X = bank_small.drop(columns=["response"]).copy()
    y = bank_small["response"]
    X["leak"] = (y == "yes").astype(int) * 10 + np.arange(len(y)) % 3
    X["row_id"] = np.arange(len(X))
    X["constant"] = "same"
    kinds = infer_column_kinds(X)
    found = {g.name: g for g in report(X, y, task="classification", kinds=kinds, target_name="y")}
    assert found["Class balancing detection"].status == "alerted"
    assert "leak" in found["Target leakage"].columns
    assert "row_id" in found["High cardinality feature detection"].columns
    assert "constant" in found["Constant and empty columns"].columns
