"""The API over a real server process: every store method round-trips, errors keep their class
and message, the OpenAPI document lists the routes, and stale runs are reaped."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _live_server import LiveServer
from modelworks.config import load_config
from modelworks.entities import ArtifactEntry, LineageEdge, Metric, RunStatus
from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    InvalidNameError,
    ModelworksError,
    NotFoundError,
)
from modelworks.store.base import MetadataStore
from modelworks.store.rest import RestMetadataStore
from modelworks.store.sql import SqlMetadataStore

DIGEST = "ab" * 32


def _uniq() -> str:
    return os.urandom(4).hex()


@pytest.fixture(scope="module")
def pair(server: LiveServer) -> Iterator[tuple[RestMetadataStore, SqlMetadataStore]]:
    """The server through REST, and the very same database opened locally."""
    rest = RestMetadataStore(server.url, token=server.admin_token)
    local = SqlMetadataStore(load_config(server.workspace).metadata_uri)
    yield rest, local
    rest.close()
    local.close()


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except ModelworksError as e:
        return type(e).__name__, e.message


def _same(pair: tuple[MetadataStore, MetadataStore], call: Callable[[MetadataStore], Any]) -> Any:
    """Run ``call`` on both stores; assert identical results or identical errors."""
    rest, local = pair
    remote_outcome, local_outcome = _outcome(lambda: call(rest)), _outcome(lambda: call(local))
    assert remote_outcome == local_outcome
    return remote_outcome


# -- identical behaviour ------------------------------------------------------------------------
STRANGE = ["a/b", "..", ".", "", "%2F", "a b", "ünï", "a?b#c", "x%", "/", "a\\b", "\n"]


@pytest.mark.parametrize("ident", STRANGE)
def test_strange_identifiers_reach_the_store_unchanged(
    pair: tuple[RestMetadataStore, SqlMetadataStore], ident: str
) -> None:
    _same(pair, lambda s: s.get_experiment(ident))
    _same(pair, lambda s: s.get_experiment_by_name(ident))
    _same(pair, lambda s: s.get_run(ident))
    _same(pair, lambda s: s.get_registered_model(ident))
    _same(pair, lambda s: s.get_model_version(ident, ident))
    _same(pair, lambda s: s.get_model_version_by_alias("m", ident))
    _same(pair, lambda s: s.get_data_version(ident, ident))
    _same(pair, lambda s: s.list_artifact_entries(ident, ident))
    _same(pair, lambda s: s.list_model_versions(ident))


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=40))
def test_any_name_gives_the_same_answer_as_locally(
    pair: tuple[RestMetadataStore, SqlMetadataStore], name: str
) -> None:
    _same(pair, lambda s: s.get_experiment_by_name(name))
    _same(pair, lambda s: s.get_registered_model(name))


def test_errors_keep_class_and_message(pair: tuple[RestMetadataStore, SqlMetadataStore]) -> None:
    rest, _ = pair
    name = f"dup-{_uniq()}"
    exp = rest.create_experiment(name)
    kind, message = _same(pair, lambda s: s.create_experiment(name))
    assert kind == AlreadyExistsError.__name__ and name in message
    assert _same(pair, lambda s: s.create_experiment(" padded "))[0] == InvalidNameError.__name__
    assert _same(pair, lambda s: s.get_run("0" * 32))[0] == NotFoundError.__name__
    run = rest.create_run(exp.id, params={"lr": "0.1"})
    kind, _ = _same(pair, lambda s: s.log_batch(run.id, params={"lr": "0.2"}))
    assert kind == ConflictError.__name__
    kind, _ = _same(pair, lambda s: s.search_runs([exp.id], filter="metrics.x >>> 1"))
    assert issubclass(getattr(sys.modules["modelworks.errors"], kind), InvalidInputError)


def test_error_statuses_on_the_wire(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    missing = httpx.get(f"{server.url}/api/v1/runs/{'0' * 32}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = httpx.post(f"{server.url}/api/v1/experiments", json={"nme": "x"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "name" in bad.json()["message"] and "nme" in bad.json()["message"]
    no_route = httpx.get(f"{server.url}/api/v1/nothing-here", headers=headers)
    assert no_route.status_code == 404 and "/docs" in no_route.json()["message"]


# -- round trips --------------------------------------------------------------------------------
def test_runs_metrics_and_search(admin_meta: RestMetadataStore) -> None:
    exp = admin_meta.create_experiment(f"rt-{_uniq()}", tags={"team": "a"})
    assert admin_meta.get_experiment_by_name(exp.name) == exp
    assert exp in admin_meta.list_experiments()
    runs = [admin_meta.create_run(exp.id, name=f"r{i}", params={"i": str(i)}) for i in range(5)]
    for i, run in enumerate(runs):
        admin_meta.log_batch(
            run.id,
            metrics=[Metric("acc", i / 10, step=s, timestamp=1000 + s) for s in range(3)],
            tags={"a/b": "c"},
        )
    odd = admin_meta.create_run(exp.id)
    admin_meta.log_batch(
        odd.id,
        metrics=[
            Metric("x/y", math.nan, step=0, timestamp=1),
            Metric("x/y", math.inf, step=1, timestamp=1),
            Metric("x/y", -math.inf, step=2, timestamp=1),
        ],
    )
    history = admin_meta.get_metric_history(odd.id, "x/y")
    assert math.isnan(history[0].value) and history[1].value == math.inf
    assert history[2].value == -math.inf
    admin_meta.delete_tag(runs[0].id, "a/b")
    assert "a/b" not in admin_meta.get_run(runs[0].id).tags

    seen: list[str] = []
    token = None
    while True:
        page = admin_meta.search_runs(
            [exp.id],
            filter="params.i != '9'",
            order_by=["metrics.acc DESC"],
            max_results=2,
            page_token=token,
        )
        seen += [r.id for r in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [r.id for r in reversed(runs)]

    done = admin_meta.update_run(runs[0].id, status=RunStatus.COMPLETED)
    assert done.status is RunStatus.COMPLETED and done.end_time is not None
    updated = admin_meta.update_experiment(exp.id, tags={"b": "c"})
    assert updated.tags == {"team": "a", "b": "c"}


def test_artifacts_data_models_and_lineage(admin_meta: RestMetadataStore) -> None:
    u = _uniq()
    exp = admin_meta.create_experiment(f"art-{u}")
    run = admin_meta.create_run(exp.id)
    owner = f"run/{run.id}"
    entries = [ArtifactEntry("model/a.bin", DIGEST, 3), ArtifactEntry("model/b/c.txt", DIGEST, 3)]
    admin_meta.put_artifact_entries(owner, entries)
    assert admin_meta.list_artifact_entries(owner, "model/b") == [entries[1]]
    assert DIGEST in admin_meta.referenced_digests()
    assert admin_meta.delete_artifact_entries(owner, "model/b") == 1
    assert admin_meta.list_artifact_entries(owner) == [entries[0]]

    data, created = admin_meta.create_data_version(
        f"d-{u}",
        type="uri_file",
        source="/x.csv",
        content_hash="h1",
        entries=entries[:1],
        profile={"rows": 3, "mean": 1.5},
    )
    assert created and data.version == "1" and data.profile == {"rows": 3, "mean": 1.5}
    again, created = admin_meta.create_data_version(
        f"d-{u}", type="uri_file", source="/x.csv", content_hash="h1", entries=entries[:1]
    )
    assert not created and again == data
    assert admin_meta.get_data_version(f"d-{u}", "latest") == data
    assert admin_meta.list_data_versions(f"d-{u}") == [data]
    assert admin_meta.update_data_version(f"d-{u}", "1", description="x").description == "x"

    version = admin_meta.create_model_version(
        f"m-{u}",
        entries=entries[:1],
        run_id=run.id,
        flavors=["sklearn"],
        signature={"inputs": [{"name": "x", "type": "double"}]},
    )
    assert version.version == "1" and version.flavors == ["sklearn"]
    admin_meta.set_model_alias(f"m-{u}", "production", "1")
    assert admin_meta.get_model_version_by_alias(f"m-{u}", "production").version == "1"
    assert admin_meta.get_registered_model(f"m-{u}").aliases == {"production": "1"}
    assert [v.version for v in admin_meta.list_model_versions(run_id=run.id)] == ["1"]
    admin_meta.delete_model_alias(f"m-{u}", "production")
    assert admin_meta.update_model_version(f"m-{u}", "1", archived=True).archived

    edge = LineageEdge(run.id, "output", "model", f"m-{u}", "1")
    admin_meta.add_lineage(edge)
    admin_meta.add_lineage(edge)
    assert admin_meta.list_lineage(run_id=run.id) == [edge]

    admin_meta.delete_model_version(f"m-{u}", "1")
    admin_meta.delete_registered_model(f"m-{u}")
    with pytest.raises(NotFoundError):
        admin_meta.get_registered_model(f"m-{u}")


# -- the document, the reaper, start-up ---------------------------------------------------------
def test_openapi_lists_the_routes(server: LiveServer) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    paths = document["paths"]
    for path, method in [
        ("/health", "get"),
        ("/api/v1/experiments", "post"),
        ("/api/v1/experiments/by-name/{name}", "get"),
        ("/api/v1/runs/{run_id}", "patch"),
        ("/api/v1/runs/{run_id}/log-batch", "post"),
        ("/api/v1/runs/search", "post"),
        ("/api/v1/artifacts", "put"),
        ("/api/v1/data/{name}/versions/{version}", "get"),
        ("/api/v1/models/{name}/aliases/{alias}", "put"),
        ("/api/v1/lineage", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/blobs/{digest}", "put"),
        ("/api/v1/blobs/{digest}", "head"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"
    assert "LogBatch" in document["components"]["schemas"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def test_runs_whose_heartbeat_lapsed_are_marked_failed(admin_meta: RestMetadataStore) -> None:
    store = admin_meta  # the shared server reaps after 2 s without heartbeat
    exp = store.create_experiment(f"reap-{_uniq()}")
    silent = store.create_run(exp.id)  # never sent a heartbeat: left alone
    dead = store.create_run(exp.id)
    store.heartbeat(dead.id)
    deadline = time.monotonic() + 60
    while store.get_run(dead.id).status is RunStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    reaped = store.get_run(dead.id)
    assert reaped.status is RunStatus.FAILED
    assert reaped.error and "heartbeat" in reaped.error
    assert store.get_run(silent.id).status is RunStatus.RUNNING


def test_server_start_up_imports_no_heavy_libraries() -> None:
    code = (
        "import modelworks.server.app, modelworks.server.main, modelworks.store.rest, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pandas','numpy','sklearn','mlflow','pyarrow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
