"""Jobs benchmark: job overhead, sweep wall time and a 200-job queue, each against running the
same commands directly in the same run, printing ratios.

    .venv/bin/python benchmarks/jobs.py            # all three
    .venv/bin/python benchmarks/jobs.py --only overhead|sweep|queue

1. Overhead of a trivial job (``python -c "print(1)"``) on local compute, submit → Completed
   with its log stored, over 20 jobs, against running the command directly (a warm worker
   process, as ``modelworks up`` or an earlier job leaves one). Target: < 0.5 s.
2. A sweep of 20 trials of a 1-second script (it logs its metric with ``mw.log_metric`` and
   lasts one second) with max_concurrent_trials=2 on 2 cores, against the ideal 10 s and
   against the same 20 scripts run directly two at a time. Target: <= 1.25 x 10 s.
3. 200 jobs queued at once: every one completes exactly once, and at no moment do more run
   than the compute's limit (2), with two worker processes competing for them. Compared with
   running the 200 commands directly two at a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import modelworks as mw
from modelworks.jobs import command, sweep

PYTHON = sys.executable


def _ws(root: Path, *, workers: int = 1, limit: int = 2) -> mw.Workspace:
    ws = mw.Workspace(root)
    ws.compute.create("local", type="local", max_concurrency=limit, replace=True)
    for _ in range(workers):
        ws.jobs.start_worker(idle_exit_s=0, poll_seconds=0.2)
    deadline = time.monotonic() + 60
    while len(ws.jobs.live_workers()) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.05)
    return ws


def overhead(root: Path, n: int = 20) -> bool:
    cmd = f'{PYTHON} -c "print(1)"'
    ws = _ws(root / "overhead")
    try:
        warm = ws.jobs.create(command(command=cmd, experiment_name="bench"), start_worker=False)
        ws.jobs.wait(warm.name, timeout=120)
        direct = []
        for _ in range(n):
            start = time.perf_counter()
            subprocess.run(cmd, shell=True, check=True, capture_output=True)
            direct.append(time.perf_counter() - start)
        jobs = []
        for _ in range(n):
            start = time.perf_counter()
            job = ws.jobs.create(command(command=cmd, experiment_name="bench"), start_worker=False)
            final = ws.jobs.wait(job.name, timeout=120, poll_s=0.005)
            jobs.append(time.perf_counter() - start)
            assert final.status == mw.RunStatus.COMPLETED, final.error
            assert ws.jobs.logs(job.name) == "1\n"  # the log is stored
    finally:
        ws.jobs.stop_workers()
        ws.close()
    d, j = statistics.mean(direct), statistics.mean(jobs)
    gap = j - d
    ok = gap < 0.5
    print(
        f"overhead: direct {d * 1000:.0f} ms, job {j * 1000:.0f} ms (p95 "
        f"{sorted(jobs)[int(0.95 * n) - 1] * 1000:.0f} ms) -> overhead {gap * 1000:.0f} ms "
        f"(target < 500 ms) {'OK' if ok else 'MISSED'}; ratio job/direct {j / d:.1f}x",
        flush=True,
    )
    return ok


TRIAL = textwrap.dedent(
    """
    import time
    t0 = time.time()
    import sys
    import modelworks as mw

    x = float(sys.argv[1])
    mw.log_metric("score", -(x - 0.5) ** 2)
    mw.flush()
    time.sleep(max(0.0, 1.0 - (time.time() - t0)))
    """
).lstrip()


def sweep_time(root: Path, trials: int = 20) -> bool:
    code = root / "sweep-src"
    code.mkdir(parents=True)
    (code / "trial.py").write_text(TRIAL)
    ws = _ws(root / "sweep")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _live_server import LiveServer

    try:
        # Direct: the same scripts, two at a time, each logging to a run of its own through
        # a `modelworks server` of the workspace (as a job's script does through its worker).
        with LiveServer(ws.root) as (url, token):
            exp = ws.runs.get_or_create_experiment("direct")
            env = {**os.environ, "MODELWORKS_WORKSPACE": url, "MODELWORKS_TOKEN": token}

            def one(i: int) -> float:
                run = ws.meta.create_run(exp.id)
                start = time.perf_counter()
                subprocess.run(
                    [PYTHON, str(code / "trial.py"), str(i / trials)],
                    env={**env, "MODELWORKS_RUN_ID": run.id},
                    check=True,
                    cwd=code,
                )
                return time.perf_counter() - start

            start = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                durations = list(pool.map(one, range(trials)))
            direct = time.perf_counter() - start
        trial = command(code=str(code), command="python trial.py ${{search_space.x}}")
        job = sweep(
            trial,
            search_space={"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            primary_metric="score",
            goal="maximize",
            max_total_trials=trials,
            max_concurrent_trials=2,
            experiment_name="bench-sweep",
        )
        start = time.perf_counter()
        created = ws.jobs.create(job, start_worker=False)
        final = ws.jobs.wait(created.name, timeout=600, poll_s=0.01)
        took = time.perf_counter() - start
        assert final.status == mw.RunStatus.COMPLETED, final.error
        done = ws.jobs.list(parent_job_name=created.name, max_results=1000)
        assert len(done) == trials and all(t.status == mw.RunStatus.COMPLETED for t in done)
    finally:
        ws.jobs.stop_workers()
        ws.close()
    ideal = trials * 1.0 / 2
    ok = took <= 1.25 * ideal
    print(
        f"sweep: {trials} trials x 1 s, 2 at a time: {took:.2f} s = {took / ideal:.2f}x the "
        f"ideal {ideal:.0f} s (target <= 1.25x) {'OK' if ok else 'MISSED'}; direct two at a "
        f"time {direct:.2f} s (script {statistics.mean(durations):.2f} s each) -> "
        f"{took / direct:.2f}x direct (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores)",
        flush=True,
    )
    return ok


def queue(root: Path, n: int = 200, limit: int = 2) -> bool:
    marks = root / "marks.log"
    script = (
        "import os, sys, time; name = sys.argv[1]; "
        f"f = os.open({str(marks)!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT); "
        "os.write(f, f'start {name} {time.time()!r}\\n'.encode()); time.sleep(0.05); "
        "os.write(f, f'end {name} {time.time()!r}\\n'.encode())"
    )
    ws = _ws(root / "queue", workers=2, limit=limit)
    try:
        start = time.perf_counter()
        names = []
        for i in range(n):
            job = command(command=f'{PYTHON} -c "{script}" q{i}', experiment_name="bench-queue")
            names.append(ws.jobs.create(job, start_worker=False).name)
        submitted = time.perf_counter() - start
        finals = [ws.jobs.wait(name, timeout=1200, poll_s=0.05) for name in names]
        took = time.perf_counter() - start
    finally:
        ws.jobs.stop_workers()
        ws.close()
    completed = sum(f.status == mw.RunStatus.COMPLETED for f in finals)
    events = []
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for line in marks.read_text().splitlines():
        kind, name, stamp = line.split()
        (starts if kind == "start" else ends)[name] = (starts if kind == "start" else ends).get(
            name, 0
        ) + 1
        events.append((float(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events):
        running += delta
        peak = max(peak, running)
    exactly_once = all(starts.get(f"q{i}") == 1 and ends.get(f"q{i}") == 1 for i in range(n))
    cmd = [PYTHON, "-c", script.replace(str(marks), str(root / "direct.log"))]
    begin = time.perf_counter()
    with ThreadPoolExecutor(limit) as pool:
        list(pool.map(lambda i: subprocess.run([*cmd, f"d{i}"], check=True), range(n)))
    direct = time.perf_counter() - begin
    ok = completed == n and exactly_once and peak <= limit
    print(
        f"queue: {n} jobs queued in {submitted:.1f} s, all done in {took:.1f} s; completed "
        f"{completed}/{n}, each ran exactly once: {exactly_once}, peak concurrency {peak} "
        f"(limit {limit}) {'OK' if ok else 'MISSED'}; direct two at a time {direct:.1f} s -> "
        f"{took / direct:.2f}x direct",
        flush=True,
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["overhead", "sweep", "queue"])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="mw-jobs-bench-") as tmp:
        os.environ.setdefault("MODELWORKS_ENV_CACHE", str(Path(tmp) / "envs"))
        root = Path(tmp)
        if args.only in (None, "overhead"):
            results.append(overhead(root))
        if args.only in (None, "sweep"):
            results.append(sweep_time(root))
        if args.only in (None, "queue"):
            results.append(queue(root))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
