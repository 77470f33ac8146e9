"""``modelworks data ...`` on a real workspace with the real bank-marketing CSV (in-process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from modelworks.cli import app
from modelworks.cli._profile import BLOCKS, sparkline

BANK_COLUMNS = [
    "age",
    "job",
    "marital",
    "education",
    "default",
    "housing",
    "loan",
    "contact",
    "month",
    "day_of_week",
    "duration",
    "campaign",
    "pdays",
    "previous",
    "poutcome",
    "emp.var.rate",
    "cons.price.idx",
    "cons.conf.idx",
    "euribor3m",
    "nr.employed",
    "response",
]

runner = CliRunner()


def mw(ws: Path, *args: str, **kwargs: Any) -> Result:
    return runner.invoke(app, ["-w", str(ws), *args], **kwargs)


def ok(ws: Path, *args: str, **kwargs: Any) -> Result:
    result = mw(ws, *args, **kwargs)
    assert result.exit_code == 0, f"{args}: {result.stderr}\n{result.stdout}\n{result.exception!r}"
    return result


def as_json(ws: Path, *args: str) -> Any:
    return json.loads(ok(ws, *args, "-o", "json").stdout)


def user_error(ws: Path, *args: str) -> str:
    """Run a command that must fail on a user error; return its stderr."""
    result = mw(ws, *args)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stdout == ""
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def bank_ws(tmp_path_factory: pytest.TempPathFactory, bank_csv: Path) -> Path:
    """A workspace holding bank:1, an mltable registered from a copy of the real CSV."""
    root = tmp_path_factory.mktemp("data-cli")
    csv = root / "bankmarketing_train.csv"
    shutil.copyfile(bank_csv, csv)
    ws = root / "ws"
    ok(ws, "init")
    created = as_json(
        ws, "data", "create", "--name", "bank", "--path", str(csv), "--type", "mltable"
    )
    assert created["version"] == "1" and created["created"] is True
    return ws


def test_show_json_has_the_profile_of_the_whole_csv(bank_ws: Path) -> None:
    shown = as_json(bank_ws, "data", "show", "bank@latest")
    assert (shown["name"], shown["version"], shown["type"]) == ("bank", "1", "mltable")
    assert shown["profile"]["rows"] == 32950
    assert [c["name"] for c in shown["profile"]["column_profiles"]] == BANK_COLUMNS
    assert {f["path"] for f in shown["files"]} == {"MLTable", "bankmarketing_train.csv"}
    # The other reference forms name the same version.
    for ref in ("bank:1", "azureml:bank:1", "data:/bank/1", "bank"):
        assert as_json(bank_ws, "data", "show", ref)["content_hash"] == shown["content_hash"]
    by_name = as_json(bank_ws, "data", "show", "--name", "bank", "--version", "1")
    assert by_name["content_hash"] == shown["content_hash"]


def test_show_table_renders_statistics_and_histograms(bank_ws: Path) -> None:
    profile = as_json(bank_ws, "data", "show", "bank:1")["profile"]
    age = next(c for c in profile["column_profiles"] if c["name"] == "age")
    expected = sparkline(age["histogram"]["counts"])
    for columns in ("80", "200"):  # separate histogram table, then inline
        out = ok(bank_ws, "data", "show", "bank:1", env={"COLUMNS": columns}).stdout
        assert "32,950 rows, 21 columns" in out
        age_lines = [line for line in out.splitlines() if line.split()[:1] == ["age"]]
        assert any(expected in line for line in age_lines), (expected, age_lines)
        stats = next(line for line in age_lines if "int64" in line).split()
        assert stats[:7] == ["age", "int64", "0", "77", "17", "40.04", "98"]
        job = next(line for line in out.splitlines() if line.split()[:1] == ["job"])
        assert "categorical" in job and "admin." in job


def test_identical_registration_returns_the_same_version_and_force_makes_v2(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    csv = tmp_path / "small.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,x\n")
    first = as_json(ws, "data", "create", "-n", "small", "-p", str(csv), "-t", "mltable")
    again = mw(ws, "data", "create", "-n", "small", "-p", str(csv), "-t", "mltable", "-o", "json")
    assert again.exit_code == 0
    repeat = json.loads(again.stdout)
    assert (repeat["version"], repeat["created"]) == (first["version"], False)
    assert "already holds this content" in again.stderr
    forced = as_json(
        ws, "data", "create", "-n", "small", "-p", str(csv), "-t", "mltable", "--force"
    )
    assert (forced["version"], forced["created"]) == ("2", True)
    versions = as_json(ws, "data", "list", "--name", "small")
    assert [v["version"] for v in versions] == ["2", "1"]


def test_wrong_version_fails_and_lists_the_existing_versions(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    csv = tmp_path / "t.csv"
    for i in range(3):
        csv.write_text(f"a\n{i}\n")
        ok(ws, "data", "create", "--name", "t", "--path", str(csv))
    message = user_error(ws, "data", "show", "t:7")
    assert "no version 7" in message and "1, 2, 3" in message
    assert "No data asset named 'nope'" in user_error(ws, "data", "show", "nope@latest")


def test_create_from_azure_yaml_with_overrides(tmp_path: Path, bank_csv: Path) -> None:
    folder = tmp_path / "spec"
    folder.mkdir()
    shutil.copyfile(bank_csv, folder / "bank.csv")
    spec = folder / "data.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        "name: bank-file\n"
        "version: 3\n"
        "type: uri_file\n"
        "path: ./bank.csv\n"
        "description: Bank marketing training data.\n"
        "tags: {source: uci, year: 2014}\n"
    )
    ws = tmp_path / "ws"
    created = as_json(ws, "data", "create", "-f", str(spec))
    assert (created["name"], created["version"], created["type"]) == ("bank-file", "3", "uri_file")
    shown = as_json(ws, "data", "show", "bank-file:3")
    assert shown["tags"] == {"source": "uci", "year": "2014"}
    assert shown["description"] == "Bank marketing training data."
    assert shown["source"] == str(folder / "bank.csv")  # relative to the YAML file
    assert shown["profile"]["rows"] == 32950
    # Command-line options win over the file's values; --tag adds to its tags.
    other = as_json(
        ws,
        "data",
        "create",
        "-f",
        str(spec),
        "--name",
        "bank-copy",
        "--version",
        "9",
        "--tag",
        "k=v",
    )
    assert (other["name"], other["version"]) == ("bank-copy", "9")
    assert other["tags"] == {"source": "uci", "year": "2014", "k": "v"}


def test_malformed_or_invalid_yaml_fails_naming_the_file(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    bad = tmp_path / "broken.yml"
    bad.write_text("name: x\npath: [unclosed\n")
    message = user_error(ws, "data", "create", "-f", str(bad))
    assert str(bad) in message and "invalid YAML" in message
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("name: x\ntype: parquet\n")
    message = user_error(ws, "data", "create", "-f", str(invalid))
    assert str(invalid) in message and "type" in message and "path" in message
    assert "does not exist" in user_error(ws, "data", "create", "-f", str(tmp_path / "no.yml"))


def test_list_archive_restore(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    csv = tmp_path / "t.csv"
    for i in range(2):
        csv.write_text(f"a\n{i}\n")
        ok(ws, "data", "create", "--name", "t", "--path", str(csv), "--description", f"v{i}")
    ok(ws, "data", "create", "--name", "u", "--path", str(csv), "--tag", "team=risk")
    latest = as_json(ws, "data", "list")
    assert sorted((d["name"], d["version"]) for d in latest) == [("t", "2"), ("u", "1")]
    assert all("profile" not in d for d in latest)
    ok(ws, "data", "archive", "--name", "t", "--version", "2")
    assert [d["version"] for d in as_json(ws, "data", "list", "--name", "t")] == ["1"]
    assert as_json(ws, "data", "show", "t@latest")["version"] == "1"
    archived = as_json(ws, "data", "list", "--name", "t", "--include-archived")
    assert [(d["version"], d["archived"]) for d in archived] == [("2", True), ("1", False)]
    ok(ws, "data", "restore", "--name", "t", "--version", "2")
    assert as_json(ws, "data", "show", "t@latest")["version"] == "2"
    table = ok(ws, "data", "list").stdout
    assert "team=risk" in table and "t " in table


def test_download_writes_the_registered_bytes(
    bank_ws: Path, tmp_path: Path, bank_csv: Path
) -> None:
    result = as_json(bank_ws, "data", "download", "bank:1", "--path", str(tmp_path / "dest"))
    folder = Path(result["path"])
    assert folder == (tmp_path / "dest" / "bank").resolve()
    assert (folder / "bankmarketing_train.csv").read_bytes() == bank_csv.read_bytes()
    assert (folder / "MLTable").is_file()


def test_lineage_lists_runs_that_read_the_version(bank_ws: Path) -> None:
    import modelworks as mw_sdk

    with mw_sdk.Workspace(bank_ws) as ws:
        run = ws.runs.create("lineage", name="reader")
        ws.data.record_input(run.id, "bank", "1")
        ws.runs.end(run.id)
    found = as_json(bank_ws, "data", "lineage", "bank:1")
    assert found["data"] == {"name": "bank", "version": "1"}
    assert [r["id"] for r in found["runs"]] == [run.id]
    assert found["models"] == []
    assert run.id in ok(bank_ws, "data", "lineage", "bank:1").stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cases = [
        ("data", "create", "--bogus"),
        ("data", "create", "--name", "x"),  # no --path and no -f
        ("data", "create", "--name", "x", "--path", "p", "--tag", "novalue"),
        ("data", "show"),  # neither REF nor --name
        ("data", "show", "a:1", "--name", "a"),  # both
        ("data", "show", "a:1", "-o", "yaml"),
        ("data", "frobnicate"),
    ]
    for args in cases:
        result = mw(ws, *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""


def test_workspace_option_after_the_command(bank_ws: Path, tmp_path: Path) -> None:
    after = runner.invoke(app, ["data", "list", "-o", "json", "-w", str(bank_ws)])
    before = runner.invoke(app, ["-w", str(bank_ws), "data", "list", "-o", "json"])
    assert after.exit_code == before.exit_code == 0
    assert json.loads(after.stdout) == json.loads(before.stdout)
    from_env = runner.invoke(
        app, ["data", "list", "-o", "json"], env={"MODELWORKS_WORKSPACE": str(bank_ws)}
    )
    assert json.loads(from_env.stdout) == json.loads(before.stdout)


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=40))
def test_sparkline_bars_follow_the_counts(counts: list[int]) -> None:
    line = sparkline(counts)
    assert len(line) == len(counts)
    assert set(line) <= set(BLOCKS)
    for count, bar in zip(counts, line, strict=True):
        assert (bar == " ") == (count == 0)
    if any(counts):
        assert line[counts.index(max(counts))] == BLOCKS[-1]
    # Bars never invert the order of the counts.
    ranked = sorted(zip(counts, line, strict=True))
    assert [BLOCKS.index(b) for _, b in ranked] == sorted(BLOCKS.index(b) for _, b in ranked)


def test_yaml_without_type_detects_it_and_path_option_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    (spec_dir / "in-spec-folder.csv").write_text("a\n1\n")
    (tmp_path / "in-cwd.csv").write_text("a\n2\n")
    spec = spec_dir / "data.yml"
    spec.write_text("name: small\npath: in-spec-folder.csv\n")
    ws = tmp_path / "ws"
    created = as_json(ws, "data", "create", "-f", str(spec))
    assert created["type"] == "uri_file"
    assert created["source"] == str(spec_dir / "in-spec-folder.csv")
    monkeypatch.chdir(tmp_path)
    other = as_json(ws, "data", "create", "-f", str(spec), "--path", "in-cwd.csv")
    assert (other["version"], other["source"]) == ("2", str(tmp_path / "in-cwd.csv"))
