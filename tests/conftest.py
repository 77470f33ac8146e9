"""Shared test set-up: tests/ on sys.path (for helper modules such as _live_server), and the
PostgreSQL server the suite uses for real."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

PG_ADMIN_URL = os.environ.get(
    "MODELWORKS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_admin_exec(statement: str) -> None:
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def bank_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bank-marketing CSV as the package ships it (gzipped), unpacked once per session,
    so the tests need nothing outside the repository."""
    import gzip
    import shutil

    from modelworks.datasets import bank_marketing_path

    target = tmp_path_factory.mktemp("bank") / "bankmarketing_train.csv"
    with gzip.open(bank_marketing_path(), "rb") as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
    return target


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped afterwards."""
    name = f"mw_test_{uuid.uuid4().hex[:12]}"
    try:
        _pg_admin_exec(f'CREATE DATABASE "{name}"')
    except Exception as e:  # any failure means the server is not there
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {e}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One real ``modelworks server`` process for the session: (url, admin token)."""
    from _live_server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("server-ws")) as (url, token):
        yield url, token


@pytest.fixture(params=["local", "server"])
def ws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Workspace on a local folder, and the same API through the live server."""
    import modelworks as mw

    if request.param == "local":
        workspace = mw.Workspace(tmp_path_factory.mktemp("ws"))
    else:
        url, token = request.getfixturevalue("live_server")
        workspace = mw.Workspace(url, token=token)
    yield workspace
    workspace.close()
