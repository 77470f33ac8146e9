"""The scheduler on SQLite and PostgreSQL: fires, snapshots, missed-occurrence policies after a
restart, disable/enable/delete, claims left by a dead scheduler, and two scheduler processes
firing each occurrence exactly once."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import modelworks as mw
from _schedules_support import write_project
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError, SpecError
from modelworks.schedules.scheduler import Scheduler, fire_job_name

EVERY_MINUTE = """
name: {name}
trigger: {{type: recurrence, frequency: minute, interval: 1}}
create_job:
  job: ./job.yml
  inputs: {{lr: 0.5}}
missed_occurrences: {policy}
"""


def _schedule(ws: mw.Workspace, root: Path, name: str, policy: str = "latest") -> mw.Workspace:
    ws.schedules.create(write_project(root, EVERY_MINUTE.format(name=name, policy=policy)))
    return ws


def _origin(ws: mw.Workspace, name: str) -> float:
    return ws.schedules.get(name).origin_at / 1000


def _reopen(ws: mw.Workspace) -> mw.Workspace:
    """A fresh Workspace on the same folder: what a restarted server opens."""
    return mw.Workspace(ws.root)


def test_fire_creates_the_snapshotted_job_with_overrides_and_tags(
    sched_ws: mw.Workspace, tmp_path: Path
) -> None:
    project = tmp_path / "proj"
    _schedule(sched_ws, project, "fire")
    origin = _origin(sched_ws, "fire")
    # The checkout changes after the schedule was made: the fire uses the snapshot.
    (project / "src" / "hello.py").write_text("print('hello v2')\n")
    (project / "job.yml").unlink()
    fires = sched_ws.schedules.trigger_due(start_workers=False, clock=lambda: origin + 0.5)
    assert [f.state for f in fires] == ["submitted"]
    job = sched_ws.jobs.get(fires[0].job_name or "")
    assert job.params["lr"] == "0.5"
    assert job.tags["mw.schedule.name"] == "fire"
    assert job.tags["mw.schedule.occurrence"] == datetime.fromtimestamp(origin, UTC).isoformat()
    code = sched_ws.meta.list_artifact_entries(f"run/{job.id}", "code/hello.py")
    assert code[0].digest == hashlib.sha256(b"print('hello v1')\n").hexdigest()
    shown = sched_ws.schedules.get("fire")
    assert [f.job_name for f in shown.recent_fires] == [job.name]
    assert shown.next_fire_at == int(origin * 1000) + 60_000
    # The same moment again fires nothing more.
    assert sched_ws.schedules.trigger_due(start_workers=False, clock=lambda: origin + 30) == []


@pytest.mark.parametrize(("policy", "fired", "missed"), [("latest", 1, 9), ("all", 10, 0)])
def test_restart_follows_the_missed_occurrence_policy(
    sched_ws: mw.Workspace, tmp_path: Path, policy: str, fired: int, missed: int
) -> None:
    name = f"restart-{policy}"
    _schedule(sched_ws, tmp_path / "proj", name, policy)
    origin = _origin(sched_ws, name)
    assert len(sched_ws.schedules.trigger_due(start_workers=False, clock=lambda: origin)) == 1
    # Down for ten minutes; a new process (new workspace object, new scheduler) comes up.
    restarted = _reopen(sched_ws)
    fires = Scheduler(restarted, start_workers=False).tick(now=origin + 600.5)
    assert len(fires) == fired
    assert fires[0].missed == missed
    assert fires[-1].occurrence_at == int(origin * 1000) + 600_000
    expected = [origin + 600 - 60 * i for i in range(fired)] + [origin]
    assert [f.occurrence_at for f in restarted.schedules.get(name).recent_fires] == [
        int(t * 1000) for t in expected
    ]
    restarted.close()


def test_policy_none_skips_late_occurrences(sched_ws: mw.Workspace, tmp_path: Path) -> None:
    _schedule(sched_ws, tmp_path / "proj", "skip", "none")
    origin = _origin(sched_ws, "skip")
    scheduler = Scheduler(_reopen(sched_ws), start_workers=False, grace_s=10)
    assert scheduler.tick(now=origin + 659) == []  # the last one (origin+600) is 59 s late
    schedule = sched_ws.schedules.get("skip")
    assert schedule.recent_fires == []
    assert schedule.next_fire_at == int(origin * 1000) + 660_000
    fires = scheduler.tick(now=origin + 662)  # 2 s late: within the grace
    assert [(f.occurrence_at, f.missed) for f in fires] == [(int(origin * 1000) + 660_000, 0)]


def test_disable_enable_delete(sched_ws: mw.Workspace, tmp_path: Path) -> None:
    _schedule(sched_ws, tmp_path / "proj", "pause")
    origin = _origin(sched_ws, "pause")
    assert not sched_ws.schedules.disable("pause").enabled
    assert sched_ws.schedules.trigger_due(start_workers=False, clock=lambda: origin + 600) == []
    before = time.time()
    enabled = sched_ws.schedules.enable("pause")
    assert enabled.enabled
    assert enabled.next_fire_at is not None and enabled.next_fire_at > before * 1000
    with pytest.raises(AlreadyExistsError, match="already exists"):
        _schedule(sched_ws, tmp_path / "proj", "pause")
    assert [s.name for s in sched_ws.schedules.list()] == ["pause"]
    sched_ws.schedules.delete("pause")
    with pytest.raises(NotFoundError, match="Schedule 'pause' does not exist"):
        sched_ws.schedules.get("pause")


def test_next_occurrences_in_the_schedules_time_zone(
    sched_ws: mw.Workspace, tmp_path: Path
) -> None:
    path = write_project(
        tmp_path / "proj",
        """
        name: nightly
        trigger: {type: cron, expression: "30 2 * * *", time_zone: Pacific Standard Time}
        create_job: ./job.yml
        """,
    )
    sched_ws.schedules.create(path)
    times = sched_ws.schedules.next_occurrences("nightly", count=5)
    zone = mw.Workspace  # keep mypy quiet about the unused import below
    assert zone is not None
    from zoneinfo import ZoneInfo

    local = [t.astimezone(ZoneInfo("America/Los_Angeles")) for t in times]
    assert len(local) == 5
    assert all(t > datetime.now(UTC) for t in times)
    assert all((t.hour, t.minute) in ((2, 30), (3, 30)) for t in local)


def test_a_claim_left_by_a_dead_scheduler_is_completed(
    sched_ws: mw.Workspace, tmp_path: Path
) -> None:
    _schedule(sched_ws, tmp_path / "proj", "orphan")
    origin = _origin(sched_ws, "orphan")
    dead = Scheduler(sched_ws, start_workers=False)
    schedule = dead.store.get_schedule("orphan")
    occurrence = int(origin * 1000)
    # The dead scheduler claimed the occurrence and died before creating its job.
    assert dead.store.claim_fire(
        schedule, occurrence, occurrence + 60_000, missed=0, claimed_by="x"
    )
    assert sched_ws.schedules.get("orphan").recent_fires[0].state == "claimed"
    survivor = Scheduler(_reopen(sched_ws), start_workers=False, claim_timeout_s=0)
    fires = survivor.tick(now=origin + 1)
    assert [(f.state, f.job_name) for f in fires] == [
        ("submitted", fire_job_name(schedule, occurrence))
    ]
    sched_ws.jobs.get(fire_job_name(schedule, occurrence))
    assert sched_ws.schedules.get("orphan").recent_fires[0].state == "submitted"


def test_bad_jobs_are_refused_at_create(
    sched_ws: mw.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    path = write_project(
        root, "name: ref\ntrigger: {type: cron, expression: '* * * * *'}\ncreate_job: azureml:x\n"
    )
    with pytest.raises(SpecError, match="not supported yet"):
        sched_ws.schedules.create(path)
    (root / "schedule.yml").write_text(
        "name: typo\ntrigger: {type: cron, expression: '* * * * *'}\n"
        "create_job: {job: ./job.yml, inputs: {lr: 0.1}, compute: local}\n"
    )
    (root / "job.yml").write_text("type: command\ncommand: ''\n")
    with pytest.raises(SpecError, match=r"(?s)job.yml.*command: must be the command"):
        sched_ws.schedules.create(root / "schedule.yml")
    write_project(root, EVERY_MINUTE.format(name="big", policy="latest"))
    (root / "data.bin").write_bytes(b"x" * 4096)
    monkeypatch.setenv("MODELWORKS_SNAPSHOT_LIMIT_MB", "0.002")
    with pytest.raises(InvalidInputError, match=r"snapshot limit.*amlignore"):
        sched_ws.schedules.create(root / "schedule.yml")
    (root / ".amlignore").write_text("data.bin\n")
    assert sched_ws.schedules.create(root / "schedule.yml").name == "big"
    ended = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (root / "old.yml").write_text(
        "name: old\ncreate_job: ./job.yml\n"
        f"trigger: {{type: cron, expression: '* * * * *', end_time: '{ended}'}}\n"
    )
    with pytest.raises(SpecError, match="never fires"):
        sched_ws.schedules.create(root / "old.yml")


def test_an_inline_job_resolves_paths_against_the_schedule_folder(
    sched_ws: mw.Workspace, tmp_path: Path
) -> None:
    path = write_project(
        tmp_path / "proj",
        """
        name: inline
        trigger: {type: recurrence, frequency: hour, interval: 6}
        create_job:
          type: command
          code: ./src
          command: python hello.py
          experiment_name: inline-exp
        """,
    )
    sched_ws.schedules.create(path)
    origin = _origin(sched_ws, "inline")
    fires = sched_ws.schedules.trigger_due(start_workers=False, clock=lambda: origin)
    job = sched_ws.jobs.get(fires[0].job_name or "")
    assert sched_ws.meta.list_artifact_entries(f"run/{job.id}", "code/hello.py")
    assert (
        sched_ws.schedules.next_occurrences("inline", count=1)[0].timestamp() == origin + 6 * 3600
    )


@pytest.mark.slow
def test_two_scheduler_processes_fire_each_occurrence_exactly_once(
    sched_ws: mw.Workspace, tmp_path: Path
) -> None:
    base = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    end = base + timedelta(minutes=9)
    path = write_project(
        tmp_path / "proj",
        f"""
        name: race
        trigger:
          type: recurrence
          frequency: minute
          interval: 1
          start_time: "{base.isoformat()}"
          end_time: "{end.isoformat()}"
        create_job: ./job.yml
        missed_occurrences: all
        """,
    )
    sched_ws.schedules.create(path)
    # Both processes share one fast clock: a simulated minute per real second.
    t0 = time.time() + 2.0
    args = [str(base.timestamp() - 5), str(t0), "60", str(end.timestamp() + 60)]
    script = Path(__file__).with_name("_scheduler_proc.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(sched_ws.root), *args],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    fires = sched_ws.schedules.list_fires("race", max_results=100)
    expected = [int((base + timedelta(minutes=i)).timestamp() * 1000) for i in range(10)]
    assert sorted(f.occurrence_at for f in fires) == expected
    assert {f.state for f in fires} == {"submitted"}
    assert sum(int(out.strip()) for out in outputs) == 10
    jobs = [sched_ws.jobs.get(f.job_name or "") for f in fires]
    assert len({j.id for j in jobs}) == 10
    assert all(j.tags["mw.schedule.name"] == "race" for j in jobs)
