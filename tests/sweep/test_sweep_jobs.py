"""Sweep jobs end to end: trials are child jobs, the best one is recorded on the parent,
early termination stops trial processes, and failures and cancellation are clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import wait_for, write
from modelworks.jobs import Output, command, sweep

SCORE = """
import os, sys
import modelworks as mw

a, b = float(sys.argv[1]), sys.argv[2]
score = -(a - 2) ** 2 + (1 if b == "good" else 0)
mw.log_metric("score", score)
os.makedirs(sys.argv[3], exist_ok=True)
open(os.path.join(sys.argv[3], "params.txt"), "w").write(f"{a} {b}")
print("score", score)
"""


@pytest.mark.slow
def test_grid_sweep_finds_the_best_trial(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    write(tmp_path / "src", "score.py", SCORE)
    trial = command(
        code=str(tmp_path / "src"),
        command="python score.py ${{search_space.a}} ${{inputs.b}} ${{outputs.model}}",
        outputs={"model": Output(type="uri_folder", name="best-params")},
        experiment_name="sweeps",
    )
    job = sweep(
        trial,
        search_space={
            "a": {"type": "choice", "values": [1, 2, 3]},
            "b": {"type": "choice", "values": ["good", "bad"]},
        },
        sampling_algorithm="grid",
        primary_metric="score",
        goal="maximize",
        max_total_trials=10,
        max_concurrent_trials=2,
    )
    created = jobs_ws.jobs.create(job, start_worker=False)
    assert job.name == created.name and created.type == "sweep"
    final = jobs_ws.jobs.wait(created.name, timeout=240)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    trials = jobs_ws.jobs.list(parent_job_name=created.name)
    assert len(trials) == 6  # the grid has 6 points, fewer than max_total_trials
    assert all(t.status == mw.RunStatus.COMPLETED for t in trials)
    assert sorted((t.params["a"], t.params["b"]) for t in trials) == sorted(
        (a, b) for a in ("1", "2", "3") for b in ("good", "bad")
    )
    best = jobs_ws.runs.get(final.tags["best_child_run_id"])
    assert (best.params["a"], best.params["b"]) == ("2", "good")
    assert final.metrics["score"] == 1.0
    assert json.loads(final.tags["mw.sweep.best_params"]) == {"a": 2, "b": "good"}
    rows = json.loads(
        jobs_ws.runs.download_artifacts(final.id, "sweep/trials.json", tmp_path / "dl").read_text()
    )
    assert len(rows) == 6 and {r["status"] for r in rows} == {"Completed"}
    outputs = {e.path for e in jobs_ws.runs.list_artifacts(final.id, "outputs")}
    assert outputs == {"outputs/model/params.txt"}  # the best trial's outputs
    asset = jobs_ws.data.get("best-params@latest")
    assert Path(asset.download(), "params.txt").read_text() == "2.0 good"
    log = jobs_ws.jobs.logs(created.name)
    assert "best trial:" in log and "[6/6]" in log


PROGRESS = """
import sys, time
import modelworks as mw

quality = float(sys.argv[1])
for step in range(6):
    mw.log_metric("acc", quality, step=step)
    mw.flush()
    print("step", step, flush=True)
    time.sleep(0.7)
