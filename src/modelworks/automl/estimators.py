"""``AutoMLClassifier`` and ``AutoMLRegressor``: AutoML as scikit-learn estimators.

Constructors only store their arguments; ``fit`` checks them, runs the search and returns
``self``; what was learned ends in ``_``::

    clf = AutoMLClassifier(time_budget=60, metric="roc_auc").fit(X_train, y_train)
    clf.leaderboard_            # every trial and ensemble, best first
    clf.best_estimator_         # an AutoMLModel: featurization + model(s), one estimator
    clf.predict_proba(X_test)
    clf.explain(X_test.head())  # per-row contributions and global importance

With ``workspace=`` the run is recorded — a parent run of kind ``automl`` with one child run
(kind ``trial``) per trial — and ``register_model="name"`` registers the best model.
``compute=`` sends the trials to a Ray cluster (an address such as ``"host:6379"`` or
``"ray://host:10001"``, or the name of a Ray compute registered in ``workspace``); by default
they run in local worker processes.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from modelworks.automl.settings import AutoMLSettings
from modelworks.errors import InvalidInputError

__all__ = ["AutoMLClassifier", "AutoMLRegressor"]


class _AutoMLBase(BaseEstimator):
    _task: ClassVar[str] = "classification"

    def __init__(
        self,
        *,
        time_budget: float = 60.0,
        metric: str | None = None,
        max_trials: int | None = None,
        n_jobs: int | None = None,
        trial_timeout: float | None = None,
        n_cross_validations: int | str = "auto",
        validation_size: float | None = None,
        allowed_learners: list[str] | None = None,
        blocked_learners: list[str] | None = None,
        enable_vote_ensemble: bool = True,
        enable_stack_ensemble: bool = False,
        enable_early_termination: bool = True,
        enable_onnx_compatible_models: bool = False,
        exit_score: float | None = None,
        featurization: str = "auto",
        column_purposes: dict[str, str] | None = None,
        drop_columns: list[str] | None = None,
        blocked_transformers: list[str] | None = None,
        random_state: int = 0,
        verbose: int = 1,
        workspace: Any = None,
        experiment: str = "automl",
        register_model: str | None = None,
        compute: str | None = None,
    ) -> None:
        self.time_budget = time_budget
        self.metric = metric
        self.max_trials = max_trials
        self.n_jobs = n_jobs
        self.trial_timeout = trial_timeout
        self.n_cross_validations = n_cross_validations
        self.validation_size = validation_size
        self.allowed_learners = allowed_learners
        self.blocked_learners = blocked_learners
        self.enable_vote_ensemble = enable_vote_ensemble
        self.enable_stack_ensemble = enable_stack_ensemble
        self.enable_early_termination = enable_early_termination
        self.enable_onnx_compatible_models = enable_onnx_compatible_models
        self.exit_score = exit_score
        self.featurization = featurization
        self.column_purposes = column_purposes
        self.drop_columns = drop_columns
        self.blocked_transformers = blocked_transformers
        self.random_state = random_state
        self.verbose = verbose
        self.workspace = workspace
        self.experiment = experiment
        self.register_model = register_model
        self.compute = compute

    def _settings(self) -> AutoMLSettings:
        from modelworks.automl._executor import trial_compute

        address, config = trial_compute(self.compute, self.workspace)
        return AutoMLSettings(
            task=self._task,
            primary_metric=self.metric,
            time_budget=self.time_budget,
            max_trials=self.max_trials,
            n_jobs=self.n_jobs,
            trial_timeout=self.trial_timeout,
            enable_early_termination=self.enable_early_termination,
            exit_score=self.exit_score,
            n_cross_validations=self.n_cross_validations,
            validation_size=self.validation_size,
            allowed_learners=self.allowed_learners,
            blocked_learners=self.blocked_learners,
            enable_vote_ensemble=self.enable_vote_ensemble,
            enable_stack_ensemble=self.enable_stack_ensemble,
            enable_onnx_compatible_models=self.enable_onnx_compatible_models,
            featurization=self.featurization,
            column_purposes=self.column_purposes,
            drop_columns=self.drop_columns,
            blocked_transformers=self.blocked_transformers,
            random_state=self.random_state,
            verbose=self.verbose,
            owner=type(self).__name__,
            compute=address,
            compute_config=config,
        )

    def fit(
        self, X: Any, y: Any = None, *, X_valid: Any = None, y_valid: Any = None
    ) -> _AutoMLBase:
        """Search for the best model within ``time_budget`` seconds; returns self.

        ``y`` is the target values, or the name of a column of ``X``. ``X_valid``/``y_valid``
        replace cross-validation by that validation set.
        """
        from modelworks.automl._session import AutoMLSession

        started = time.time()
        settings = self._settings().check()
        session = AutoMLSession(
            settings,
            workspace=self.workspace,
            experiment=self.experiment,
            register_model=self.register_model,
        )
        outcome = session.run_tabular(X, y, X_valid=X_valid, y_valid=y_valid, started=started)
        self._set_fitted(outcome, session)
        return self

    def _set_fitted(self, outcome: Any, session: Any) -> None:
        self.outcome_ = outcome
        self.best_estimator_ = outcome.model
        self.leaderboard_ = outcome.leaderboard
        self.best_score_ = outcome.best_score
        self.best_model_name_ = outcome.best_name
        self.metric_ = outcome.metric.name
        self.metrics_ = outcome.metrics
        self.guardrails_ = pd.DataFrame([g.to_dict() for g in outcome.guardrails])
        self.column_kinds_ = dict(outcome.kinds)
        self.trials_ = outcome.trials
        self.stop_reason_ = outcome.stop_reason
        self.fit_time_ = outcome.fit_time
        self.feature_names_in_ = np.asarray(outcome.model.columns, dtype=object)
        self.n_features_in_ = len(outcome.model.columns or [])
        self.run_id_ = session.run_id
        self.registered_model_ = session.registered_model

    def _check_fitted(self) -> None:
        if not hasattr(self, "best_estimator_"):
            raise InvalidInputError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) first."
            )

    def predict(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.best_estimator_.predict(X))

    def score(self, X: Any, y: Any) -> float:
        """The primary metric on (X, y)."""
        from modelworks.automl.metrics import get_metric

        self._check_fitted()
        metric = get_metric(self.metric_, self._task)
        raw = self.best_estimator_.predict_raw(X)
        target = np.asarray(y)
        if self._task == "classification":
            lookup = {c: i for i, c in enumerate(self.best_estimator_.classes)}
            target = np.asarray([lookup[v] for v in target])
        return metric(target, raw, **self.outcome_.metric_context)

    def explain(self, X: Any, *, max_rows: int = 1000) -> Any:
        """Per-row feature contributions and global importance for ``X`` (see
        :class:`~modelworks.automl.explain.Explanation`)."""
        from modelworks.automl.explain import explain

        self._check_fitted()
        return explain(self.best_estimator_, X, max_rows=max_rows)

    def save_charts(self, folder: str) -> list[str]:
        """Write the run's charts (PNG) into ``folder``; returns their paths."""
        from modelworks.automl.charts import save_charts

        self._check_fitted()
        return save_charts(self.outcome_, folder)


class AutoMLClassifier(_AutoMLBase):
    """Finds the best classifier for a table within a time budget (Azure's default primary
    metric, ``accuracy``, unless ``metric`` names another: 'roc_auc', 'log_loss', ...)."""

    _task = "classification"

    def predict_proba(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.best_estimator_.predict_proba(X))

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.best_estimator_.classes)


class AutoMLRegressor(_AutoMLBase):
    """Finds the best regressor for a table within a time budget (primary metric
    ``normalized_root_mean_squared_error`` unless ``metric`` names another: 'r2', 'rmse')."""

    _task = "regression"
