"""Pipeline jobs end to end with a real worker: steps as child jobs, data passed between
them, pipeline outputs, conditions, reuse, failures, cancel, and the DSL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import wait_for
from _pipelines_support import write_pipeline
from modelworks.jobs.entities import Job
from modelworks.pipelines.view import pipeline_steps


def _steps(ws: mw.Workspace, name: str) -> dict[str, dict[str, object]]:
    return {row["step"]: row for row in pipeline_steps(ws, ws.jobs.get(name).id)}


def _run(ws: mw.Workspace, job: object, timeout: float = 90.0) -> Job:
    created = ws.jobs.create(job, start_worker=False)
    return ws.jobs.wait(created.name, timeout=timeout)


def test_yaml_pipeline_runs_steps_in_order_and_passes_data(
    jobs_ws: mw.Workspace, project: Path, tmp_path: Path
) -> None:
    final = _run(jobs_ws, write_pipeline(project))
    assert final.status == mw.RunStatus.COMPLETED, final.error
    steps = _steps(jobs_ws, final.name)
    assert [s for s in steps] == ["prep", "train", "evaluate", "register", "report"]
    assert {k: v["status"] for k, v in steps.items()} == {
        "prep": "Completed",
        "train": "Completed",
        "evaluate": "Completed",
        "register": "Completed",
        "report": "Skipped",
    }
    assert "condition 'gate'" in str(steps["report"]["note"])
    assert steps["train"]["after"] == ["prep"]
    # the pipeline output is the train step's output, with the upstream data in it
    out = jobs_ws.jobs.download(final.name, download_path=tmp_path / "dl", output_name="model")
    assert (out / "model.txt").read_text() == "0.1:HELLO\n"
    log = jobs_ws.jobs.logs(final.name)
    assert "step report: Skipped" in log
    from typer.testing import CliRunner

    from modelworks.cli import app

    shown = CliRunner().invoke(app, ["-w", str(jobs_ws.root), "job", "show", final.name])
    assert shown.exit_code == 0, shown.output
    assert "Pipeline steps" in shown.output and "Skipped" in shown.output


def test_second_run_reuses_every_step_and_a_changed_input_reruns_only_downstream(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    path = write_pipeline(project)
    first = _run(jobs_ws, path)
    assert first.status == mw.RunStatus.COMPLETED, first.error
    second = _run(jobs_ws, path)
    assert second.status == mw.RunStatus.COMPLETED, second.error
    steps = _steps(jobs_ws, second.name)
    assert {k for k, v in steps.items() if v["status"] == "Reused"} == {"prep", "train", "evaluate"}
    assert steps["register"]["status"] == "Completed"  # not deterministic: always runs
    # same content, new parameter for train only: prep is reused, train and evaluate re-run
    changed = jobs_ws.jobs.create(path, overrides=["inputs.lr=0.5"], start_worker=False)
    third_job = jobs_ws.jobs.wait(changed.name, timeout=90)
    assert third_job.status == mw.RunStatus.COMPLETED, third_job.error
    steps = _steps(jobs_ws, third_job.name)
    assert steps["prep"]["status"] == "Reused"
    assert steps["train"]["status"] == "Completed"
    assert steps["evaluate"]["status"] == "Completed"
    # changing the raw file's bytes re-runs prep and everything after it
    (project / "raw.txt").write_text("other\n")
    fourth = _run(jobs_ws, path)
    steps = _steps(jobs_ws, fourth.name)
    assert [steps[s]["status"] for s in ("prep", "train", "evaluate")] == ["Completed"] * 3


def test_force_rerun_at_pipeline_and_step_level(jobs_ws: mw.Workspace, project: Path) -> None:
    path = write_pipeline(project)
    assert _run(jobs_ws, path).status == mw.RunStatus.COMPLETED
    forced = jobs_ws.jobs.create(path, overrides=["settings.force_rerun=true"], start_worker=False)
    steps = _steps(jobs_ws, jobs_ws.jobs.wait(forced.name, timeout=90).name)
    assert not [s for s, v in steps.items() if v["status"] == "Reused"]
    one = jobs_ws.jobs.create(path, overrides=["jobs.train.force_rerun=true"], start_worker=False)
    steps = _steps(jobs_ws, jobs_ws.jobs.wait(one.name, timeout=90).name)
    assert steps["prep"]["status"] == "Reused"
    assert steps["train"]["status"] == "Completed"
    # train's outputs are the same bytes, so evaluate downstream is reused again
    assert steps["evaluate"]["status"] == "Reused"


FAILING = """
type: pipeline
settings:
  continue_on_step_failure: {cont}
