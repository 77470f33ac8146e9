"""Deploy: the production model behind the online endpoint --endpoint (created on first use),
then one scoring request through its key to check it answers."""

import argparse
import os
from pathlib import Path

import httpx
import pandas as pd

import modelworks as mw
from modelworks.datasets import bank_marketing_path
from modelworks.errors import ConflictError

parser = argparse.ArgumentParser()
parser.add_argument("--registered", required=True)
parser.add_argument("--endpoint", default="bank-pipeline")
args = parser.parse_args()

model = Path(args.registered).read_text().strip()
ws = mw.Workspace(os.environ["MODELWORKS_WORKSPACE"])
endpoint = ws.online_endpoints.begin_create_or_update(
    {"name": args.endpoint, "auth_mode": "key"}
).result()
ws.online_deployments.begin_create_or_update(
    {"name": "blue", "endpoint_name": args.endpoint, "model": model},
    all_traffic=True,
).result()
try:
    key = ws.online_endpoints.get_keys(args.endpoint)["primaryKey"]
except ConflictError:  # keys are shown once; a later deploy makes a new one to test with
    key = ws.online_endpoints.regenerate_keys(args.endpoint, key_type="secondary")["secondaryKey"]
sample = pd.read_csv(bank_marketing_path()).drop(columns=["response", "duration"]).head(3)
body = {
    "input_data": {
        "columns": list(sample.columns),
        "data": sample.astype(object).where(sample.notna(), None).values.tolist(),
    }
}
answer = httpx.post(
    endpoint.scoring_uri, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
)
answer.raise_for_status()
print(f"deployed {model} to {endpoint.scoring_uri}: {answer.json()}")
