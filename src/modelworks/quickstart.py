"""The quickstart: real data → AutoML → register → deploy → score, printing each step.

Runs on the bank-marketing table shipped with the package, so it works offline on a fresh
machine. ``modelworks quickstart`` calls :func:`run_quickstart`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_quickstart"]

TARGET = "response"
#: ``duration`` is only known after the call ends, so it leaks the outcome; a real model drops it.
LEAKY = ["duration"]
#: AutoML's time budget: short, so the whole quickstart stays under about a minute. A busy or
#: slow machine can give it more with MODELWORKS_QUICKSTART_BUDGET (seconds).
TIME_BUDGET_S = 30.0
ENV_BUDGET = "MODELWORKS_QUICKSTART_BUDGET"


def run_quickstart(
    workspace: str = "./quickstart-ws",
    *,
    echo: Callable[[str], Any] = print,
    time_budget: float | None = None,
) -> dict[str, Any]:
    """Run the whole life cycle in ``workspace``; returns what it made (ids, metrics, scores)."""
    if time_budget is None:
        time_budget = float(os.environ.get(ENV_BUDGET) or TIME_BUDGET_S)
    import pandas as pd

    import modelworks as mw
    from modelworks.automl.job import run_automl_job
    from modelworks.datasets import bank_marketing_path
    from modelworks.errors import ConflictError
    from modelworks.specs.automl import AutoMLJobSpec

    started = time.perf_counter()
    ws = mw.Workspace(workspace)
    assert ws.root is not None  # a local workspace always has a root folder
    echo(f"[1/5] Workspace {ws.root} (metadata: {ws.root / 'modelworks.db'})")

    data = ws.data.create(
        "bank-marketing",
        str(bank_marketing_path()),
        type="mltable",
        description="UCI Bank Marketing (CC BY 4.0)",
    )
    profile = data.profile or {}
    echo(
        f"[2/5] Data asset {data.name}:{data.version}: {profile.get('rows')} rows, "
        f"{profile.get('columns')} columns (profile: modelworks data show {data.name}@latest)"
    )

    # The same spec as an Azure ML `type: automl` YAML (see docs/automl.md); run here in
    # this process so the quickstart needs no job worker.
    spec = AutoMLJobSpec.model_validate(
        {
            "type": "automl",
            "experiment_name": "bank-quickstart",
            "task": "classification",
            "primary_metric": "AUC_weighted",
            "target_column_name": TARGET,
            "training_data": {"type": "mltable", "path": f"azureml:{data.name}@latest"},
            "featurization": {"drop_columns": LEAKY},
            "limits": {"timeout_seconds": time_budget},
            "model_name": "bank-clf",
        }
    )
    echo(f"[3/5] AutoML on {data.name}:{data.version} for {time_budget:g} s ...")
    result = run_automl_job(ws, spec)
    outcome = result.outcome
    board = outcome.leaderboard
    top = ", ".join(
        f"{row['model']} {row[result.metric]:.4f}"
        for row in board[board["status"] == "completed"].head(3).to_dict("records")
    )
    version = result.model
    ws.models.set_alias("bank-clf", "production", version=version.version)
    echo(
        f"      {len(outcome.trials)} trials in {outcome.fit_time:.0f} s; best {result.best_model} "
        f"{result.metric} {result.best_score:.4f} (cross-validated); top: {top}\n"
        f"      run {result.run_id}: modelworks -w {ws.root} job show {result.run_id}\n"
        f"[4/5] Registered bank-clf:{version.version} as models:/bank-clf@production "
        f"(lineage: data {data.name}:{data.version} → run {result.run_id} → model)"
    )

    endpoint = ws.online_endpoints.begin_create_or_update(
        {"name": "bank", "auth_mode": "key", "description": "Quickstart bank-marketing scores"}
    ).result()
    ws.online_deployments.begin_create_or_update(
        {
            "name": "blue",
            "endpoint_name": "bank",
            "model": "models:/bank-clf@production",
            "request_settings": {"max_concurrent_requests_per_instance": 4},
        },
        all_traffic=True,
    ).result()
    # Keys are shown once and stored hashed: the quickstart prints the one it scores with, so
    # the curl line below works as printed; a second quickstart makes a new one.
    try:
        key = ws.online_endpoints.get_keys("bank")["primaryKey"]
    except ConflictError:  # a second quickstart in the same workspace: keys were shown before
        key = ws.online_endpoints.regenerate_keys("bank", key_type="primary")["primaryKey"]
    key_source = (
        "(primary; shown once, stored hashed — a new one: modelworks -w {root} "
        "online-endpoint regenerate-keys -n bank --key-type primary)"
    )
    frame = pd.read_csv(bank_marketing_path())
    sample = frame.drop(columns=[TARGET]).tail(5)  # the model's signature; it ignores LEAKY
    body = {
        "input_data": {
            "columns": list(sample.columns),
            "data": sample.astype(object).where(sample.notna(), None).values.tolist(),
        }
    }
    sample_file = ws.root / "sample.json"  # the same body, for trying the endpoint with curl
    sample_file.write_text(json.dumps(body, indent=1))
    scored = json.loads(
        ws.online_endpoints.invoke("bank", request_file=sample_file, key=key, timeout=30.0)
    )
    actual = frame[TARGET].tail(5).tolist()
    echo(
        f"[5/5] Deployed models:/bank-clf@production to online endpoint 'bank' and scored 5 rows "
        f"over HTTP with its key: predicted {scored['predictions']}, actual {actual}\n"
        f"  scoring URL: {endpoint.scoring_uri}\n"
        f"  key:         {key} {key_source.format(root=ws.root)}\n"
        f"  swagger:     {endpoint.openapi_uri}  (OpenAPI 3: ?version=3)\n"
        f"  try:         curl -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f"-d @{sample_file} {endpoint.scoring_uri}\n"
        f"  stop it:     modelworks -w {ws.root} online-endpoint stop-host"
    )
    elapsed = time.perf_counter() - started
    echo(
        f"Done in {elapsed:.1f} s. Look around:\n"
        f"  modelworks -w {ws.root} job list -e bank-quickstart   # the AutoML run + its trials\n"
        f"  modelworks -w {ws.root} model show bank-clf@production\n"
        f"  modelworks -w {ws.root} data show bank-marketing@latest\n"
        f"  modelworks -w {ws.root} online-deployment get-logs -n blue -e bank\n"
        f"  modelworks -w {ws.root} automl run --data azureml:bank-marketing@latest "
        f"--target {TARGET} --timeout 60   # a longer search, with its live view\n"
        f"  modelworks -w {ws.root} server --port 8080   # REST API + OpenAPI at /docs"
    )
    return {
        "workspace": str(ws.root),
        "run_id": result.run_id,
        "metrics": {k: v for k, v in outcome.metrics.items()},
        "best_model": result.best_model,
        "model_version": version.version,
        "predictions": scored["predictions"],
        "scoring_uri": endpoint.scoring_uri,
        "actual": actual,
        "seconds": elapsed,
        "data_version": data.version,
        "root": str(Path(ws.root or ".")),
    }
