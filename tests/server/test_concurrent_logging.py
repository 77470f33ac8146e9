"""Reliability: 16 processes log 10,000 metric values each through one server at once.

Every value must arrive exactly once (160,000 rows), with no error in any process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from _live_server import LiveServer
from modelworks.store.rest import RestMetadataStore

PROCESSES = 16
VALUES_PER_PROCESS = 10_000
BATCH = 1_000

WORKER = """
import sys
from modelworks.entities import Metric
from modelworks.store.rest import RestMetadataStore

url, token, run_id, values, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
store = RestMetadataStore(url, token=token)
for start in range(0, values, batch):
    metrics = [Metric("loss", 1.0 / (step + 1), step=step, timestamp=1_000 + step)
               for step in range(start, min(start + batch, values))]
    store.log_batch(run_id, metrics=metrics)
store.close()
print("done")
"""


@pytest.mark.slow
def test_sixteen_processes_log_160k_values(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "ws") as live:
        store = RestMetadataStore(live.url, token=live.admin_token)
        experiment = store.create_experiment("concurrent-logging")
        runs = [store.create_run(experiment.id, name=f"worker-{i}") for i in range(PROCESSES)]
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER,
                    live.url,
                    live.admin_token,
                    run.id,
                    str(VALUES_PER_PROCESS),
                    str(BATCH),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for run in runs
        ]
        results = [w.communicate(timeout=600) for w in workers]
        for worker, (out, err) in zip(workers, results, strict=True):
            assert worker.returncode == 0, err
            assert out.strip() == "done"

        total = 0
        for run in runs:
            history = store.get_metric_history(run.id, "loss")
            assert [m.step for m in history] == list(range(VALUES_PER_PROCESS))
            assert history[-1].value == pytest.approx(1.0 / VALUES_PER_PROCESS)
            total += len(history)
            assert store.get_run(run.id).metrics["loss"] == pytest.approx(1.0 / VALUES_PER_PROCESS)
        assert total == PROCESSES * VALUES_PER_PROCESS == 160_000
        store.close()
