"""The endpoint tables on SQLite and PostgreSQL: keys hashed and shown once, generations,
the revision the host polls, host heartbeats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelworks.errors import AlreadyExistsError, NotFoundError
from modelworks.serving._auth import hash_key, mint_token, verify_token
from modelworks.store.sql import SqlMetadataStore
from modelworks.store.sql.endpoints import EndpointStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EndpointStore]:
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'meta.db'}"
    else:
        uri = request.getfixturevalue("postgres_url")
    SqlMetadataStore(uri).close()  # migrates, including 0002_endpoints
    found = EndpointStore(uri)
    for endpoint in found.list_endpoints():
        found.delete_endpoint(endpoint.name)
    yield found
    found.close()


def test_endpoint_life_cycle(store: EndpointStore) -> None:
    start = store.revision()
    store.create_endpoint(
        name="bank",
        auth_mode="key",
        description="",
        tags={"team": "risk"},
        traffic={},
        mirror_traffic={},
        port=45123,
        token_secret="s3cret",
        keys={"primary": (hash_key("k1"), "k1"), "secondary": (hash_key("k2"), "k2")},
    )
    assert store.revision() == start + 1
    with pytest.raises(AlreadyExistsError):
        store.create_endpoint(
            name="bank",
            auth_mode="key",
            description="",
            tags={},
            traffic={},
            mirror_traffic={},
            port=45124,
            token_secret="x",
            keys={},
        )
    mode, secret, hashes = store.auth_material("bank")
    assert (mode, secret) == ("key", "s3cret")
    assert hashes == {"primary": hash_key("k1"), "secondary": hash_key("k2")}
    assert store.reveal_keys("bank") == {"primary": "k1", "secondary": "k2"}
    assert store.reveal_keys("bank") == {"primary": None, "secondary": None}
    generation, _ = store.put_deployment(
        endpoint="bank",
        name="blue",
        spec={"instance_count": 1},
        model_name="m",
        model_version="1",
        code_owner=None,
    )
    again, _ = store.put_deployment(
        endpoint="bank",
        name="blue",
        spec={"instance_count": 2},
        model_name="m",
        model_version="2",
        code_owner=None,
    )
    assert (generation, again) == (1, 2)
    store.report_deployment("bank", "blue", generation=1, state="Succeeded")  # stale: ignored
    assert store.get_deployment("bank", "blue").provisioning_state == "Updating"
    store.report_deployment(
        "bank", "blue", generation=2, state="Succeeded", runtime={"restarts": 0}
    )
    found = store.get_deployment("bank", "blue")
    assert (found.provisioning_state, found.model, found.instance_count) == (
        "Succeeded",
        "azureml:m:2",
        2,
    )
    with pytest.raises(NotFoundError, match="Did you mean 'blue'"):
        store.get_deployment("bank", "bleu")
    store.register_host("h1", 4242)
    store.heartbeat_host("h1", applied_revision=store.revision())
    assert [h.pid for h in store.live_hosts(10_000)] == [4242]
    store.remove_host("h1")
    store.delete_endpoint("bank")
    assert store.list_deployments() == [] and store.list_endpoints() == []


def test_tokens_are_bound_to_endpoint_secret_and_time() -> None:
    token, _ = mint_token("bank", "secret", ttl_s=60)
    assert verify_token(token, "bank", "secret")
    assert not verify_token(token, "other", "secret")
    assert not verify_token(token, "bank", "another-secret")
    assert not verify_token(mint_token("bank", "secret", ttl_s=-1)[0], "bank", "secret")
    assert not verify_token("mwt.bank.notanumber.sig", "bank", "secret")
