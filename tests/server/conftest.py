"""One real ``modelworks server`` process for the server tests, with a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from _live_server import LiveServer
from modelworks.server.tokens import create_token
from modelworks.store.rest import RestBlobStore, RestMetadataStore


@dataclass(frozen=True)
class Tokens:
    admin: str
    writer: str
    reader: str


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared server: info-level log (tests read its access log), and runs whose heartbeat
    lapsed for 2 s are reaped (only runs that ever sent a heartbeat are concerned)."""
    with LiveServer(
        tmp_path_factory.mktemp("served-ws"),
        log_level="info",
        env={"MODELWORKS_HEARTBEAT_TIMEOUT": "2"},
    ) as live:
        yield live


@pytest.fixture(scope="session")
def tokens(server: LiveServer) -> Tokens:
    admin = RestMetadataStore(server.url, token=server.admin_token)
    try:
        return Tokens(
            admin=server.admin_token,
            writer=create_token(admin, "test-writer", "writer"),
            reader=create_token(admin, "test-reader", "reader"),
        )
    finally:
        admin.close()


@pytest.fixture
def admin_meta(server: LiveServer) -> Iterator[RestMetadataStore]:
    store = RestMetadataStore(server.url, token=server.admin_token)
    yield store
    store.close()


@pytest.fixture
def writer_meta(server: LiveServer, tokens: Tokens) -> Iterator[RestMetadataStore]:
    store = RestMetadataStore(server.url, token=tokens.writer)
    yield store
    store.close()


@pytest.fixture
def reader_meta(server: LiveServer, tokens: Tokens) -> Iterator[RestMetadataStore]:
    store = RestMetadataStore(server.url, token=tokens.reader)
    yield store
    store.close()


@pytest.fixture
def writer_blobs(server: LiveServer, tokens: Tokens) -> Iterator[RestBlobStore]:
    store = RestBlobStore(server.url, token=tokens.writer)
    yield store
    store.close()