jobs:
  bad:
    command: python -c "import sys; print('boom', file=sys.stderr); sys.exit(3)"
    outputs:
      out: {{type: uri_folder}}
  after_bad:
    command: echo ${{{{inputs.x}}}}
    inputs:
      x: ${{{{parent.jobs.bad.outputs.out}}}}
  independent:
    command: python -c "import time; time.sleep(1.5)"
"""


def test_failing_step_stops_its_dependants_and_names_itself(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    final = _run(jobs_ws, write_pipeline(project, FAILING.format(cont="false")))
    assert final.status == mw.RunStatus.FAILED
    assert final.error is not None
    assert "step 'bad'" in final.error and "exited with code 3" in final.error
    assert "boom" in final.error
    steps = _steps(jobs_ws, final.name)
    assert steps["bad"]["status"] == "Failed"
    assert steps["after_bad"]["status"] in ("NotStarted", "Skipped")
    assert steps["independent"]["status"] == "Canceled"  # stopped with the pipeline


def test_continue_on_step_failure_runs_independent_steps(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    final = _run(jobs_ws, write_pipeline(project, FAILING.format(cont="true")))
    assert final.status == mw.RunStatus.FAILED
    steps = _steps(jobs_ws, final.name)
    assert steps["independent"]["status"] == "Completed"
    assert steps["after_bad"]["status"] == "Skipped"
    assert "upstream step 'bad' failed" in str(steps["after_bad"]["note"])


def test_cancel_cancels_running_steps(jobs_ws: mw.Workspace, project: Path) -> None:
    text = """
type: pipeline
jobs:
  slow:
    command: python -c "import time; time.sleep(60)"
  later:
    command: echo ${{inputs.x}}
    inputs:
      x: ${{parent.jobs.slow.outputs.out}}
"""
    text = text.replace("  later:", "    outputs:\n      out: {type: uri_folder}\n  later:", 1)
    created = jobs_ws.jobs.create(write_pipeline(project, text), start_worker=False)
    wait_for(lambda: _steps(jobs_ws, created.name)["slow"]["status"] == "Running", timeout=30)
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=30)
    assert final.status == mw.RunStatus.CANCELED
    steps = _steps(jobs_ws, created.name)
    assert steps["slow"]["status"] == "Canceled"
    assert steps["later"]["status"] == "NotStarted"


def test_dsl_pipeline_with_python_components(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "steps.py").write_text(
        "from pathlib import Path\n"
        "from modelworks import Input, Output, command_component\n\n"
        "@command_component(name='make')\n"
        "def make(n: int, out: Output(type='uri_folder')):\n"
        "    Path(out, 'n.txt').write_text(str(n * 2))\n\n"
        "@command_component(name='check', outputs={'ok': 'boolean'})\n"
        "def check(data: Input(type='uri_folder'), limit: float = 5.0):\n"
        "    return {'ok': int(Path(data, 'n.txt').read_text()) > limit}\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path / "code"))
    try:
        import steps  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path / "code"))

    @mw.dsl.pipeline(default_compute="local", experiment_name="dsl")
    def doubled(n: int) -> dict[str, object]:
        made = steps.make(n=n)
        checked = steps.check(data=made.outputs.out)
        loud = steps.make(n=100)
        mw.dsl.condition(checked.outputs.ok, true_block=loud)
        return {"result": made.outputs.out}

    job = doubled(n=4)
    assert sorted(job.jobs) == ["check", "condition_1", "make", "make_2"]
    final = _run(jobs_ws, job)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    rows = _steps(jobs_ws, final.name)
    assert rows["make_2"]["status"] == "Completed"  # 8 > 5
    low = _run(jobs_ws, doubled(n=1))
    rows = _steps(jobs_ws, low.name)
    assert rows["make"]["status"] == "Completed"  # n changed: not reused
    assert rows["make_2"]["status"] == "Skipped"


@pytest.mark.slow
def test_pipeline_resumes_after_its_worker_is_killed(tmp_path: Path, project: Path) -> None:
    import signal

    text = """
