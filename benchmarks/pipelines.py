"""Pipelines benchmark: scheduling overhead per step, and an unchanged re-run with every step
reused, against the same 5 steps as 5 sequential plain command jobs and as 5 bare
subprocesses (the floor: no orchestration at all).

    python benchmarks/pipelines.py              # 3 repeats, medians
    python benchmarks/pipelines.py --repeats 5
    python benchmarks/pipelines.py --prefect    # also Prefect 3 (own venv, made on first use)

The pipeline is a chain of 5 trivial steps (each writes one small file that the next one
reads), so the steps run one after the other and the wall time is almost all orchestration:
queueing, claiming, materialising inputs, storing outputs, the driver noticing the end.
Everything runs on a local workspace with one worker process (local compute), as a user's
``modelworks job create`` does.

Targets (issue 7): < 0.3 s of scheduling overhead per step; an unchanged re-run < 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFECT_VENV = HERE / ".venv-prefect"
STEPS = 5
STEP_COMMAND = "python -c \"import sys, pathlib; pathlib.Path(sys.argv[2], 'v.txt').write_text(pathlib.Path(sys.argv[1]).read_text() if pathlib.Path(sys.argv[1]).is_file() else 'x')\""


def _pipeline_yaml(folder: Path) -> Path:
    seed = folder / "seed.txt"
    seed.write_text("seed")
    lines = [
        "type: pipeline",
        "inputs:",
        f"  seed: {{type: uri_file, path: {seed}}}",
        "settings:",
        "  default_compute: local",
        "jobs:",
    ]
    for i in range(STEPS):
        source = (
            "${{parent.inputs.seed}}" if i == 0 else f"${{{{parent.jobs.s{i - 1}.outputs.out}}}}"
        )
        lines += [
            f"  s{i}:",
            "    type: command",
            f"    command: {STEP_COMMAND} "
            + ("${{inputs.data}}" if i == 0 else "${{inputs.data}}/v.txt")
            + " ${{outputs.out}}",
            "    inputs:",
            f"      data: {source}",
            "    outputs:",
            "      out: {type: uri_folder}",
        ]
    path = folder / "pipeline.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


PREFECT_FLOW = """
import pathlib, subprocess, sys, time
from prefect import flow, task
from prefect.cache_policies import INPUTS, NO_CACHE

folder, seed, template, steps, repeats = sys.argv[1:6]

def make(policy):
    @task(cache_policy=policy, persist_result=policy is INPUTS)
    def step(command: str) -> str:
        subprocess.run(command, shell=True, check=True)
        return command

    @flow(log_prints=False)
    def chain(tag: str) -> None:
        previous = seed
        for i in range(int(steps)):
            out = pathlib.Path(folder, f"prefect-{tag}-{i}")
            out.mkdir(exist_ok=True)
            step(template.format(previous, out))
            previous = str(out / "v.txt")

    return chain

plain, cached = make(NO_CACHE), make(INPUTS)
plain("warm")  # starts Prefect's temporary local API once
for r in range(int(repeats)):
    started = time.perf_counter(); plain(f"run{r}"); cold = time.perf_counter() - started
    cached("cache")  # the first run fills the cache
    started = time.perf_counter(); cached("cache"); again = time.perf_counter() - started
    print(f"{cold} {again}", flush=True)
