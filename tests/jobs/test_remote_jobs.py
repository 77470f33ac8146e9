"""Jobs through a server URL: ``Workspace(url).jobs`` submits, follows, downloads and cancels
jobs that the server's own workers run (the job store port over HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelworks as mw
from _live_server import LiveServer
from modelworks import Input, Output, command
from modelworks.jobs.queue import WorkerRecord
from modelworks.server.tokens import create_token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    folder = tmp_path_factory.mktemp("remote-jobs") / "ws"
    with LiveServer(folder) as (url, token):
        yield url, token, folder
    local = mw.Workspace(folder)
    local.jobs.stop_workers(wait_s=10)
    local.close()


@pytest.fixture
def remote(server: tuple[str, str, Path]) -> Iterator[mw.Workspace]:
    url, token, _ = server
    ws = mw.Workspace(url, token=token)
    yield ws
    ws.close()


def _token(server: tuple[str, str, Path], role: str) -> str:
    url, admin, _ = server
    ws = mw.Workspace(url, token=admin)
    try:
        return create_token(ws.meta, f"{role}-{time.monotonic_ns()}", role)
    finally:
        ws.close()


def test_a_job_submitted_through_the_server_runs_on_its_workers(
    remote: mw.Workspace, server: tuple[str, str, Path], tmp_path: Path
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text(
        "import json, os, sys\n"
        "rows = open(sys.argv[1]).read().splitlines()\n"
        "os.makedirs(sys.argv[2], exist_ok=True)\n"
        "json.dump({'rows': len(rows)}, open(os.path.join(sys.argv[2], 'count.json'), 'w'))\n"
        "print('counted', len(rows))\n"
    )
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n2\n3\n")
    job = command(
        code=str(code),
        command="python train.py ${{inputs.data}} ${{outputs.out}}",
        inputs={"data": Input(type="uri_file", path=str(data))},
        outputs={"out": Output(type="uri_folder")},
        experiment_name="remote",
    )
    created = remote.jobs.create(job)
    assert created.status.value == "Queued"
    final = remote.jobs.wait(created.name, timeout=120)
    assert final.status.value == "Completed", remote.jobs.logs(final.name)
    assert "counted 4" in remote.jobs.logs(final.name)
    target = remote.jobs.download(final.name, download_path=tmp_path / "got", output_name="out")
    (found,) = list(Path(target).rglob("count.json"))
    assert json.loads(found.read_text()) == {"rows": 4}
    # The same job is what the server's own folder sees.
    _, _, folder = server
    local = mw.Workspace(folder)
    try:
        assert local.jobs.get(final.name).status.value == "Completed"
    finally:
        local.close()
    assert final.name in [j.name for j in remote.jobs.list()]


def test_yaml_job_streams_and_cancels_through_the_server(
    remote: mw.Workspace, tmp_path: Path
) -> None:
    (tmp_path / "job.yml").write_text(
        "type: command\n"
        "command: python -c \"import time; print('started', flush=True); time.sleep(120)\"\n"
        "experiment_name: remote\n"
    )
    created = remote.jobs.create(tmp_path / "job.yml")
    deadline = time.monotonic() + 60
    while "started" not in remote.jobs.logs(created.name):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    remote.jobs.cancel(created.name)
    final = remote.jobs.wait(created.name, timeout=60)
    assert final.status.value == "Canceled"


def test_roles_through_the_server(server: tuple[str, str, Path]) -> None:
    url, _, _ = server
    reader = mw.Workspace(url, token=_token(server, "reader"))
    writer = mw.Workspace(url, token=_token(server, "writer"))
    try:
        reader.jobs.list()  # reading is allowed
        with pytest.raises(mw.PermissionDeniedError, match="writer"):
            reader.jobs.create(command(command="echo hi"))
        now = int(time.time() * 1000)
        worker = WorkerRecord(
            id="w", host="h", pid=1, computes=["local"], started_at=now, heartbeat_at=now
        )
        with pytest.raises(mw.PermissionDeniedError, match="admin"):
            writer.jobs.store.register_worker(worker)
        with pytest.raises(mw.NotFoundError, match="no-such-job"):
            writer.jobs.get("no-such-job")
    finally:
        reader.close()
        writer.close()
