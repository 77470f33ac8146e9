"""Charts of an AutoML run, as PNG files: what Azure's studio shows for the best model.

Classification: ROC, precision-recall, calibration and confusion matrix; regression:
predicted vs true and residuals; forecasting: forecast vs actual. They are drawn from the
out-of-fold predictions (cross-validated, so honest) with matplotlib's Agg backend (no
display needed). matplotlib comes with the ``modelworks[automl]`` extra.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from modelworks.errors import MissingDependencyError

__all__ = ["save_charts"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise MissingDependencyError(
            "Charts need matplotlib: pip install 'modelworks[automl]'."
        ) from e
    return plt


def _save(plt: Any, fig: Any, folder: str, name: str, out: list[str]) -> None:
    path = os.path.join(folder, name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    out.append(path)


def _classification(
    plt: Any, y: np.ndarray, proba: np.ndarray, classes: list[Any], folder: str
) -> list[str]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    out: list[str] = []
    shown = [1] if proba.shape[1] == 2 else list(range(min(proba.shape[1], 8)))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k in shown:
        if (y == k).any() and (y != k).any():
            fpr, tpr, _ = roc_curve(y == k, proba[:, k])
            ax.plot(fpr, tpr, label=str(classes[k]))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    _save(plt, fig, folder, "roc.png", out)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k in shown:
        if (y == k).any():
            precision, recall, _ = precision_recall_curve(y == k, proba[:, k])
            ax.plot(recall, precision, label=str(classes[k]))
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="lower left", fontsize=8)
    _save(plt, fig, folder, "precision_recall.png", out)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for k in shown:
        if (y == k).any() and (y != k).any():
            true, pred = calibration_curve(y == k, proba[:, k], n_bins=10, strategy="quantile")
            ax.plot(pred, true, marker="o", label=str(classes[k]))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="mean predicted probability", ylabel="fraction positive", title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    _save(plt, fig, folder, "calibration.png", out)
    matrix = confusion_matrix(y, proba.argmax(axis=1), labels=list(range(proba.shape[1])))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    labels = [str(c) for c in classes]
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    _save(plt, fig, folder, "confusion_matrix.png", out)
    return out


def _regression(plt: Any, y: np.ndarray, pred: np.ndarray, folder: str) -> list[str]:
    out: list[str] = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(y, pred, s=6, alpha=0.4)
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([low, high], [low, high], "k--", lw=0.8)
    ax.set(xlabel="true", ylabel="predicted", title="Predicted vs true")
    _save(plt, fig, folder, "predicted_vs_true.png", out)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.hist(y - pred, bins=40)
    ax.set(xlabel="residual (true - predicted)", ylabel="rows", title="Residuals")
    _save(plt, fig, folder, "residuals.png", out)
    return out


def forecast_chart(
    history: Any, actual: Any, forecast: Any, folder: str, *, title: str = "Forecast vs actual"
) -> str:
    """One chart of the last history, the held-out actuals and the forecast (Series by time)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(history.index, history.to_numpy(), label="history", color="grey")
    ax.plot(actual.index, actual.to_numpy(), label="actual", color="black")
    ax.plot(forecast.index, forecast.to_numpy(), label="forecast", color="tab:blue")
    ax.set(title=title)
    ax.legend(fontsize=8)
    out: list[str] = []
    _save(plt, fig, folder, "forecast_vs_actual.png", out)
    return out[0]


def save_charts(outcome: Any, folder: str) -> list[str]:
    """Draw the charts for ``outcome`` (an AutoML outcome) into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    if getattr(outcome, "task", "") == "forecasting":
        return list(outcome.save_charts(folder))
    plt = _pyplot()
    rows = outcome.rows
    y = np.asarray(outcome.y)[rows]
    pred = np.asarray(outcome.oof)[rows]
    if outcome.task == "classification":
        return _classification(plt, y.astype(int), pred, list(outcome.classes or []), folder)
    return _regression(plt, y.astype(float), pred.astype(float), folder)
