"""AutoML on bank marketing, split by split: held-out ROC AUC of modelworks (60 s) against
LightGBM with default parameters, with a paired bootstrap of the test rows, and the whole
leaderboard of each run (which learners ran, how long, how good).

The splits are ``benchmarks/automl.py``'s (stratified 75/25 of the bundled
``bankmarketing_train.csv.gz``, ``random_state`` = seed); seed 0 is the issue's split, where the
target is ROC AUC >= 0.955. Other seeds show how much of a number is the split's.

    .venv/bin/python benchmarks/automl_bank.py                      # seed 0 with its leaderboard
    .venv/bin/python benchmarks/automl_bank.py --seeds 0 1 2 3 4    # five splits, mean and spread
    .venv/bin/python benchmarks/automl_bank.py --extra '{"allowed_learners": ["LightGBM"]}'

``--extra`` is JSON of extra ``AutoMLClassifier`` keyword arguments.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from modelworks.automl import AutoMLClassifier

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src/modelworks/datasets/bank_marketing/bankmarketing_train.csv.gz"
TARGET = 0.955
BOOTSTRAPS = 300


def split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.read_csv(DATA).reset_index(drop=True)
    train, test = train_test_split(
        frame, test_size=0.25, random_state=seed, stratify=frame["response"]
    )
    return train, test


def lightgbm_defaults(X: pd.DataFrame, y: pd.Series, Xt: pd.DataFrame) -> np.ndarray:
    """LightGBM as ``benchmarks/automl.py`` runs it: defaults, text columns as categories."""
    both = pd.concat([X, Xt])
    for column in both.columns:
        if not pd.api.types.is_numeric_dtype(both[column]):
            both[column] = both[column].astype(str).astype("category")
    model = lgb.LGBMClassifier(n_jobs=2, verbose=-1).fit(both.iloc[: len(X)], y == "yes")
    return np.asarray(model.predict_proba(both.iloc[len(X) :])[:, 1])


def bootstrap(
    truth: np.ndarray, ours: np.ndarray, theirs: np.ndarray, seed: int
) -> tuple[float, float]:
    """Spread of our AUC and of our lead, resampling the same test rows for both."""
    rng = np.random.default_rng(seed)
    aucs, leads = [], []
    for _ in range(BOOTSTRAPS):
        rows = rng.integers(0, len(truth), len(truth))
        ours_auc = roc_auc_score(truth[rows], ours[rows])
        aucs.append(ours_auc)
        leads.append(ours_auc - roc_auc_score(truth[rows], theirs[rows]))
    return float(np.std(aucs)), float(np.std(leads))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--extra", default="{}", help="JSON of AutoMLClassifier keyword arguments")
    args = parser.parse_args()
    extra = json.loads(args.extra)
    rows = []
    for seed in args.seeds:
        train, test = split(seed)
        X, y = train.drop(columns=["response"]), train["response"].astype(str)
        Xt, truth = test.drop(columns=["response"]), (test["response"] == "yes").to_numpy()
        theirs = lightgbm_defaults(X, y, Xt)
        started = time.perf_counter()
        model = AutoMLClassifier(
            time_budget=args.budget, metric="AUC_weighted", n_jobs=2, verbose=0, **extra
        ).fit(X, y)
        fit = time.perf_counter() - started
        ours = model.predict_proba(Xt)[:, list(model.classes_).index("yes")]
        auc, lgbm = roc_auc_score(truth, ours), roc_auc_score(truth, theirs)
        auc_sd, lead_sd = bootstrap(truth, ours, theirs, seed)
        rows.append((seed, auc, lgbm))
        print(
            f"seed {seed}: modelworks {auc:.4f} (bootstrap sd {auc_sd:.4f}), LightGBM defaults "
            f"{lgbm:.4f}, lead {auc - lgbm:+.4f} (sd {lead_sd:.4f}), fit {fit:.1f} s "
            f"({fit / args.budget:.2f} x budget), best {model.best_model_name_}",
            flush=True,
        )
        if len(args.seeds) == 1:
            board = model.leaderboard_
            with pd.option_context(
                "display.width", 250, "display.max_rows", 200, "display.max_columns", 20
            ):
                print(board.drop(columns=[c for c in ("error", "params") if c in board.columns]))
    if len(rows) > 1:
        ours_all = np.asarray([r[1] for r in rows])
        lgbm_all = np.asarray([r[2] for r in rows])
        print(
            f"mean over {len(rows)} splits: modelworks {ours_all.mean():.4f} "
            f"(min {ours_all.min():.4f}, max {ours_all.max():.4f}), LightGBM defaults "
            f"{lgbm_all.mean():.4f}, lead {np.mean(ours_all - lgbm_all):+.4f}, "
            f"ahead on {int(np.sum(ours_all > lgbm_all))}/{len(rows)}"
        )
    if 0 in args.seeds:
        auc0 = next(r[1] for r in rows if r[0] == 0)
        print(
            f"issue's split (seed 0): {auc0:.4f}, target {TARGET}: {'met' if auc0 >= TARGET else 'not met'}"
        )


if __name__ == "__main__":
    main()
