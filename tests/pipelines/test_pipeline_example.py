"""examples/pipelines/bank runs as its README says: prep → train → evaluate → register if
better → deploy on the first run; prep and train reused, register and deploy skipped on an
unchanged second run (on a sample of the rows, to stay quick)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest

import modelworks as mw
from modelworks.datasets import bank_marketing_path
from modelworks.endpoints.host import stop_host
from modelworks.pipelines.view import pipeline_steps

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "bank" / "pipeline.yml"


def _statuses(ws: mw.Workspace, name: str) -> dict[str, str]:
    run = ws.jobs.get(name)
    return {row["step"]: row["status"] for row in pipeline_steps(ws, run.id)}


@pytest.mark.slow
def test_bank_pipeline_registers_deploys_then_reuses_and_skips(jobs_ws: mw.Workspace) -> None:
    try:
        first = jobs_ws.jobs.create(EXAMPLE, overrides=["inputs.rows=3000"], start_worker=False)
        done = jobs_ws.jobs.wait(first.name, timeout=400)
        assert done.status == mw.RunStatus.COMPLETED, done.error
        assert set(_statuses(jobs_ws, first.name).values()) == {"Completed"}

        production = jobs_ws.models.get("bank-clf@production")
        assert float(production.tags["auc"]) > 0.7
        endpoint = jobs_ws.online_endpoints.get("bank-pipeline")
        assert endpoint.traffic == {"blue": 100}
        key = jobs_ws.online_endpoints.regenerate_keys("bank-pipeline", key_type="primary")
        sample = pd.read_csv(bank_marketing_path()).drop(columns=["response", "duration"]).head(2)
        body = {
            "input_data": {
                "columns": list(sample.columns),
                "data": sample.astype(object).where(sample.notna(), None).values.tolist(),
            }
        }
        answer = httpx.post(
            endpoint.scoring_uri,
            json=body,
            headers={"Authorization": f"Bearer {key['primaryKey']}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 2

        again = jobs_ws.jobs.create(EXAMPLE, overrides=["inputs.rows=3000"], start_worker=False)
        done = jobs_ws.jobs.wait(again.name, timeout=400)
        assert done.status == mw.RunStatus.COMPLETED, done.error
        assert _statuses(jobs_ws, again.name) == {
            "prep": "Reused",
            "train": "Reused",
            "evaluate": "Completed",
            "register": "Skipped",
            "deploy": "Skipped",
        }
        assert jobs_ws.models.get("bank-clf@production").version == production.version
    finally:
        stop_host(jobs_ws)
