"""Every runnable example in README.md and docs/ runs: ```python blocks (a page's blocks in
order, as one script) and ```bash blocks, in a fresh folder with the CLI on PATH.
```console and ```text blocks are illustrations and are not run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(page.read_text()) if lang == language]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    python_blocks = _blocks(page, "python")
    bash_blocks = [b for b in _blocks(page, "bash") if not re.search(r"^\s*make ", b, re.M)]
    if not python_blocks and not bash_blocks:
        pytest.skip("no runnable examples")
    data = tmp_path / "src/modelworks/datasets/bank_marketing"
    data.mkdir(parents=True)
    shutil.copy(ROOT / "src/modelworks/datasets/bank_marketing/bankmarketing_train.csv.gz", data)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in list(env):  # examples run as in a fresh shell: nothing leaks from other tests
        if name.startswith(("MODELWORKS_", "MLFLOW_")):
            del env[name]
    for block in bash_blocks:
        script = block.replace("source .venv/bin/activate", "true")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (
            f"{page.name} bash block failed:\n{script}\n{done.stdout}\n{done.stderr}"
        )
    if python_blocks:
        script = "\n\n".join(python_blocks)
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"{page.name} python failed:\n{done.stdout}\n{done.stderr}"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link of README.md and docs/ names a file or folder that exists."""
    broken = [
        target
        for target in LINK.findall(page.read_text())
        if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists()
    ]
    assert not broken, f"{page.name} links to missing files: {broken}"


def test_cli_reference_is_current() -> None:
    """docs/cli.md is what scripts/gen_cli_docs.py writes from the CLI today."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
