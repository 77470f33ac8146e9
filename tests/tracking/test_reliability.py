"""Crash safety and at-exit flushing of the tracking client, with real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import modelworks as mw
from modelworks.entities import RunStatus

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import modelworks as mw
    ws = mw.Workspace(sys.argv[1])
    run = mw.start_run(experiment="crash", workspace=ws)
    print(run.id, flush=True)
    step = 0
    big = b"x" * (1 << 20)
    while True:
        mw.log_metric("loss", 1.0 / (step + 1), step=step)
        if step % 500 == 0:
            with open(sys.argv[2], "wb") as handle:
                handle.write(big * 8)
            mw.log_artifact(sys.argv[2], "blobs")
        step += 1
        time.sleep(0.0005)
    """
)


def test_sigkill_leaves_consistent_store_and_reaps_run(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = {**os.environ, "MODELWORKS_HEARTBEAT_INTERVAL": "0.2"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(workspace), str(tmp_path / "blob.bin")],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().decode().strip()
    time.sleep(2.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    db = sqlite3.connect(workspace / "modelworks.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    blobs = workspace / "blobs" / "sha256"
    for blob in blobs.rglob("*"):
        if blob.is_file():
            import hashlib

            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

    os.environ["MODELWORKS_HEARTBEAT_TIMEOUT"] = "0.5"
    try:
        time.sleep(0.6)
        ws = mw.Workspace(workspace)  # opening a local workspace reaps stale runs
        run = ws.runs.get(run_id)
    finally:
        del os.environ["MODELWORKS_HEARTBEAT_TIMEOUT"]
    assert run.status == RunStatus.FAILED
    assert "heartbeat" in (run.error or "")
    assert len(ws.runs.get_metric_history(run_id, "loss")) > 0


def test_queued_metrics_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    script = textwrap.dedent(
        """
        import sys
        import modelworks as mw
        ws = mw.Workspace(sys.argv[1])
        run = ws.runs.create("exit")
        for i in range(20000):
            ws.runs.log_metric(run.id, "m", float(i), step=i)
        print(run.id)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(workspace)], capture_output=True, text=True, check=True
    )
    ws = mw.Workspace(workspace)
    assert len(ws.runs.get_metric_history(out.stdout.strip(), "m")) == 20000
