"""Pipeline steps of ``type: sweep`` and ``type: automl`` with a real worker: the step is a
child job of that kind, a downstream step reads its best outputs (the best trial's, the best
model's folder), a failing step fails the pipeline naming itself, cancel reaches the step, and
bad bindings are reported with the file, line and key path before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import wait_for
from _pipelines_support import write_pipeline
from modelworks.jobs.entities import Job
from modelworks.pipelines.validate import validate_pipeline
from modelworks.pipelines.view import pipeline_steps
from modelworks.specs.jobs import load_job_spec

TRIAL = """
import pathlib, sys
import modelworks as mw
data, lr, out = pathlib.Path(sys.argv[1]), float(sys.argv[2]), pathlib.Path(sys.argv[3])
mw.log_metric("acc", 1.0 - abs(lr - 0.2))
(out / "model.txt").write_text(f"{lr}:" + (data / "clean.txt").read_text())
"""
TRIAL_YML = """
name: sweep_train
type: command
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.1}
outputs:
  model: {type: uri_folder}
code: ./src
command: python sweep_train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}
"""
SWEEP_PIPELINE = """
type: pipeline
inputs:
  raw: {type: uri_file, path: ./raw.txt}
outputs:
  best: {type: uri_folder}
settings:
  default_compute: local
jobs:
  prep:
    type: command
    component: ./prep.yml
    inputs:
      raw: ${{parent.inputs.raw}}
  tune:
    type: sweep
    trial: ./sweep_train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    search_space:
      lr: {type: choice, values: [0.05, 0.2]}
    sampling_algorithm: grid
    objective: {goal: maximize, primary_metric: acc}
    limits: {max_total_trials: 2, max_concurrent_trials: 2}
    outputs:
      model: ${{parent.outputs.best}}
  use:
    type: command
    code: ./src
    command: >-
      python -c "import pathlib, sys; pathlib.Path(sys.argv[2]).write_text(
      (pathlib.Path(sys.argv[1]) / 'model.txt').read_text().split(':')[0])"
      ${{inputs.model}} ${{outputs.lr}}
    inputs:
      model: ${{parent.jobs.tune.outputs.model}}
    outputs:
      lr: {type: string}
