"""The quickstart: real data → train → register → deploy → score, printing each step.

Runs on the bank-marketing table shipped with the package, so it works offline on a fresh
machine. ``modelworks quickstart`` calls :func:`run_quickstart`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_quickstart"]

TARGET = "response"
#: ``duration`` is only known after the call ends, so it leaks the outcome; a real model drops it.
LEAKY = ["duration"]


def run_quickstart(
    workspace: str = "./quickstart-ws", *, echo: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Run the whole life cycle in ``workspace``; returns what it made (ids, metrics, scores)."""
    import httpx
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    import modelworks as mw
    from modelworks.datasets import bank_marketing_path
    from modelworks.errors import ConflictError

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

    with mw.start_run(experiment="bank-quickstart", workspace=ws, run_name="hgb-baseline") as run:
        frame = ws.data.get("bank-marketing@latest").to_pandas()
        y = (frame[TARGET] == "yes").astype(int)
        X = frame.drop(columns=[TARGET, *LEAKY])
        categorical = [
            c for c in X.columns if X[c].dtype == object or str(X[c].dtype) in ("string", "str")
        ]
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.2, random_state=0, stratify=y
        )
        params = {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31}
        model = Pipeline(
            [
                (
                    "encode",
                    ColumnTransformer(
                        [
                            (
                                "cat",
                                OrdinalEncoder(
                                    handle_unknown="use_encoded_value", unknown_value=-1
                                ),
                                categorical,
                            )
                        ],
                        remainder="passthrough",
                    ),
                ),
                ("model", HistGradientBoostingClassifier(random_state=0, **params)),
            ]
        )
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)[:, 1]
        metrics = {
            "auc": float(roc_auc_score(y_test, proba)),
            "accuracy": float(accuracy_score(y_test, proba > 0.5)),
        }
        mw.log_params({**params, "dropped_columns": ",".join(LEAKY), "test_size": 0.2})
        mw.log_metrics(metrics)
        mw.log_model(model, "model", input_example=X_test.head(5))
    echo(
        f"[3/5] Trained run {run.id} ({run.name}): AUC {metrics['auc']:.3f}, "
        f"accuracy {metrics['accuracy']:.3f} (modelworks job show {run.id})"
    )

    version = ws.models.register(
        f"runs:/{run.id}/model", name="bank-clf", description="Quickstart bank-marketing classifier"
    )
    ws.models.set_alias("bank-clf", "production", version=version.version)
    echo(
        f"[4/5] Registered bank-clf:{version.version} as models:/bank-clf@production "
        f"(lineage: data {data.name}:{data.version} → run {run.id} → model)"
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
    try:
        key = ws.online_endpoints.get_keys("bank")["primaryKey"]
        key_source = "shown once by: modelworks -w {root} online-endpoint get-credentials -n bank"
    except ConflictError:  # a second quickstart in the same workspace: keys were shown before
        key = ws.online_endpoints.regenerate_keys("bank", key_type="primary")["primaryKey"]
        key_source = "a new primary key (regenerate-keys), as the earlier ones were shown already"
    sample = X_test.head(5)
    body = {
        "input_data": {
            "columns": list(sample.columns),
            "data": sample.astype(object).where(sample.notna(), None).values.tolist(),
        }
    }
    response = httpx.post(
        endpoint.scoring_uri,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30.0,
    )
    response.raise_for_status()
    scored = response.json()
    actual = y_test.head(5).tolist()
    echo(
        f"[5/5] Deployed models:/bank-clf@production to online endpoint 'bank' and scored 5 rows "
        f"over HTTP with its key: predicted {scored['predictions']}, actual {actual}\n"
        f"  scoring URL: {endpoint.scoring_uri}\n"
        f"  key:         {key_source.format(root=ws.root)}\n"
        f"  swagger:     {endpoint.openapi_uri}  (OpenAPI 3: ?version=3)\n"
        f"  try:         curl -H 'Authorization: Bearer <key>' -H 'Content-Type: application/json' "
        f"-d @sample.json {endpoint.scoring_uri}\n"
        f"  stop it:     modelworks -w {ws.root} online-endpoint stop-host"
    )
    elapsed = time.perf_counter() - started
    echo(
        f"Done in {elapsed:.1f} s. Look around:\n"
        f"  modelworks -w {ws.root} job list\n"
        f"  modelworks -w {ws.root} model show bank-clf@production\n"
        f"  modelworks -w {ws.root} data show bank-marketing@latest\n"
        f"  modelworks -w {ws.root} online-deployment get-logs -n blue -e bank\n"
        f"  modelworks -w {ws.root} server --port 8080   # REST API + OpenAPI at /docs"
    )
    return {
        "workspace": str(ws.root),
        "run_id": run.id,
        "metrics": metrics,
        "model_version": version.version,
        "predictions": scored["predictions"],
        "scoring_uri": endpoint.scoring_uri,
        "actual": actual,
        "seconds": elapsed,
        "data_version": data.version,
        "root": str(Path(ws.root or ".")),
    }