"""


def _prefect(folder: Path, repeats: int) -> tuple[float, float] | None:
    """Median (s/step of a 5-task chain, s for a cached re-run) with Prefect 3, or None."""
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        print("creating benchmarks/.venv-prefect (pip install prefect) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "prefect", "fastapi>=0.139,<0.150"],
            check=False,
        )
        if done.returncode != 0:
            return None
    script = folder / "prefect_flow.py"
    script.write_text(PREFECT_FLOW)
    template = STEP_COMMAND + " {} {}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(folder),
        "PREFECT_HOME": str(folder / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [
            str(python),
            str(script),
            str(folder),
            str(folder / "seed.txt"),
            template,
            str(STEPS),
            str(repeats),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        print(f"prefect run failed:\n{done.stderr[-2000:]}")
        return None
    rows = [tuple(map(float, line.split())) for line in done.stdout.splitlines() if line.strip()]
    return (
        statistics.median(r[0] for r in rows) / STEPS,
        statistics.median(r[1] for r in rows),
    )


def _step_seconds(ws: object, name: str) -> float:
    """Sum of the steps' own run times (process start to end) — what is not overhead."""
    total = 0.0
    for child in ws.jobs.list(parent_job_name=name):  # type: ignore[attr-defined]
        if child.start_time and child.end_time:
            total += (child.end_time - child.start_time) / 1000
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prefect", action="store_true", help="also time Prefect 3")
    args = parser.parse_args()
    import modelworks as mw

    folder = Path(tempfile.mkdtemp(prefix="mw-bench-pipelines-"))
    ws = mw.Workspace(folder / "ws")
    pipeline = _pipeline_yaml(folder)
    ws.jobs.start_worker(idle_exit_s=120)
    try:
        # warm up: the worker is up, caches are filled
        ws.jobs.wait(
            ws.jobs.create(
                pipeline, overrides=["settings.force_rerun=true"], start_worker=False
            ).name,
            timeout=120,
        )
        cold, overhead, reused, plain, bare = [], [], [], [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            job = ws.jobs.create(
                pipeline, overrides=["settings.force_rerun=true"], start_worker=False
            )
            done = ws.jobs.wait(job.name, timeout=120)
            wall = time.perf_counter() - started
            assert done.status == mw.RunStatus.COMPLETED, done.error
            cold.append(wall / STEPS)
            overhead.append((wall - _step_seconds(ws, job.name)) / STEPS)

            started = time.perf_counter()
            job = ws.jobs.create(pipeline, start_worker=False)
            done = ws.jobs.wait(job.name, timeout=60)
            reused.append(time.perf_counter() - started)
            assert done.status == mw.RunStatus.COMPLETED, done.error
            kids = ws.jobs.list(parent_job_name=job.name)
            assert all("mw.pipeline.reused_from" in k.tags for k in kids), "not all reused"

            started = time.perf_counter()
            previous = folder / "seed.txt"
            for i in range(STEPS):
                out = folder / f"plain{i}"
                out.mkdir(exist_ok=True)
                cmd = mw.command(
                    command=f"{STEP_COMMAND} ${{{{inputs.data}}}} ${{{{outputs.out}}}}",
                    inputs={"data": mw.Input(type="uri_file", path=str(previous))},
                    outputs={"out": mw.Output(type="uri_folder")},
                )
                finished = ws.jobs.wait(ws.jobs.create(cmd, start_worker=False).name, timeout=60)
                assert finished.status == mw.RunStatus.COMPLETED, finished.error
                local = ws.jobs.download(finished.name, download_path=out, output_name="out")
                previous = local / "v.txt"
            plain.append((time.perf_counter() - started) / STEPS)

            started = time.perf_counter()
            previous = folder / "seed.txt"
            for i in range(STEPS):
                out = folder / f"bare{i}"
                out.mkdir(exist_ok=True)
                subprocess.run(f"{STEP_COMMAND} {previous} {out}", shell=True, check=True)
                previous = out / "v.txt"
            bare.append((time.perf_counter() - started) / STEPS)
    finally:
        ws.jobs.stop_workers(wait_s=10)
    prefect = _prefect(folder, args.repeats) if args.prefect else None
    med = statistics.median
    print(f"5-step chain of trivial steps, local compute, median of {args.repeats}:")
    print(f"  pipeline, all steps run     {med(cold):6.3f} s/step wall")
    print(
        f"  scheduling overhead         {med(overhead):6.3f} s/step "
        f"(wall minus the steps' own run time; target < 0.3)"
    )
    print(f"  unchanged re-run, reused    {med(reused):6.3f} s end to end (target < 1.0)")
    print(f"  5 sequential command jobs   {med(plain):6.3f} s/step (submit, wait, download each)")
    print(f"  5 bare subprocesses         {med(bare):6.3f} s/step (no orchestration)")
    print(f"  ratio pipeline / command jobs   {med(cold) / med(plain):5.2f}x per step")
    print(f"  ratio pipeline / bare           {med(cold) / med(bare):5.2f}x per step")
    print(f"  ratio reused re-run / full run  {med(reused) / (med(cold) * STEPS):5.2f}x")
    if prefect is not None:
        print(f"  Prefect 3, 5-task chain     {prefect[0]:6.3f} s/step (temporary local API)")
        print(f"  Prefect 3, cached re-run    {prefect[1]:6.3f} s end to end (cache_policy=INPUTS)")
        print(f"  ratio pipeline / Prefect        {med(cold) / prefect[0]:5.2f}x per step")
        print(f"  ratio reused re-run / Prefect cached  {med(reused) / prefect[1]:5.2f}x")
    ok = med(overhead) < 0.3 and med(reused) < 1.0
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