"""


def _steps(ws: mw.Workspace, name: str) -> dict[str, dict[str, object]]:
    return {row["step"]: row for row in pipeline_steps(ws, ws.jobs.get(name).id)}


def _run(ws: mw.Workspace, job: object, timeout: float = 120.0) -> Job:
    created = ws.jobs.create(job, start_worker=False)
    return ws.jobs.wait(created.name, timeout=timeout)


def _child(ws: mw.Workspace, pipeline: str, step: str) -> Job:
    job = _steps(ws, pipeline)[step]["job"]
    assert isinstance(job, str), f"step {step} has no job"
    return ws.jobs.get(job)


def _sweep_project(project: Path, text: str = TRIAL) -> Path:
    (project / "src" / "sweep_train.py").write_text(textwrap.dedent(text).lstrip())
    (project / "sweep_train.yml").write_text(textwrap.dedent(TRIAL_YML).lstrip())
    return project


def test_sweep_step_best_trial_output_feeds_a_downstream_step(
    jobs_ws: mw.Workspace, project: Path, tmp_path: Path
) -> None:
    path = write_pipeline(_sweep_project(project), SWEEP_PIPELINE)
    final = _run(jobs_ws, path)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    steps = _steps(jobs_ws, final.name)
    assert {k: v["status"] for k, v in steps.items()} == {
        "prep": "Completed",
        "tune": "Completed",
        "use": "Completed",
    }
    assert steps["tune"]["after"] == ["prep"] and steps["use"]["after"] == ["tune"]
    tune = _child(jobs_ws, final.name, "tune")
    assert tune.type == "sweep"
    trials = jobs_ws.jobs.list(parent_job_name=tune.name)
    assert len(trials) == 2 and all(t.status == mw.RunStatus.COMPLETED for t in trials)
    best = jobs_ws.runs.get(tune.id)
    assert best.tags["best_child_run_id"] in {t.id for t in trials}
    assert best.tags["mw.sweep.best.lr"] == "0.2"
    # the downstream step read the best trial's output; the pipeline output is that output
    use = _child(jobs_ws, final.name, "use")
    seen = jobs_ws.jobs.download(use.name, download_path=tmp_path / "use", output_name="lr")
    assert seen.read_text() == "0.2"
    out = jobs_ws.jobs.download(final.name, download_path=tmp_path / "dl", output_name="best")
    assert (out / "model.txt").read_text() == "0.2:HELLO\n"
    # a sweep step is not reused: a second run sweeps again (prep and use are reused)
    again = _run(jobs_ws, path)
    assert again.status == mw.RunStatus.COMPLETED, again.error
    steps = _steps(jobs_ws, again.name)
    assert steps["prep"]["status"] == "Reused"
    assert steps["tune"]["status"] == "Completed"
    assert len(jobs_ws.jobs.list(parent_job_name=_child(jobs_ws, again.name, "tune").name)) == 2


def test_failing_sweep_step_fails_the_pipeline_naming_it(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    text = SWEEP_PIPELINE.replace("values: [0.05, 0.2]", "values: [0.05]")
    failing = "import sys\nsys.stderr.write('trial boom\\n')\nsys.exit(3)\n"
    final = _run(jobs_ws, write_pipeline(_sweep_project(project, failing), text))
    assert final.status == mw.RunStatus.FAILED
    assert final.error is not None and "step 'tune'" in final.error
    assert "exited with code 3" in final.error and "trial boom" in final.error
    steps = _steps(jobs_ws, final.name)
    assert steps["tune"]["status"] == "Failed"
    assert steps["use"]["status"] in ("NotStarted", "Skipped")


def test_cancel_cancels_a_running_sweep_step_and_its_trials(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    slow = "import time\ntime.sleep(60)\n"
    path = write_pipeline(_sweep_project(project, slow), SWEEP_PIPELINE)
    created = jobs_ws.jobs.create(path, start_worker=False)

    def trials_running() -> bool:
        steps = _steps(jobs_ws, created.name)
        if steps["tune"]["status"] != "Running":
            return False
        tune = _child(jobs_ws, created.name, "tune")
        trials = jobs_ws.jobs.list(parent_job_name=tune.name)
        return any(t.status == mw.RunStatus.RUNNING for t in trials)

    wait_for(trials_running, timeout=60)
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.CANCELED
    steps = _steps(jobs_ws, created.name)
    assert steps["tune"]["status"] == "Canceled"
    assert steps["use"]["status"] == "NotStarted"
    tune = _child(jobs_ws, created.name, "tune")
    assert jobs_ws.jobs.wait(tune.name, timeout=30).status == mw.RunStatus.CANCELED
    for trial in jobs_ws.jobs.list(parent_job_name=tune.name):
        assert jobs_ws.jobs.wait(trial.name, timeout=30).status == mw.RunStatus.CANCELED


def test_bad_bindings_on_a_sweep_step_name_file_line_and_key(project: Path) -> None:
    text = (
        SWEEP_PIPELINE.replace(
            "      data: ${{parent.jobs.prep.outputs.clean}}",
            "      data: ${{parent.inputs.raw}}\n      bogus: 3",
        ).replace(
            "      model: ${{parent.jobs.tune.outputs.model}}",
            "      model: ${{parent.jobs.tune.outputs.weights}}",
        )
        + "  extra:\n    type: sweeep\n"
    )
    spec = load_job_spec(write_pipeline(_sweep_project(project), text))
    with pytest.raises(mw.SpecError) as caught:
        validate_pipeline(spec, None)
    message = caught.value.message
    assert (
        "pipeline.yml:18 jobs.tune.inputs.data: type mismatch: pipeline input 'raw' is uri_file, "
        "this input is uri_folder"
    ) in message
    assert (
        "pipeline.yml:19 jobs.tune.inputs.bogus: the trial component 'sweep_train' has no input "
        "'bogus' (its inputs: data)"
    ) in message
    assert (
        "pipeline.yml:35 jobs.use.inputs.model: ${{parent.jobs.tune.outputs.weights}}: step 'tune' "
        "has no output 'weights' (its outputs: model)"
    ) in message
    assert (
        "pipeline.yml:39 jobs.extra.type: unknown step type 'sweeep'; a step is one of type: "
        "command, sweep, automl, if_else"
    ) in message


AUTOML_PIPELINE = """
type: pipeline
experiment_name: pipeline-automl
inputs:
  table: {type: mltable, path: ./table}
outputs:
  best: {type: mlflow_model}
settings:
  default_compute: local
