"""The entry point, workspace commands, experiments, tokens and ``modelworks server``.

A few tests run the installed ``modelworks`` script and ``python -m modelworks.cli`` as real
subprocesses; the rest use Typer's CliRunner in-process for speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

import modelworks as mw_sdk
from modelworks.cli import app

SCRIPT = Path(sys.executable).with_name("modelworks")
runner = CliRunner()


def mw(ws: Path | str, *args: str, **kwargs: Any) -> Result:
    return runner.invoke(app, ["-w", str(ws), *args], **kwargs)


def ok(ws: Path | str, *args: str, **kwargs: Any) -> Result:
    result = mw(ws, *args, **kwargs)
    assert result.exit_code == 0, f"{args}: {result.stderr}\n{result.stdout}\n{result.exception!r}"
    return result


def as_json(ws: Path | str, *args: str, **kwargs: Any) -> Any:
    return json.loads(ok(ws, *args, "-o", "json", **kwargs).stdout)


def user_error(ws: Path | str, *args: str) -> str:
    result = mw(ws, *args)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


def run_script(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELWORKS_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environ, **env},
        timeout=120,
    )


# ----------------------------------------------------------------------------- entry point


def test_installed_script_and_python_dash_m() -> None:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: pip install -e . in the virtualenv"
    script = run_script("version", "-o", "json")
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout)["modelworks"] == mw_sdk.__version__
    module = subprocess.run(
        [sys.executable, "-m", "modelworks.cli", "version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert module.returncode == 0, module.stderr
    assert module.stdout.strip().startswith(f"modelworks {mw_sdk.__version__}")


def test_help_lists_the_nouns_and_loads_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from modelworks.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.stdout)\n"
        "heavy = ('pandas', 'numpy', 'sklearn', 'sqlalchemy', 'fastapi', 'httpx', 'pyarrow')\n"
        "print('LOADED:', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED: []" in done.stdout
    for noun in ("data", "model", "job", "experiment", "token", "server", "init", "db", "gc"):
        assert f" {noun} " in done.stdout


def test_exit_codes_of_the_real_process(tmp_path: Path) -> None:
    unknown_option = run_script("-w", str(tmp_path / "ws"), "data", "list", "--bogus")
    assert unknown_option.returncode == 2
    assert "No such option" in unknown_option.stderr and unknown_option.stdout == ""
    unknown_command = run_script("frobnicate")
    assert unknown_command.returncode == 2
    missing = run_script("-w", str(tmp_path / "ws"), "data", "show", "nope:1", "-o", "json")
    assert missing.returncode == 1
    assert missing.stdout == ""  # JSON mode: nothing on stdout when failing
    assert missing.stderr.startswith("Error: No data asset named 'nope'")
    from_env = run_script("data", "list", "-o", "json", MODELWORKS_WORKSPACE=str(tmp_path / "ws"))
    assert from_env.returncode == 0 and json.loads(from_env.stdout) == []


# ----------------------------------------------------------------------- workspace commands


def test_init_prints_where_the_database_and_blobs_are(tmp_path: Path) -> None:
    target = tmp_path / "team-ws"
    out = ok(tmp_path / "ignored", "init", str(target)).stdout
    flat = " ".join(out.split())
    assert str(target) in flat and "modelworks.db" in flat and "blobs" in flat
    assert (target / "workspace.yaml").is_file() and (target / "modelworks.db").is_file()
    assert not (tmp_path / "ignored").exists()
    info = as_json(target, "init")
    assert info["workspace"] == str(target)
    assert info["metadata_uri"] == f"sqlite:///{target / 'modelworks.db'}"
    assert info["artifact_uri"] == str(target / "blobs")
    custom = as_json(
        tmp_path,
        "init",
        str(tmp_path / "custom"),
        "--metadata-uri",
        f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "--artifact-uri",
        str(tmp_path / "elsewhere-blobs"),
    )
    assert custom["metadata_uri"].endswith("elsewhere.db")
    assert (tmp_path / "elsewhere.db").is_file()
    assert "server URL" in user_error("http://127.0.0.1:9", "init")


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    from modelworks.store.sql.engine import head_revisions

    head = ",".join(sorted(head_revisions()))
    ws = tmp_path / "ws"
    message = user_error(ws, "db", "upgrade")
    assert "No workspace at" in message and "modelworks init" in message
    ok(ws, "init")
    result = as_json(ws, "db", "upgrade")
    assert result["revision"] == result["head"] == head
    assert result["upgraded"] is False
    assert head in ok(ws, "db", "upgrade").stdout
    # A database that has never been migrated is brought to the head revision.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "workspace.yaml").write_text(
        f"metadata_uri: sqlite:///{fresh / 'meta.db'}\nartifact_uri: {fresh / 'blobs'}\n"
    )
    upgraded = as_json(fresh, "db", "upgrade")
    assert (upgraded["from_revision"], upgraded["revision"], upgraded["upgraded"]) == (
        None,
        head,
        True,
    )


def test_gc_reclaims_blobs_of_deleted_models(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(4096))
    ok(ws, "model", "create", "--name", "m", "--path", str(folder))
    assert as_json(ws, "gc") == {"blobs_deleted": 0, "bytes_freed": 0}
    ok(ws, "model", "delete", "--name", "m", "--yes")
    # Stored a moment ago: the grace period for uploads in flight keeps it.
    assert as_json(ws, "gc") == {"blobs_deleted": 0, "bytes_freed": 0}
    reclaimed = as_json(ws, "gc", "--min-age", "0")
    assert reclaimed["blobs_deleted"] == 1 and reclaimed["bytes_freed"] == 4096
    assert "Deleted 0 unreferenced blobs" in ok(ws, "gc", "--min-age", "0").stdout


def test_gc_grace_period_counts_from_when_a_blob_was_stored(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(2048))
    ok(ws, "model", "create", "--name", "m", "--path", str(folder))
    ok(ws, "model", "delete", "--name", "m", "--yes")
    (blob,) = [p for p in (ws / "blobs").rglob("*") if p.is_file() and len(p.name) == 64]
    hours_ago = time.time() - 2 * 3600
    os.utime(blob, (hours_ago, hours_ago))
    assert as_json(ws, "gc", "--min-age", "7300") == {"blobs_deleted": 0, "bytes_freed": 0}
    assert as_json(ws, "gc")["blobs_deleted"] == 1  # default grace: one hour
    assert not blob.exists()
    refused = mw(ws, "gc", "--min-age", "-1")
    assert refused.exit_code == 2 and "--min-age" in refused.stderr


# ------------------------------------------------------------------------------ experiments


def test_experiments(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    created = as_json(ws, "experiment", "create", "--name", "bank", "--tag", "team=risk")
    assert created["name"] == "bank" and created["tags"] == {"team": "risk"}
    assert [e["name"] for e in as_json(ws, "experiment", "list")] == ["bank"]
    assert "already" in user_error(ws, "experiment", "create", "--name", "bank").lower()
    ok(ws, "experiment", "delete", "--name", "bank")
    assert as_json(ws, "experiment", "list") == []
    hidden = as_json(ws, "experiment", "list", "--include-deleted")
    assert [(e["name"], e["deleted"]) for e in hidden] == [("bank", True)]
    ok(ws, "experiment", "restore", "--name", "bank")
    assert "team=risk" in ok(ws, "experiment", "list").stdout
    assert "No experiment named 'bnak'" in user_error(ws, "experiment", "delete", "--name", "bnak")


# ----------------------------------------------------------------------------------- tokens


def test_tokens_on_a_local_workspace(tmp_path: Path) -> None:
    from modelworks.server.tokens import hash_token
    from modelworks.store import open_metadata

    ws = tmp_path / "ws"
    created = mw(ws, "token", "create", "--name", "ci", "--role", "reader")
    assert created.exit_code == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("mw_") and len(token) > 40 and "\n" not in token
    assert "cannot be shown again" in " ".join(created.stderr.split())
    with mw_sdk.Workspace(ws) as sdk:
        stored = sdk.meta.get_token_by_hash(hash_token(token))
    assert (stored.name, stored.role, stored.revoked) == ("ci", "reader", False)

    as_data = as_json(ws, "token", "create", "--name", "bot", "--role", "writer")
    assert as_data["token"].startswith("mw_") and as_data["role"] == "writer"
    listed = as_json(ws, "token", "list")
    assert {(t["name"], t["role"]) for t in listed} == {("ci", "reader"), ("bot", "writer")}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert token not in ok(ws, "token", "list").stdout

    ok(ws, "token", "revoke", stored.id)
    assert {t["name"]: t["revoked"] for t in as_json(ws, "token", "list")} == {
        "ci": True,
        "bot": False,
    }
    assert mw(ws, "token", "create", "--name", "x", "--role", "boss").exit_code == 2
    meta = open_metadata(f"sqlite:///{ws / 'modelworks.db'}")
    try:
        assert len(meta.list_tokens()) == 2
    finally:
        meta.close()


@pytest.mark.slow
def test_server_command_serves_the_workspace_to_the_cli(tmp_path: Path) -> None:
    """`modelworks server` in a subprocess; the CLI then works against its URL with a token."""
    from _live_server import free_port

    ws = tmp_path / "ws"
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    ok(ws, "data", "create", "--name", "t", "--path", str(csv), "--type", "mltable")
    admin = mw(ws, "token", "create", "--name", "admin", "--role", "admin").stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELWORKS_")}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(SCRIPT), "-w", str(ws), "server", "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environ,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        shown = as_json(url, "data", "show", "t@latest", "--token", admin)
        assert shown["profile"]["rows"] == 2
        reader = mw(url, "token", "create", "--name", "r", "--role", "reader", "--token", admin)
        assert reader.exit_code == 0 and reader.stdout.startswith("mw_")
        assert {t["name"] for t in as_json(url, "token", "list", "--token", admin)} == {
            "admin",
            "r",
        }
        assert as_json(url, "data", "list", "--token", reader.stdout.strip())[0]["name"] == "t"
        assert "requires an API token" in user_error(url, "data", "list")
        assert "server URL" in user_error(url, "db", "upgrade")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
