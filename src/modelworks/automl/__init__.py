"""AutoML: hand it a table and a target, get back the best model it can find in the time given.

::

    from modelworks.automl import AutoMLClassifier
    clf = AutoMLClassifier(time_budget=60, metric="roc_auc").fit(X_train, y_train)
    clf.leaderboard_, clf.best_estimator_, clf.predict_proba(X_test), clf.explain(X_test.head())

Modules, top-down: ``estimators`` / ``forecasting`` (the sklearn-style API) and ``job``
(Azure ``type: automl`` specs) → ``_session`` (progress, run recording) → ``_tabular`` (one
run: guardrails, folds, search, ensembles, leaderboard) → ``search`` (portfolio + Optuna,
cost-aware, time-boxed) over an executor (``_executor``: worker processes running
``_trial``) → ``featurize``, ``learners``, ``portfolio``, ``metrics``, ``ensemble``, ``model``,
``explain``, ``charts``, ``guardrails``. Names are imported lazily, so importing this package
loads neither pandas nor scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelworks.automl.estimators import AutoMLClassifier, AutoMLRegressor
    from modelworks.automl.forecasting import AutoMLForecaster
    from modelworks.automl.job import run_automl_job

__all__ = ["AutoMLClassifier", "AutoMLForecaster", "AutoMLRegressor", "run_automl_job"]

_WHERE = {
    "AutoMLClassifier": "modelworks.automl.estimators",
    "AutoMLRegressor": "modelworks.automl.estimators",
    "AutoMLForecaster": "modelworks.automl.forecasting",
    "run_automl_job": "modelworks.automl.job",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'modelworks.automl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