"""


@pytest.mark.slow
def test_bandit_policy_stops_weak_trials(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    write(tmp_path / "src", "progress.py", PROGRESS)
    spec = write(
        tmp_path,
        "sweep.yml",
        """
        type: sweep
        trial:
          code: src
          command: python progress.py ${{search_space.quality}}
        search_space:
          quality: {type: choice, values: [0.9, 0.2]}
        sampling_algorithm: grid
        objective: {goal: maximize, primary_metric: acc}
        early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 1}
        limits: {max_total_trials: 2, max_concurrent_trials: 2}
        """,
    )
    created = jobs_ws.jobs.create(spec, start_worker=False)
    final = jobs_ws.jobs.wait(created.name, timeout=240)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    trials = {t.params["quality"]: t for t in jobs_ws.jobs.list(parent_job_name=created.name)}
    weak, strong = trials["0.2"], trials["0.9"]
    assert strong.status == mw.RunStatus.COMPLETED
    assert weak.status == mw.RunStatus.CANCELED
    assert "Early-terminated by the bandit policy" in weak.error
    assert weak.tags["mw.sweep.early_terminated"] == "true"
    steps = [m.step for m in jobs_ws.runs.get_metric_history(weak.id, "acc")]
    assert max(steps) < 5  # its process was stopped before it finished
    assert final.tags["best_child_run_id"] == strong.id


@pytest.mark.slow
def test_sweep_where_every_trial_fails(jobs_ws: mw.Workspace) -> None:
    trial = command(command="python -c 'import sys; sys.exit(\"broken ${{search_space.x}}\")'")
    job = sweep(
        trial,
        search_space={"x": {"type": "randint", "upper": 5}},
        primary_metric="loss",
        goal="minimize",
        max_total_trials=2,
        max_concurrent_trials=2,
    )
    final = jobs_ws.jobs.wait(jobs_ws.jobs.create(job, start_worker=False).name, timeout=120)
    assert final.status == mw.RunStatus.FAILED
    assert final.error.startswith("None of the 2 trial(s) completed with a value of loss.")
    assert "broken" in final.error


@pytest.mark.slow
def test_cancel_sweep_cancels_its_trials(jobs_ws: mw.Workspace) -> None:
    trial = command(command="python -c 'import time; time.sleep(60)' ${{search_space.x}}")
    job = sweep(
        trial,
        search_space={"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
        primary_metric="loss",
        max_total_trials=4,
        max_concurrent_trials=2,
    )
    created = jobs_ws.jobs.create(job, start_worker=False)
    wait_for(
        lambda: [
            t
            for t in jobs_ws.jobs.list(parent_job_name=created.name)
            if t.status == mw.RunStatus.RUNNING
        ],
        timeout=60,
    )
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.CANCELED
    for t in jobs_ws.jobs.list(parent_job_name=created.name):
        assert jobs_ws.jobs.wait(t.name, timeout=30).status == mw.RunStatus.CANCELED


@pytest.mark.slow
def test_sweep_resumes_after_its_worker_is_killed(tmp_path: Path) -> None:
    import os
    import signal

    ws = mw.Workspace(tmp_path / "ws")
    write(
        tmp_path / "src",
        "slow.py",
        "import sys, time\nimport modelworks as mw\ntime.sleep(1.5)\n"
        "mw.log_metric('score', float(sys.argv[1]))\n",
    )
    trial = command(code=str(tmp_path / "src"), command="python slow.py ${{search_space.x}}")
    job = sweep(
        trial,
        search_space={"x": {"type": "choice", "values": [1, 2, 3, 4]}},
        sampling_algorithm="grid",
        primary_metric="score",
        goal="maximize",
        max_total_trials=4,
        max_concurrent_trials=2,
    )
    worker_pid = ws.jobs.start_worker(idle_exit_s=0, lease_seconds=2, poll_seconds=0.1)
    created = ws.jobs.create(job, start_worker=False)
    wait_for(
        lambda: any(
            t.status == mw.RunStatus.COMPLETED for t in ws.jobs.list(parent_job_name=created.name)
        ),
        timeout=120,
    )
    os.kill(worker_pid, signal.SIGKILL)
    with ws.jobs.worker(lease_s=2, poll_s=0.1):
        final = ws.jobs.wait(created.name, timeout=180)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.attempts == 2
    trials = ws.jobs.list(parent_job_name=created.name)
    assert sorted(t.params["x"] for t in trials) == ["1", "2", "3", "4"]  # none lost or repeated
    assert all(t.status == mw.RunStatus.COMPLETED for t in trials)
    assert final.metrics["score"] == 4.0
    assert "resumed:" in ws.jobs.logs(created.name)
    ws.close()
