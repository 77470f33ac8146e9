"""The backends every MetadataStore conformance test runs against: SQLite, PostgreSQL, and the
REST adapter talking to a real ``modelworks server`` process on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from modelworks.store.base import MetadataStore

BACKENDS = ["sqlite", "postgres", "rest"]


@pytest.fixture(scope="session")
def _sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataStore]:
    from modelworks.store.sql import SqlMetadataStore

    path = tmp_path_factory.mktemp("sqlite") / "meta.db"
    store = SqlMetadataStore(f"sqlite:///{path}")
    yield store
    store.close()


@pytest.fixture(scope="session")
def _postgres_store(postgres_url: str) -> Iterator[MetadataStore]:
    from modelworks.store.sql import SqlMetadataStore

    store = SqlMetadataStore(postgres_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def _rest_store(live_server: tuple[str, str]) -> Iterator[MetadataStore]:
    from modelworks.store.rest import RestMetadataStore

    url, token = live_server
    store = RestMetadataStore(url, token=token)
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def meta(request: pytest.FixtureRequest) -> MetadataStore:
    """One MetadataStore per backend; tests use unique names so the stores can be shared."""
    store: MetadataStore = request.getfixturevalue(f"_{request.param}_store")
    return store


@pytest.fixture
def uniq() -> str:
    return uuid.uuid4().hex[:8]