jobs:
  automl_step:
    type: automl
    task: classification
    primary_metric: AUC_weighted
    target_column_name: response
    training_data: ${{parent.inputs.table}}
    n_cross_validations: 2
    limits: {timeout_seconds: 12, max_trials: 3, max_concurrent_trials: 1}
    training:
      allowed_training_algorithms: [LogisticRegression, LightGBM]
      enable_vote_ensemble: false
      enable_model_explainability: false
    outputs:
      best_model: ${{parent.outputs.best}}
  score:
    type: command
    code: ./src
    command: python score.py ${{inputs.model}} ${{inputs.table}} ${{outputs.n}}
    inputs:
      model: ${{parent.jobs.automl_step.outputs.best_model}}
      table: ${{parent.inputs.table}}
    outputs:
      n: {type: integer}
"""
SCORE = """
import pathlib, sys
import pandas as pd
from modelworks.registry import load_model
model = load_model(sys.argv[1])
frame = pd.concat(pd.read_csv(p) for p in sorted(pathlib.Path(sys.argv[2]).glob("*.csv")))
predictions = model.predict(frame.drop(columns=["response"]).head(20))
pathlib.Path(sys.argv[3]).write_text(str(len(predictions)))
"""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_automl_step_best_model_feeds_a_downstream_step(
    jobs_ws: mw.Workspace, project: Path, tmp_path: Path
) -> None:
    from modelworks.datasets import load_bank_marketing

    (project / "table").mkdir()
    table = load_bank_marketing().sample(400, random_state=0)
    table.to_csv(project / "table" / "part.csv", index=False)
    (project / "src" / "score.py").write_text(textwrap.dedent(SCORE).lstrip())
    final = _run(jobs_ws, write_pipeline(project, AUTOML_PIPELINE), timeout=240)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    steps = _steps(jobs_ws, final.name)
    assert [steps[s]["status"] for s in ("automl_step", "score")] == ["Completed", "Completed"]
    assert steps["score"]["after"] == ["automl_step"]
    automl = _child(jobs_ws, final.name, "automl_step")
    assert automl.type == "automl"
    assert "AUC_weighted" in jobs_ws.runs.get(automl.id).metrics
    assert jobs_ws.runs.children(automl.id)  # the trials are child runs of the step's run
    score = _child(jobs_ws, final.name, "score")
    n = jobs_ws.jobs.download(score.name, download_path=tmp_path / "score", output_name="n")
    assert n.read_text() == "20"
    best = jobs_ws.jobs.download(final.name, download_path=tmp_path / "best", output_name="best")
    assert (best / "MLmodel").is_file()


@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_failing_automl_step_fails_the_pipeline_naming_it(
    jobs_ws: mw.Workspace, project: Path
) -> None:
    (project / "table").mkdir()
    (project / "table" / "part.csv").write_text("a,b\n1,x\n2,y\n3,x\n4,y\n")
    (project / "src" / "score.py").write_text("raise SystemExit('never runs')\n")
    final = _run(jobs_ws, write_pipeline(project, AUTOML_PIPELINE), timeout=120)
    assert final.status == mw.RunStatus.FAILED
    assert final.error is not None and "step 'automl_step'" in final.error
    assert "response" in final.error  # the missing target column
    steps = _steps(jobs_ws, final.name)
    assert steps["automl_step"]["status"] == "Failed"
    assert steps["score"]["status"] in ("NotStarted", "Skipped")


def test_inline_trial_with_search_space_references(jobs_ws: mw.Workspace, project: Path) -> None:
    inline = (
        "    trial:\n"
        "      code: ./src\n"
        "      command: python sweep_train.py ${{inputs.data}} ${{search_space.lr}}"
        " ${{outputs.model}}\n"
    )
    text = SWEEP_PIPELINE.replace("    trial: ./sweep_train.yml\n", inline).replace(
        "      model: ${{parent.outputs.best}}",
        "      model: {type: uri_folder}",
    )
    text = text.replace("outputs:\n  best: {type: uri_folder}\n", "", 1)
    final = _run(jobs_ws, write_pipeline(_sweep_project(project), text))
    assert final.status == mw.RunStatus.COMPLETED, final.error
    tune = jobs_ws.runs.get(_child(jobs_ws, final.name, "tune").id)
    assert tune.tags["mw.sweep.best.lr"] == "0.2"
