"""The component registry (``ws.components``) on SQLite and PostgreSQL: versions, @latest,
archive, code snapshots and their hash; the CLI; and what a server URL says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import modelworks as mw
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.pipelines.components import parse_component_ref


@pytest.fixture(params=["sqlite", "postgres"])
def db_ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[mw.Workspace]:
    if request.param == "sqlite":
        ws = mw.Workspace(tmp_path / "ws")
    else:
        url = request.getfixturevalue("postgres_url")
        ws = mw.Workspace(tmp_path / "ws", metadata_uri=url)
        from sqlalchemy import text

        with ws.meta._write_engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("DELETE FROM components"))
            conn.execute(text("DELETE FROM pipeline_step_reuse"))
    yield ws
    ws.close()


def test_versions_latest_archive_and_snapshot(db_ws: mw.Workspace, project: Path) -> None:
    components = db_ws.components
    first = components.create(project / "train.yml")
    assert first.version == "1"
    assert components.create(project / "train.yml").version == "1"  # same spec and code
    (project / "src" / "train.py").write_text("print('changed')\n")
    second = components.create(project / "train.yml")
    assert second.version == "2"
    assert second.code_hash != first.code_hash
    assert components.get("azureml:train@latest").version == "2"
    assert components.get("train", "1").code_hash == first.code_hash
    stored = db_ws.meta.list_artifact_entries("component/train/2", "code")
    assert {e.path for e in stored} >= {"code/train.py", "code/prep.py"}
    with pytest.raises(AlreadyExistsError, match="versions are immutable"):
        components.create(project / "train.yml", version="1")  # code changed since 1
    with pytest.raises(NotFoundError, match="has no version '9'; it has 1, 2"):
        components.get("azureml:train:9")
    components.archive("train", "2")
    assert components.get("train@latest").version == "1"
    assert [r.version for r in components.list("train")] == ["1"]
    assert len(components.list("train", include_archived=True)) == 2


def test_registered_component_in_a_pipeline(jobs_ws: mw.Workspace, project: Path) -> None:
    jobs_ws.components.create(project / "prep.yml")
    text = (project / "raw.txt").as_posix()
    job = mw.load_component("azureml:prep@latest")

    @mw.dsl.pipeline(default_compute="local")
    def only_prep(raw: Any) -> dict[str, Any]:
        return {"clean": job(raw=raw).outputs.clean}

    created = jobs_ws.jobs.create(
        only_prep(raw=mw.Input(type="uri_file", path=text)), start_worker=False
    )
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    child = jobs_ws.jobs.list(parent_job_name=created.name)[0]
    assert child.tags["mw.pipeline.component"] == "azureml:prep:1"


def test_refs_parse() -> None:
    assert parse_component_ref("azureml:train:3") == ("train", "3")
    assert parse_component_ref("train@latest") == ("train", None)
    with pytest.raises(InvalidInputError, match="no label 'prod'"):
        parse_component_ref("train@prod")


def test_cli_create_list_show_archive(tmp_path: Path, project: Path) -> None:
    from modelworks.cli import app

    runner = CliRunner()
    base = ["-w", str(tmp_path / "cli-ws")]
    done = runner.invoke(app, [*base, "component", "create", "-f", str(project / "train.yml")])
    assert done.exit_code == 0, done.output
    assert "train:1" in done.output
    listed = runner.invoke(app, [*base, "component", "list", "-o", "json"])
    assert '"version": "1"' in listed.output
    shown = runner.invoke(app, [*base, "component", "show", "train@latest"])
    assert "optional" in shown.output and "uri_folder" in shown.output
    archived = runner.invoke(app, [*base, "component", "archive", "train"])
    assert archived.exit_code == 0
    missing = runner.invoke(app, [*base, "component", "show", "train@latest"])
    assert missing.exit_code != 0 and "no (unarchived) version" in missing.output


@pytest.mark.slow
def test_components_and_pipelines_on_both_backends(ws: mw.Workspace, project: Path) -> None:
    """The same calls on a local workspace and through the server (whose workers run it)."""
    ws.components.create(project / "prep.yml")
    assert ws.components.get("azureml:prep@latest").version == "1"
    assert [r.name for r in ws.components.list()] == ["prep"]
    text = project / "pipeline.yml"
    text.write_text(
        "type: pipeline\n"
        "inputs:\n"
        "  raw: {type: uri_file, path: ./raw.txt}\n"
        "jobs:\n"
        "  prep:\n"
        "    component: azureml:prep@latest\n"
        "    inputs:\n"
        "      raw: ${{parent.inputs.raw}}\n"
        "  train:\n"
        "    component: ./train.yml\n"
        "    inputs:\n"
        "      data: ${{parent.jobs.prep.outputs.clean}}\n"
    )
    first = ws.jobs.wait(ws.jobs.create(text).name, timeout=120)
    assert first.status == mw.RunStatus.COMPLETED, first.error
    again = ws.jobs.wait(ws.jobs.create(text).name, timeout=120)
    kids = ws.jobs.list(parent_job_name=again.name)
    assert sorted(k.tags["mw.pipeline.step"] for k in kids) == ["prep", "train"]
    assert all("mw.pipeline.reused_from" in k.tags for k in kids)
    ws.components.archive("prep")
    with pytest.raises(NotFoundError):
        ws.components.get("prep@latest")
    if not ws.is_remote:
        ws.jobs.stop_workers(wait_s=10)


def test_reuse_index_latest_wins_and_forgets(db_ws: mw.Workspace) -> None:
    store = db_ws.components.store
    assert store.find_reusable("f" * 64) is None
    store.record_reusable("f" * 64, "a" * 32)
    store.record_reusable("f" * 64, "b" * 32)
    assert store.find_reusable("f" * 64) == "b" * 32
    store.forget_reusable("f" * 64)
    assert store.find_reusable("f" * 64) is None
