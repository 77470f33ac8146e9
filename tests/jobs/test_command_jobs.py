"""Command jobs end to end on a real local workspace and a real worker (in this process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import pid_alive, run_job, wait_for, write
from modelworks.errors import AlreadyExistsError, NotFoundError, SpecError
from modelworks.jobs import Input, Output, command

TRAIN = """
import json, os, sys
import modelworks as mw

data, lr, out, table = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = open(data).read().splitlines()
print(f"read {len(rows)} rows with lr={lr}")
print("a warning on stderr", file=sys.stderr)
for step in range(3):
    mw.log_metric("loss", 1.0 / (step + 1) * lr, step=step)
os.makedirs("outputs", exist_ok=True)
with open("outputs/summary.json", "w") as fh:
    json.dump({"rows": len(rows)}, fh)
with open(os.path.join(out, "weights.txt"), "w") as fh:
    fh.write(str(lr))
print("table files:", sorted(os.listdir(table)))
"""


def test_command_job_runs_end_to_end(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    ws = jobs_ws
    code = tmp_path / "src"
    write(code, "train.py", TRAIN)
    write(code, "notes.pyc", "compiled junk")
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    ws.data.create("tiny", str(data), type="mltable")
    job = command(
        code=str(code),
        command=(
            "python train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}} ${{inputs.table}}"
        ),
        inputs={
            "data": Input(type="uri_file", path=str(data)),
            "lr": 0.5,
            "table": Input(type="mltable", path="azureml:tiny@latest"),
        },
        outputs={"model": Output(type="custom_model", name="tiny-model")},
        experiment_name="jobs-e2e",
        display_name="first job",
        tags={"team": "ml"},
    )
    final = run_job(ws, job)
    assert job.name == final.name
    assert final.status == mw.RunStatus.COMPLETED, final.error
    run = ws.runs.get(final.id)
    assert run.kind == "command" and run.tags["team"] == "ml"
    assert run.tags["mw.job.display_name"] == "first job"
    assert run.params["lr"] == "0.5" and run.params["table"] == "azureml:tiny:1"
    assert run.metrics["loss"] == pytest.approx(0.5 / 3)
    paths = {e.path for e in ws.runs.list_artifacts(final.id)}
    assert {"code/train.py", "logs/std_log.txt", "outputs/summary.json"} <= paths
    assert "outputs/model/weights.txt" in paths
    assert "code/notes.pyc" not in paths  # ignored like Azure ML's snapshot does
    log = ws.jobs.logs(final.name)
    assert "read 3 rows with lr=0.5" in log and "a warning on stderr" in log
    assert "table files: ['MLTable', 'data.csv']" in log
    model = ws.models.get("tiny-model@latest")
    assert model.run_id == final.id
    assert run.tags["mw.job.output.model"] == "azureml:tiny-model:1"
    edges = ws.meta.list_lineage(run_id=final.id)
    assert any(e.direction == "input" and e.name == "tiny" for e in edges)
    target = ws.jobs.download(final.name, output_name="model", download_path=tmp_path / "dl")
    assert (target / "weights.txt").read_text() == "0.5"
    assert not (Path(ws.cache_dir) / "jobs" / final.id).exists()  # work folder cleaned up


def test_yaml_job_with_curated_environment_and_unknown_compute(
    jobs_ws: mw.Workspace, tmp_path: Path
) -> None:
    write(tmp_path / "src", "main.py", "import sys; print('epochs', sys.argv[1])")
    spec = write(
        tmp_path,
        "job.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        type: command
        code: src
        command: python main.py ${{inputs.epochs}} $[[--optional ${{inputs.extra}}]]
        inputs:
          epochs: 3
          extra:
            type: string
            optional: true
        environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
        compute: azureml:cpu-cluster
        experiment_name: yaml-jobs
        """,
    )
    with pytest.warns(mw.specs.SpecWarning) as caught:
        created = jobs_ws.jobs.create(spec, overrides=["inputs.epochs=7"], start_worker=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "curated environment" in messages and "cpu-cluster" in messages
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.compute == "local"
    assert jobs_ws.jobs.logs(final.name).strip() == "epochs 7"


def test_failing_command_shows_exit_code_and_stderr_tail(
    jobs_ws: mw.Workspace, tmp_path: Path
) -> None:
    script = "import sys\nfor i in range(50): print(f'noise {i}', file=sys.stderr)\n"
    script += "raise SystemExit('learning rate too high')\n"
    write(tmp_path / "src", "fail.py", script)
    final = run_job(jobs_ws, command(code=str(tmp_path / "src"), command="python fail.py"))
    assert final.status == mw.RunStatus.FAILED
    assert final.exit_code == 1
    assert final.error.startswith("Command exited with code 1.")
    assert final.error.rstrip().endswith("learning rate too high")
    assert "noise 49" in final.error and "noise 10" not in final.error  # only the tail


def test_missing_input_fails_before_anything_runs(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    before = len(jobs_ws.runs.search())
    job = command(
        command="python -c 'print(1)' ${{inputs.data}}",
        inputs={"data": Input(type="uri_folder", path="azureml:nothing-here@latest")},
    )
    with pytest.raises(NotFoundError, match=r"Input 'data'.*nothing-here"):
        jobs_ws.jobs.create(job, start_worker=False)
    missing = command(
        command="python -c 'print(1)' ${{inputs.data}}",
        inputs={"data": Input(type="uri_file", path=str(tmp_path / "absent.csv"))},
    )
    with pytest.raises(NotFoundError, match=r"absent.csv"):
        jobs_ws.jobs.create(missing, start_worker=False)
    unbound = command(command="echo ${{inputs.lr}}")
    with pytest.raises(SpecError, match=r"inputs.lr.*names no input 'lr'"):
        jobs_ws.jobs.create(unbound, start_worker=False)
    assert len(jobs_ws.runs.search()) == before


def test_unknown_environment_fails_clearly(jobs_ws: mw.Workspace) -> None:
    job = command(command="echo hi", environment="azureml:my-env:3")
    with pytest.raises(NotFoundError, match=r"Unknown environment 'azureml:my-env:3'"):
        jobs_ws.jobs.create(job, start_worker=False)


def test_job_names_are_unique(jobs_ws: mw.Workspace) -> None:
    run_job(jobs_ws, command(command="echo one", name="only-once"))
    with pytest.raises(AlreadyExistsError, match=r"only-once"):
        jobs_ws.jobs.create(command(command="echo two", name="only-once"), start_worker=False)


def test_cancel_running_job_kills_its_process_tree(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    script = f"""
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open({str(pids)!r}, "w") as fh:
        fh.write(f"{{os.getpid()}} {{child.pid}}")
    print("started", flush=True)
    time.sleep(600)
    """
    write(tmp_path / "src", "hang.py", script)
    created = jobs_ws.jobs.create(
        command(code=str(tmp_path / "src"), command="python hang.py"), start_worker=False
    )
    wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2)
    parent, child = (int(p) for p in pids.read_text().split())
    assert pid_alive(parent) and pid_alive(child)
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=30)
    assert final.status == mw.RunStatus.CANCELED
    assert not pid_alive(parent) and not pid_alive(child)
    assert "started" in jobs_ws.jobs.logs(created.name)


def test_cancel_queued_job_ends_at_once(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    created = ws.jobs.create(command(command="echo never"), start_worker=False)
    assert created.status == mw.RunStatus.QUEUED
    canceled = ws.jobs.cancel(created.name)
    assert canceled.status == mw.RunStatus.CANCELED
    assert ws.jobs.cancel(created.name).status == mw.RunStatus.CANCELED  # idempotent
    with ws.jobs.worker(poll_s=0.05):
        pass
    assert ws.jobs.get(created.name).status == mw.RunStatus.CANCELED
    ws.close()


def test_timeout_stops_the_job(jobs_ws: mw.Workspace) -> None:
    job = command(command=f"{sys.executable} -c 'import time; time.sleep(60)'", timeout=1)
    final = run_job(jobs_ws, job)
    assert final.status == mw.RunStatus.FAILED
    assert "limits.timeout (1 s)" in final.error


def test_stream_shows_output_while_the_job_runs(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    script = "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')\n"
    write(tmp_path / "src", "slow.py", script)
    created = jobs_ws.jobs.create(
        command(code=str(tmp_path / "src"), command="python slow.py"), start_worker=False
    )
    seen: list[tuple[str, str]] = []
    for kind, value in jobs_ws.jobs.events(created.name, poll_s=0.05):
        if kind == "log":
            seen.append(("log", value))
        elif kind == "status":
            seen.append(("status", value.status.value))
        elif kind == "end":
            seen.append(("end", value.status.value))
    statuses = [v for k, v in seen if k == "status"]
    assert statuses[0] in ("Queued", "Preparing", "Running") and statuses[-1] == "Completed"
    first = next(i for i, (k, v) in enumerate(seen) if k == "log" and "first" in v)
    running_end = next(i for i, (k, v) in enumerate(seen) if k == "status" and v == "Completed")
    assert first < running_end
    text = "".join(v for k, v in seen if k == "log")
    assert text == "first\nsecond\n"  # nothing lost, nothing twice


def test_concurrency_limit_holds_across_workers(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    ws.compute.create("local", type="local", max_concurrency=2)
    marks = tmp_path / "marks"
    marks.mkdir()
    script = (
        "import os, sys, time\n"
        "name = sys.argv[1]\n"
        f"open(os.path.join({str(marks)!r}, name + '.start'), 'w').write(repr(time.time()))\n"
        "time.sleep(0.4)\n"
        f"open(os.path.join({str(marks)!r}, name + '.end'), 'w').write(repr(time.time()))\n"
    )
    write(tmp_path / "src", "mark.py", script)
    names = []
    for i in range(8):
        job = command(code=str(tmp_path / "src"), command=f"python mark.py j{i}")
        names.append(ws.jobs.create(job, start_worker=False).name)
    with ws.jobs.worker(poll_s=0.05), ws.jobs.worker(poll_s=0.05):
        for name in names:
            assert ws.jobs.wait(name, timeout=60).status == mw.RunStatus.COMPLETED
    spans = [
        (float((marks / f"j{i}.start").read_text()), float((marks / f"j{i}.end").read_text()))
        for i in range(8)
    ]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2
    ws.close()


def test_job_list_get_and_download_logs(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    final = run_job(jobs_ws, command(command="echo listed", name="listed-job"))
    assert next(j.name for j in jobs_ws.jobs.list()) == "listed-job"
    assert jobs_ws.jobs.get(final.id).name == "listed-job"
    with pytest.raises(NotFoundError, match=r"No job named 'listed-jb'.*listed-job"):
        jobs_ws.jobs.get("listed-jb")
    folder = jobs_ws.jobs.download("listed-job", download_path=tmp_path / "dl")
    assert (folder / "logs" / "std_log.txt").read_text() == "listed\n"
    with pytest.raises(NotFoundError, match=r"has no output 'model'"):
        jobs_ws.jobs.download("listed-job", output_name="model")


def test_job_environment_variables_reach_the_process(jobs_ws: mw.Workspace) -> None:
    probe = (
        "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
        "['MODELWORKS_RUN_ID', 'MODELWORKS_WORKSPACE', 'MODELWORKS_EXPERIMENT_NAME', 'GREETING']}))"
    )
    job = command(
        command=f'{sys.executable} -c "{probe}"',
        environment_variables={"GREETING": "hello"},
        experiment_name="env-vars",
    )
    final = run_job(jobs_ws, job)
    seen = json.loads(jobs_ws.jobs.logs(final.name))
    assert seen == {
        "MODELWORKS_RUN_ID": final.id,
        "MODELWORKS_WORKSPACE": str(jobs_ws.root),
        "MODELWORKS_EXPERIMENT_NAME": "env-vars",
        "GREETING": "hello",
    }


def test_public_names_are_exported() -> None:
    assert {"command", "sweep", "Input", "Output", "Environment"} <= set(mw.__all__)
    assert mw.command is command and mw.Input is Input
