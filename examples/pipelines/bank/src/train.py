"""Train: one-hot categories + histogram gradient boosting, saved in the MLflow model format."""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from modelworks.registry import save_model

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--learning_rate", type=float, default=0.1)
parser.add_argument("--max_iter", type=int, default=100)
parser.add_argument("--out", required=True)
args = parser.parse_args()

frame = pd.read_csv(Path(args.data) / "train.csv")
X, y = frame.drop(columns=["response"]), frame["response"]
categorical = list(X.select_dtypes(exclude="number").columns)
model = Pipeline(
    [
        (
            "encode",
            ColumnTransformer(
                [("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)],
                remainder="passthrough",
            ),
        ),
        (
            "boost",
            HistGradientBoostingClassifier(
                learning_rate=args.learning_rate, max_iter=args.max_iter, random_state=0
            ),
        ),
    ]
).fit(X, y)
save_model(model, Path(args.out) / "model", input_example=X.head())
print(f"trained on {len(X)} rows")
