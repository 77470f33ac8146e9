"""Register: the new model as the next bank-clf version, tagged with its AUC, and point the
``production`` alias at it."""

import argparse
import os
from pathlib import Path

import modelworks as mw

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--auc", type=float, required=True)
parser.add_argument("--model_name", default="bank-clf")
parser.add_argument("--registered", required=True)
args = parser.parse_args()

ws = mw.Workspace(os.environ["MODELWORKS_WORKSPACE"])
version = ws.models.register(
    str(Path(args.model) / "model"), name=args.model_name, tags={"auc": f"{args.auc:.6f}"}
)
ws.models.set_alias(args.model_name, "production", version=version.version)
Path(args.registered).write_text(f"models:/{args.model_name}/{version.version}")
print(f"registered {args.model_name}:{version.version} (AUC {args.auc:.4f}) as @production")
