"""ws.data end to end: register, dedupe, profile, read, lineage — locally and via the server."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import modelworks as mw
from modelworks.errors import InvalidInputError, NotFoundError


@pytest.fixture(scope="module")
def bank_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelworks.datasets import bank_marketing_path

    target = tmp_path_factory.mktemp("bank") / "bankmarketing_train.csv"
    frame = pd.read_csv(bank_marketing_path())
    frame.to_csv(target, index=False)
    return target


def _name() -> str:
    return f"bank-{uuid.uuid4().hex[:8]}"


def test_mltable_from_csv_is_profiled_and_readable(ws: Any, bank_csv: Path) -> None:
    name = _name()
    asset = ws.data.create(name, str(bank_csv), type="mltable")
    assert (asset.version, asset.type) == ("1", "mltable")
    assert sorted(e.path for e in asset.files()) == ["MLTable", "bankmarketing_train.csv"]
    assert asset.profile["rows"] == 32950 and asset.profile["columns"] == 21
    frame = ws.data.get(f"{name}@latest").to_pandas()
    assert frame.shape == (32950, 21)
    again = ws.data.create(name, str(bank_csv), type="mltable")
    assert again.version == "1"  # identical content: the existing version
    forced = ws.data.create(name, str(bank_csv), type="mltable", force=True)
    assert forced.version == "2"
    assert [a.version for a in ws.data.list(name)] == ["2", "1"]
    assert ws.data.get(f"azureml:{name}:1").content_hash == asset.content_hash


def test_dataframe_folder_and_file_assets(ws: Any, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", None]})
    table = ws.data.create(_name(), frame)
    assert table.type == "mltable"
    pd.testing.assert_frame_equal(table.to_pandas().reset_index(drop=True), frame)
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "b.bin").write_bytes(b"\x02")
    asset = ws.data.create(_name(), str(folder))
    assert asset.type == "uri_folder" and asset.profile is None
    local = asset.download(tmp_path / "out")
    assert (local / "sub" / "b.bin").read_bytes() == b"\x02"
    single = ws.data.create(_name(), str(folder / "a.bin"))
    assert single.type == "uri_file" and Path(single.path).read_bytes() == b"\x00\x01"


def test_errors_name_the_problem(ws: Any, tmp_path: Path, bank_csv: Path) -> None:
    name = _name()
    ws.data.create(name, str(bank_csv), type="uri_file")
    with pytest.raises(NotFoundError, match="has no version 7; latest is 1"):
        ws.data.get(f"{name}:7")
    with pytest.raises(NotFoundError, match="does not exist"):
        ws.data.create(_name(), str(tmp_path / "missing.csv"))
    with pytest.raises(InvalidInputError, match="Unknown data asset type"):
        ws.data.create(_name(), str(bank_csv), type="table")
    with pytest.raises(InvalidInputError, match="needs a folder"):
        ws.data.create(_name(), str(bank_csv), type="uri_folder")
    with pytest.raises(mw.InvalidNameError):
        ws.data.create("bad name", str(bank_csv))


def test_archive_hides_latest(ws: Any, tmp_path: Path) -> None:
    name = _name()
    for i in range(2):
        path = tmp_path / f"v{i}.csv"
        path.write_text(f"a\n{i}\n")
        ws.data.create(name, str(path))
    ws.data.archive(name, 2)
    assert ws.data.get(name).version == "1"
    ws.data.restore(name, 2)
    assert ws.data.get(name).version == "2"


def test_reading_inside_a_run_records_lineage(ws: Any, tmp_path: Path) -> None:
    name = _name()
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    ws.data.create(name, str(path), type="mltable")
    with mw.start_run(experiment="lineage", workspace=ws) as run:
        ws.data.get(f"{name}@latest").to_pandas()
    assert ws.data.lineage(name)["runs"] == [run.id]


def test_azure_data_yaml(ws: Any, tmp_path: Path, bank_csv: Path) -> None:
    shutil.copy(bank_csv, tmp_path / "bank.csv")
    name = _name()
    spec = tmp_path / "data.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        f"name: {name}\nversion: 4\ntype: uri_file\npath: ./bank.csv\n"
        "description: Bank marketing\ntags:\n  source: uci\n"
    )
    asset = ws.data.create_from_spec(spec)
    assert (asset.version, asset.type, asset.tags) == ("4", "uri_file", {"source": "uci"})
    assert asset.profile["rows"] == 32950
