"""Train a gradient-boosting classifier on the bank-marketing table (the job's script).

Runs unchanged as a modelworks job or locally::

    python train.py --data ../../../src/modelworks/datasets/bank_marketing/bankmarketing_train.csv.gz \
        --learning-rate 0.1 --max-depth 4 --model-output ./model

It logs the validation AUC after every 10 boosting iterations (``step``), so a sweep's
early-termination policy can stop weak trials, and writes the model in the MLflow format to
``--model-output`` (registered as a model when the job's output names one).
"""

from __future__ import annotations

import argparse
import os

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import modelworks as mw


def read_table(path: str) -> pd.DataFrame:
    """A csv(.gz) file, or a folder (an mltable / uri_folder input) holding one."""
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.endswith((".csv", ".csv.gz")))
        path = os.path.join(path, files[0])
    return pd.read_csv(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--rows", type=int, default=0, help="use a sample of this many rows")
    parser.add_argument("--model-output", default="outputs/model")
    args = parser.parse_args()

    frame = read_table(args.data)
    if args.rows:
        frame = frame.sample(n=min(args.rows, len(frame)), random_state=0)
    y = (frame.pop("response") == "yes").astype(int)
    x = pd.get_dummies(frame, drop_first=True).astype(float)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    mw.log_params({"learning_rate": args.learning_rate, "max_depth": args.max_depth})
    model = HistGradientBoostingClassifier(
        learning_rate=args.learning_rate,
        max_depth=args.max_depth,
        max_iter=10,
        warm_start=True,
        early_stopping=False,
        random_state=0,
    )
    for step, iterations in enumerate(range(10, args.iterations + 1, 10)):
        model.set_params(max_iter=iterations)
        model.fit(x_train, y_train)
        auc = roc_auc_score(y_val, model.predict_proba(x_val)[:, 1])
        mw.log_metric("val_auc", auc, step=step)
        print(f"iterations={iterations} val_auc={auc:.4f}", flush=True)
    from modelworks.registry import save_model

    save_model(model, args.model_output, input_example=x_val.head(3))
    print("model written to", args.model_output)


if __name__ == "__main__":
    main()
