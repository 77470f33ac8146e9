"""Evaluate: test AUC of the new model, compared with the current bank-clf@production (its
``auc`` tag); writes is_better (true when there is no production model yet, or the new AUC
beats it by --margin) and the AUC itself."""

import argparse
import os
import pickle
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

import modelworks as mw
from modelworks.errors import NotFoundError

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--model_name", default="bank-clf")
parser.add_argument("--margin", type=float, default=0.002)
parser.add_argument("--is_better", required=True)
parser.add_argument("--auc", required=True)
args = parser.parse_args()

with open(Path(args.model) / "model" / "model.pkl", "rb") as handle:
    model = pickle.load(handle)
test = pd.read_csv(Path(args.data) / "test.csv")
scores = model.predict_proba(test.drop(columns=["response"]))[:, 1]
auc = float(roc_auc_score(test["response"] == "yes", scores))
mw.log_metric("auc", auc)

ws = mw.Workspace(os.environ["MODELWORKS_WORKSPACE"])
try:
    production = ws.models.get(f"{args.model_name}@production")
    current = float(production.tags.get("auc", "nan"))
except NotFoundError:
    current = float("nan")
better = current != current or auc > current + args.margin  # NaN: no production model yet
print(f"new AUC {auc:.4f}; production AUC {current:.4f}; better by {args.margin}: {better}")
Path(args.is_better).write_text("true" if better else "false")
Path(args.auc).write_text(f"{auc:.6f}")
