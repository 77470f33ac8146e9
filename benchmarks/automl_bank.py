"""One AutoML run on the bank-marketing split of ``benchmarks/automl.py`` (run that once first:
it writes ``benchmarks/.data-automl/bank_marketing``), printing the held-out ROC AUC and the
whole leaderboard, to see where the 60 s go (which learners ran, how long, how good).

    .venv/bin/python benchmarks/automl_bank.py
    .venv/bin/python benchmarks/automl_bank.py '{"allowed_learners": ["LightGBM", "CatBoost"]}'

The optional argument is JSON of extra ``AutoMLClassifier`` keyword arguments.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from modelworks.automl import AutoMLClassifier

SPLIT = Path(__file__).resolve().parent / ".data-automl" / "bank_marketing"


def main() -> None:
    if not (SPLIT / "train.parquet").exists():
        raise SystemExit(f"{SPLIT} is missing: run benchmarks/automl.py --quick once first.")
    train = pd.read_parquet(SPLIT / "train.parquet")
    test = pd.read_parquet(SPLIT / "test.parquet")
    X, y = train.drop(columns=["response"]), train["response"].astype(str)
    Xt, yt = test.drop(columns=["response"]), test["response"].astype(str)
    extra = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    started = time.perf_counter()
    model = AutoMLClassifier(
        time_budget=60, metric="AUC_weighted", n_jobs=2, verbose=0, **extra
    ).fit(X, y)
    fit = time.perf_counter() - started
    proba = model.predict_proba(Xt)[:, list(model.classes_).index("yes")]
    auc = roc_auc_score(yt == "yes", proba)
    print(
        f"fit {fit:.1f} s, held-out ROC AUC {auc:.5f} (target 0.955), best {model.best_model_name_}"
    )
    board = model.leaderboard_
    with pd.option_context(
        "display.width", 250, "display.max_rows", 200, "display.max_columns", 20
    ):
        print(board.drop(columns=[c for c in ("error", "params") if c in board.columns]))


if __name__ == "__main__":
    main()
