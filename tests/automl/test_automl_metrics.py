from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from modelworks.automl.metrics import compute_metrics, get_metric, metric_names
from modelworks.errors import InvalidInputError


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1, allow_nan=False)), min_size=4, max_size=60)
)
def test_binary_auc_matches_scikit_learn(pairs: list[tuple[bool, float]]) -> None:
    y = np.asarray([int(a) for a, _ in pairs])
    p = np.asarray([b for _, b in pairs])
    proba = np.column_stack([1 - p, p])
    ours = get_metric("roc_auc", "classification")(y, proba)
    if len(set(y)) < 2:
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(skm.roc_auc_score(y, p))


def test_classification_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet(np.ones(3), 200)
    found = compute_metrics("classification", y, proba)
    pred = proba.argmax(axis=1)
    assert found["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert found["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert found["AUC_weighted"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    )
    assert found["AUC_macro"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert found["f1_score_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert found["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert found["matthews_correlation"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert set(found) == set(metric_names("classification"))


def test_regression_and_forecasting_metrics() -> None:
    y = np.asarray([1.0, 2.0, 4.0, 8.0])
    p = np.asarray([1.5, 2.0, 3.0, 9.0])
    found = compute_metrics("forecasting", y, p)
    assert found["r2_score"] == pytest.approx(skm.r2_score(y, p))
    assert found["root_mean_squared_error"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(y, p))
    )
    assert found["normalized_root_mean_squared_error"] == pytest.approx(
        found["root_mean_squared_error"] / 7.0
    )
    assert found["mean_absolute_percentage_error"] == pytest.approx(
        100 * skm.mean_absolute_percentage_error(y, p)
    )
    assert found["symmetric_mean_absolute_percentage_error"] > 0
    assert found["mean_absolute_scaled_error"] == pytest.approx(0.625 / (7 / 3))


def test_losses_order_models_the_same_way_as_scores() -> None:
    r2 = get_metric("r2", "regression")
    rmse = get_metric("rmse", "regression")
    assert r2.to_loss(0.9) < r2.to_loss(0.5)
    assert rmse.to_loss(1.0) < rmse.to_loss(2.0)
    assert r2.from_loss(r2.to_loss(0.7)) == pytest.approx(0.7)


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"not a regression metric.*r2_score"):
        get_metric("accuracy", "regression")
