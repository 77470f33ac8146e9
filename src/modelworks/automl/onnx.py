"""ONNX export of an AutoML result (``enable_onnx_compatible_models``).

The search then uses only learners skl2onnx converts (forests, linear models, kNN, MLP).
Our own featurizer has no ONNX converter, so the exported model is the best ONNX-compatible
trial's learner and parameters refitted on all the training rows behind standard
scikit-learn featurization (median imputation + scaling for numbers, one-hot for the other
columns), converted with skl2onnx and logged as ``onnx/model.onnx`` on the AutoML run. It
needs the ``modelworks[onnx]`` extra.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from modelworks.errors import MissingDependencyError

__all__ = ["build_onnx_pipeline", "log_onnx_model", "onnx_inputs"]


def build_onnx_pipeline(outcome: Any) -> tuple[Any, Any]:
    """(the refitted scikit-learn Pipeline, its ONNX model) for the best compatible trial."""
    try:
        from skl2onnx import to_onnx
    except ImportError as e:
        raise MissingDependencyError(
            "ONNX export needs skl2onnx: pip install 'modelworks[onnx]'."
        ) from e
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from modelworks.automl.learners import LEARNERS, FitContext

    trials = [
        r
        for r in outcome.trials
        if r.status == "completed" and LEARNERS[r.learner].onnx and r.learner != "KNN"
    ]
    best = min(trials, key=lambda r: r.loss)
    X: pd.DataFrame = outcome.train_X.copy()
    kinds = outcome.kinds
    numeric = [c for c in X.columns if kinds.get(c) == "numeric"]
    other = [c for c in X.columns if kinds.get(c) in ("categorical", "categorical_high")]
    for column in numeric:
        X[column] = pd.to_numeric(X[column], errors="coerce").astype(np.float32)
    for column in other:
        X[column] = X[column].astype(str)
    X = X[numeric + other]
    prepare = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", max_categories=64), other),
        ],
        sparse_threshold=0.0,
    )
    learner = LEARNERS[best.learner]
    ctx = FitContext(
        task=outcome.task,
        n_classes=len(outcome.classes or []),
        n_rows=len(X),
        n_features=X.shape[1],
    )
    # ONNX-compatible runs never try the log-scale target, so the parameters build as they are.
    estimator = learner.build(dict(best.params), ctx)
    pipeline = Pipeline([("prepare", prepare), ("model", estimator)])
    pipeline.fit(X, outcome.train_y)
    onnx_model = to_onnx(pipeline, X[:1], target_opset=17)
    return pipeline, onnx_model


def log_onnx_model(ws: Any, run_id: str, outcome: Any, input_example: Any) -> None:
    """Refit, convert and log ``onnx/model.onnx``; a failure is a tag, not a lost run."""
    try:
        _, onnx_model = build_onnx_pipeline(outcome)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            with open(path, "wb") as fh:
                fh.write(onnx_model.SerializeToString())
            ws.runs.log_artifact(run_id, path, "onnx")
        ws.runs.set_tag(run_id, "mw.automl.onnx", "onnx/model.onnx")
    except Exception as e:  # noqa: BLE001 - the main model is already logged
        ws.runs.set_tag(run_id, "mw.automl.onnx_error", f"{type(e).__name__}: {e}"[:500])


def onnx_inputs(session: Any, frame: Any) -> dict[str, Any]:
    """The feed for an exported model: one (n, 1) array per input column, typed as it expects
    (skl2onnx names inputs after the columns, with other characters than [0-9A-Za-z_] as _)."""
    import re

    by_name = {re.sub(r"[^0-9A-Za-z_]", "_", str(c)): c for c in frame.columns}
    feed = {}
    for spec in session.get_inputs():
        values = frame[spec.name if spec.name in frame.columns else by_name[spec.name]]
        if "string" in spec.type:
            feed[spec.name] = values.astype(str).to_numpy().reshape(-1, 1)
        else:
            feed[spec.name] = values.to_numpy(dtype=np.float32).reshape(-1, 1)
    return feed