type: pipeline
jobs:
  first:
    command: python -c "import time; time.sleep(1)"
  second:
    command: >-
      python -c "import sys, time; time.sleep(1.5); open(sys.argv[1] + '/v', 'w').write('v')"
      ${{outputs.out}}
    outputs:
      out: {type: uri_folder}
  third:
    command: cat ${{inputs.x}}/v
    inputs:
      x: ${{parent.jobs.second.outputs.out}}
"""
    ws = mw.Workspace(tmp_path / "ws")
    worker_pid = ws.jobs.start_worker(idle_exit_s=0, lease_seconds=2, poll_seconds=0.1)
    created = ws.jobs.create(write_pipeline(project, text), start_worker=False)
    wait_for(lambda: _steps(ws, created.name)["first"]["status"] == "Completed", timeout=60)
    os.kill(worker_pid, signal.SIGKILL)
    with ws.jobs.worker(lease_s=2, poll_s=0.1):
        final = ws.jobs.wait(created.name, timeout=120)  # never hangs: a timeout fails the test
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.attempts == 2
    assert "resumed: " in ws.jobs.logs(created.name)
    children = ws.jobs.list(parent_job_name=created.name)
    # one child per step: the finished step was not run again
    assert sorted(c.tags["mw.pipeline.step"] for c in children) == ["first", "second", "third"]
    assert all(c.status == mw.RunStatus.COMPLETED for c in children)
    ws.close()


def test_metric_and_number_conditions(jobs_ws: mw.Workspace, project: Path) -> None:
    text = """
type: pipeline
jobs:
  score:
    command: >-
      python -c "import sys, modelworks as mw; mw.log_metric('auc', 0.9);
      open(sys.argv[1], 'w').write('0.42')" ${{outputs.value}}
    outputs:
      value: {type: number}
  by_metric:
    type: if_else
    condition: ${{parent.jobs.score.metrics.auc}} > 0.85
    true_block: ${{parent.jobs.good}}
    false_block: ${{parent.jobs.bad}}
  by_value:
    type: if_else
    condition: ${{parent.jobs.score.outputs.value}} >= 0.5
    true_block: ${{parent.jobs.high}}
  good:
    command: echo good
  bad:
    command: echo bad
  high:
    command: echo high
  uses_value:
    command: echo ${{inputs.v}}
    inputs:
      v: ${{parent.jobs.score.outputs.value}}
"""
    final = _run(jobs_ws, write_pipeline(project, text))
    assert final.status == mw.RunStatus.COMPLETED, final.error
    steps = _steps(jobs_ws, final.name)
    assert steps["good"]["status"] == "Completed"
    assert steps["bad"]["status"] == "Skipped"
    assert steps["high"]["status"] == "Skipped"
    assert "is false" in str(steps["high"]["note"])
    child = jobs_ws.jobs.get(str(steps["uses_value"]["job"]))
    assert child.params["v"] == "0.42"  # a number output arrives as a literal


def test_data_asset_inputs_are_compared_by_content(jobs_ws: mw.Workspace, project: Path) -> None:
    jobs_ws.data.create("raw", str(project / "raw.txt"), type="uri_file")
    pipeline = """
type: pipeline
inputs:
  raw: {type: uri_file, path: azureml:raw@latest}
jobs:
  prep:
    component: ./prep.yml
    inputs:
      raw: ${{parent.inputs.raw}}
"""
    path = write_pipeline(project, pipeline)
    assert _run(jobs_ws, path).status == mw.RunStatus.COMPLETED
    jobs_ws.data.create("raw", str(project / "raw.txt"), type="uri_file", version="2")
    again = _run(jobs_ws, path)  # version 2, same bytes: reused
    assert again.params["raw"] == "azureml:raw:2"
    assert _steps(jobs_ws, again.name)["prep"]["status"] == "Reused"
