"""Prep: the bank-marketing table (the copy bundled with modelworks unless --raw is given),
a sample of --rows rows, the leaky ``duration`` column dropped, a stratified 80/20 split."""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from modelworks.datasets import bank_marketing_path

parser = argparse.ArgumentParser()
parser.add_argument("--raw", default=None)
parser.add_argument("--rows", type=int, default=10000)
parser.add_argument("--out", required=True)
args = parser.parse_args()

frame = pd.read_csv(args.raw or bank_marketing_path())
frame = frame.drop(columns=["duration"]).sample(n=min(args.rows, len(frame)), random_state=0)
train, test = train_test_split(frame, test_size=0.2, stratify=frame["response"], random_state=0)
out = Path(args.out)
train.to_csv(out / "train.csv", index=False)
test.to_csv(out / "test.csv", index=False)
print(f"{len(train)} training rows, {len(test)} test rows")
