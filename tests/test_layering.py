"""Each third-party engine is imported in its one place (DESIGN.md, "Layers"), so swapping or
upgrading it touches one package. Read from the source, so a new stray import fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "modelworks"

PLACES = {
    "sqlalchemy": ("store/sql/",),
    "alembic": ("store/sql/",),
    "httpx": ("store/rest/",),
    "ray": ("compute/ray.py", "compute/ray_trials.py"),
    "optuna": ("sweep/", "automl/"),
    "typer": ("cli/",),
}


@pytest.mark.parametrize("library", sorted(PLACES))
def test_a_library_is_imported_only_in_its_place(library: str) -> None:
    pattern = re.compile(rf"^\s*(import {library}\b|from {library}[ .])", re.MULTILINE)
    strays = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
        and not str(path.relative_to(SRC)).startswith(PLACES[library])
    ]
    assert not strays, f"{library} is imported outside {PLACES[library]}: {strays}"
