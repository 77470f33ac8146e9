"""The deployable AutoML model: featurization and model(s) as one scikit-learn estimator.

:class:`AutoMLModel` is what ``best_estimator_`` is and what gets registered: it checks and
orders the input columns, runs each member — a trial's cross-validation fold pipelines
(featurizer + model), averaged, as AutoGluon's bagging does, so no refit is needed after the
search — and combines the members with the ensemble's weights or its stacking meta-model.
It is a scikit-learn ``BaseEstimator``, so the registry saves it with the sklearn flavor and
it loads with ``modelworks.registry.load_model`` (or ``mlflow.sklearn``, with modelworks
installed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from modelworks.errors import InvalidInputError

__all__ = ["AutoMLModel", "BaggedModel", "as_frame"]


def as_frame(X: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a dict of columns, a list of row dicts or a 2-D array."""
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, pd.Series):
        frame = X.to_frame().T if columns and X.name not in columns else X.to_frame()
    elif isinstance(X, dict):
        frame = pd.DataFrame({k: np.atleast_1d(v) for k, v in X.items()})
    elif isinstance(X, list) and X and isinstance(X[0], dict):
        frame = pd.DataFrame(X)
    else:
        array = np.asarray(X, dtype=object)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if columns is None or array.shape[1] != len(columns):
            raise InvalidInputError(
                f"Expected a table with the columns {columns}; got an array of shape "
                f"{array.shape}. Pass a pandas DataFrame with those column names."
            )
        frame = pd.DataFrame(array, columns=columns).infer_objects()
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    repeated = sorted(frame.columns[frame.columns.duplicated()].unique())
    if repeated:
        raise InvalidInputError(
            f"The table has more than one column named {repeated}; column names must be "
            "unique. Rename or drop the repeated columns."
        )
    return frame


class BaggedModel(BaseEstimator):
    """One trial's fold pipelines; predictions are their average."""

    def __init__(
        self,
        pipelines: list[Any] | None = None,
        *,
        task: str = "classification",
        n_classes: int = 2,
        learner: str = "",
    ) -> None:
        self.pipelines = pipelines
        self.task = task
        self.n_classes = n_classes
        self.learner = learner

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        from modelworks.automl._trial import predict_matrix

        preds = [predict_matrix(p, X, self.task, self.n_classes) for p in (self.pipelines or [])]
        return np.mean(preds, axis=0)


class AutoMLModel(BaseEstimator):
    """The best model an AutoML run found: members, their weights (or a stacking meta-model),
    the task, the class labels and the input columns it expects."""

    def __init__(
        self,
        members: list[BaggedModel] | None = None,
        weights: list[float] | None = None,
        *,
        task: str = "classification",
        classes: list[Any] | None = None,
        columns: list[str] | None = None,
        meta: Any = None,
        name: str = "",
    ) -> None:
        self.members = members
        self.weights = weights
        self.task = task
        self.classes = classes
        self.columns = columns
        self.meta = meta
        self.name = name

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes if self.classes is not None else [])

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self.columns or [], dtype=object)

    def _frame(self, X: Any) -> pd.DataFrame:
        frame = as_frame(X, self.columns)
        missing = [c for c in (self.columns or []) if c not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"The input lacks the column(s) {missing} that this model was trained on; "
                f"it expects {self.columns}."
            )
        return frame[self.columns] if self.columns else frame

    def predict_raw(self, X: Any) -> np.ndarray:
        """Class probabilities (classification) or predicted values, before label decoding."""
        frame = self._frame(X)
        members = self.members or []
        preds = [m.predict_raw(frame) for m in members]
        if self.meta is not None:
            return np.asarray(self.meta.predict(preds))
        weights = self.weights or [1.0 / len(members)] * len(members)
        return np.asarray(sum(w * p for w, p in zip(weights, preds, strict=True)))

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.task != "classification":
            raise InvalidInputError(
                f"predict_proba is for classification; this is a {self.task} model. "
                "Call predict instead."
            )
        return self.predict_raw(X)

    def predict(self, X: Any) -> np.ndarray:
        raw = self.predict_raw(X)
        if self.task == "classification":
            return self.classes_[np.argmax(raw, axis=1)]
        return raw

    def __repr__(self) -> str:
        members = ", ".join(m.learner for m in self.members or [])
        return f"AutoMLModel({self.name or self.task}: {members})"
