"""The MetadataStore contract, run identically on SQLite, PostgreSQL and the REST adapter."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelworks.entities import ArtifactEntry, LineageEdge, Metric, RunStatus
from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidFilterError,
    InvalidInputError,
    InvalidNameError,
    InvalidPathError,
    NotFoundError,
)
from modelworks.store.base import MetadataStore
from modelworks.tracking import filters

DIGEST = "ab" * 32


# -- experiments ---------------------------------------------------------------------------
def test_experiment_create_get_list_update(meta: MetadataStore, uniq: str) -> None:
    exp = meta.create_experiment(f"exp-{uniq}", tags={"team": "a"})
    assert meta.get_experiment(exp.id) == exp
    assert meta.get_experiment_by_name(f"exp-{uniq}").id == exp.id
    assert exp.id in [e.id for e in meta.list_experiments()]
    renamed = meta.update_experiment(exp.id, name=f"exp2-{uniq}", tags={"x": "1"})
    assert renamed.name == f"exp2-{uniq}" and renamed.tags == {"team": "a", "x": "1"}
    meta.update_experiment(exp.id, deleted=True)
    assert exp.id not in [e.id for e in meta.list_experiments()]
    assert exp.id in [e.id for e in meta.list_experiments(include_deleted=True)]


def test_experiment_errors(meta: MetadataStore, uniq: str) -> None:
    meta.create_experiment(f"dup-{uniq}")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        meta.create_experiment(f"dup-{uniq}")
    for bad in ("", " padded ", "tab\there", "x" * 256):
        with pytest.raises(InvalidNameError, match="Invalid experiment name"):
            meta.create_experiment(bad)
    # MLflow's experiment names (spaces, slashes) are accepted: MLflow code must work unchanged
    spaced = meta.create_experiment(f"/Users/me/My Exp {uniq}")
    assert meta.get_experiment_by_name(f"/Users/me/My Exp {uniq}").id == spaced.id
    with pytest.raises(NotFoundError, match=f"dup-{uniq}"):
        meta.get_experiment_by_name(f"dup-{uniq}x")  # suggests the close match
    with pytest.raises(NotFoundError):
        meta.get_experiment("0" * 32)


# -- runs ----------------------------------------------------------------------------------
def test_run_lifecycle(meta: MetadataStore, uniq: str) -> None:
    exp = meta.create_experiment(f"life-{uniq}")
    run = meta.create_run(exp.id, name="first", tags={"a": "b"}, params={"lr": "0.1"})
    assert run.status == RunStatus.RUNNING and run.start_time is not None
    got = meta.get_run(run.id)
    assert (got.name, got.tags, got.params) == ("first", {"a": "b"}, {"lr": "0.1"})
    done = meta.update_run(run.id, status=RunStatus.COMPLETED)
    assert done.status == RunStatus.COMPLETED and done.end_time is not None
    child = meta.create_run(exp.id, parent_id=run.id)
    assert meta.get_run(child.id).parent_id == run.id
    with pytest.raises(NotFoundError, match="Parent run"):
        meta.create_run(exp.id, parent_id="f" * 32)
    with pytest.raises(NotFoundError, match="No run"):
        meta.get_run("e" * 32)
    queued = meta.create_run(exp.id, status=RunStatus.QUEUED)
    assert queued.start_time is None
    assert meta.update_run(queued.id, status=RunStatus.RUNNING).start_time is not None


def test_log_batch_metrics_params_tags(meta: MetadataStore, uniq: str) -> None:
    exp = meta.create_experiment(f"log-{uniq}")
    run = meta.create_run(exp.id)
    metrics = [Metric("loss", 1.0 / (i + 1), i, 1000 + i) for i in range(50)]
    meta.log_batch(run.id, metrics=metrics, params={"C": "1.0"}, tags={"stage": "dev"})
    meta.log_batch(run.id, metrics=[Metric("loss", 99.0, 3, 5)])  # older step: not latest
    got = meta.get_run(run.id)
    assert got.metrics["loss"] == pytest.approx(1.0 / 50)
    assert got.params == {"C": "1.0"} and got.tags == {"stage": "dev"}
    history = meta.get_metric_history(run.id, "loss")
    assert len(history) == 51
    assert [m.step for m in history] == sorted(m.step for m in history)
    meta.log_batch(run.id, params={"C": "1.0"})  # same value again is fine
    with pytest.raises(ConflictError, match="immutable"):
        meta.log_batch(run.id, params={"C": "2.0"})
    meta.log_batch(run.id, tags={"stage": "prod"})
    assert meta.get_run(run.id).tags["stage"] == "prod"
    meta.delete_tag(run.id, "stage")
    assert "stage" not in meta.get_run(run.id).tags
    with pytest.raises(NotFoundError):
        meta.delete_tag(run.id, "stage")


def test_metric_nan_and_inf_round_trip(meta: MetadataStore, uniq: str) -> None:
    run = meta.create_run(meta.create_experiment(f"nan-{uniq}").id)
    meta.log_batch(
        run.id,
        metrics=[Metric("m", math.nan, 0, 1), Metric("m", math.inf, 1, 2), Metric("m", -1.5, 2, 3)],
    )
    values = [m.value for m in meta.get_metric_history(run.id, "m")]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -1.5


def test_log_batch_rejects_bad_input(meta: MetadataStore, uniq: str) -> None:
    run = meta.create_run(meta.create_experiment(f"bad-{uniq}").id)
    with pytest.raises(InvalidInputError, match="limit is 6000"):
        meta.log_batch(run.id, params={"big": "x" * 6001})
    with pytest.raises(InvalidInputError, match="Invalid metric key"):
        meta.log_batch(run.id, metrics=[Metric("../etc", 1.0, 0, 1)])
    with pytest.raises(NotFoundError):
        meta.log_batch("d" * 32, metrics=[Metric("a", 1.0, 0, 1)])
    meta.update_run(run.id, deleted=True)
    with pytest.raises(ConflictError, match="deleted"):
        meta.log_batch(run.id, metrics=[Metric("a", 1.0, 0, 1)])


def test_heartbeat_and_reaping(meta: MetadataStore, uniq: str) -> None:
    exp = meta.create_experiment(f"reap-{uniq}")
    silent = meta.create_run(exp.id)  # never sent a heartbeat: left alone
    beating = meta.create_run(exp.id)
    meta.heartbeat(beating.id)
    time.sleep(0.05)
    reaped = meta.reap_stale_runs(10)
    assert beating.id in reaped and silent.id not in reaped
    dead = meta.get_run(beating.id)
    assert dead.status == RunStatus.FAILED and "heartbeat" in (dead.error or "")
    assert meta.get_run(silent.id).status == RunStatus.RUNNING


# -- search --------------------------------------------------------------------------------
def _seed_runs(meta: MetadataStore, name: str, n: int = 12) -> str:
    exp = meta.create_experiment(name)
    for i in range(n):
        run = meta.create_run(exp.id, name=f"r{i}", tags={"group": "even" if i % 2 else "odd"})
        metrics = [Metric("auc", 0.5 + i / 40, 0, 1)]
        if i % 3:
            metrics.append(Metric("loss", float(n - i), 0, 1))
        meta.log_batch(run.id, metrics=metrics, params={"C": str(i % 4)})
        if i % 5 == 0:
            meta.update_run(run.id, status=RunStatus.COMPLETED)
    return exp.id


def test_search_filter_and_order(meta: MetadataStore, uniq: str) -> None:
    exp_id = _seed_runs(meta, f"search-{uniq}")
    page = meta.search_runs(
        [exp_id], filter="metrics.auc > 0.6 and params.C = '1'", order_by=["metrics.auc desc"]
    )
    aucs = [r.metrics["auc"] for r in page.items]
    assert aucs == sorted(aucs, reverse=True) and all(a > 0.6 for a in aucs)
    assert {r.params["C"] for r in page.items} == {"1"}
    finished = meta.search_runs([exp_id], filter="attributes.status = 'FINISHED'").items
    assert {r.name for r in finished} == {"r0", "r5", "r10"}
    by_loss = meta.search_runs([exp_id], order_by=["metrics.loss asc"]).items
    assert all("loss" not in r.metrics for r in by_loss[-4:])  # missing values last
    tagged = meta.search_runs([exp_id], filter="tags.group like 'ev%' or run_name = 'r0'").items
    assert {r.name for r in tagged} == {"r0", "r1", "r3", "r5", "r7", "r9", "r11"}


def test_search_paging(meta: MetadataStore, uniq: str) -> None:
    exp_id = _seed_runs(meta, f"paging-{uniq}", n=7)
    seen: list[str] = []
    token = None
    while True:
        page = meta.search_runs([exp_id], max_results=3, page_token=token, order_by=["name"])
        seen.extend(r.name for r in page.items)
        token = page.next_page_token
        if token is None:
            break
    assert seen == sorted(f"r{i}" for i in range(7))
    with pytest.raises(InvalidInputError, match="page token"):
        meta.search_runs([exp_id], page_token="garbage!")


def test_search_rejects_malformed_filter_with_position(meta: MetadataStore) -> None:
    with pytest.raises(InvalidFilterError, match="position 12"):
        meta.search_runs(None, filter="metrics.auc is 0.9")


_FILTERS = st.sampled_from(
    [
        "metrics.auc > 0.6",
        "metrics.auc <= 0.55 or metrics.loss < 4",
        "params.C in ('1', '3')",
        "params.C != '0' and tags.group = 'even'",
        "metrics.loss >= 3 and (params.C = '2' or tags.group like '%dd')",
        "attributes.status = 'Completed'",
        "tags.group ilike 'EVEN'",
        "params.C not in ('1') and metrics.auc > 0.5",
        "metrics.missing > 0",
        "name like 'r1%'",
        "tags.group like 'EVEN'",
        "tags.group like 'e_en'",
    ]
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_FILTERS)
def test_search_matches_reference_semantics(meta: MetadataStore, text: str) -> None:
    """What the store returns equals what filters.evaluate says over the same runs."""
    if not hasattr(test_search_matches_reference_semantics, "_exp"):
        test_search_matches_reference_semantics._exp = {}  # type: ignore[attr-defined]
    cache = test_search_matches_reference_semantics._exp  # type: ignore[attr-defined]
    key = id(meta)
    if key not in cache:
        import uuid

        cache[key] = _seed_runs(meta, f"ref-{uuid.uuid4().hex[:8]}")
    exp_id = cache[key]
    everything = meta.search_runs([exp_id]).items
    expected = {r.id for r in everything if filters.evaluate(filters.parse_filter(text), r)}
    got = {r.id for r in meta.search_runs([exp_id], filter=text).items}
    assert got == expected


# -- artifact manifests --------------------------------------------------------------------
def test_artifact_manifests(meta: MetadataStore, uniq: str) -> None:
    owner = f"run/{uniq}"
    meta.put_artifact_entries(
        owner,
        [
            ArtifactEntry("model/MLmodel", DIGEST, 10),
            ArtifactEntry("model/model.pkl", DIGEST, 20),
            ArtifactEntry("modelx.txt", DIGEST, 1),
        ],
    )
    assert [e.path for e in meta.list_artifact_entries(owner, "model")] == [
        "model/MLmodel",
        "model/model.pkl",
    ]
    assert len(meta.list_artifact_entries(owner)) == 3
    assert DIGEST in meta.referenced_digests()
    assert meta.delete_artifact_entries(owner, "model") == 2
    assert [e.path for e in meta.list_artifact_entries(owner)] == ["modelx.txt"]
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(InvalidPathError):
            meta.put_artifact_entries(owner, [ArtifactEntry(bad, DIGEST, 1)])


# -- data versions -------------------------------------------------------------------------
def test_data_versions(meta: MetadataStore, uniq: str) -> None:
    name = f"bank-{uniq}"
    entries = [ArtifactEntry("data.csv", DIGEST, 5)]
    v1, created = meta.create_data_version(
        name, type="uri_file", source="x.csv", content_hash="h1", entries=entries
    )
    assert (v1.version, created) == ("1", True)
    same, created = meta.create_data_version(
        name, type="uri_file", source="x.csv", content_hash="h1", entries=entries
    )
    assert (same.version, created) == ("1", False)
    forced, _ = meta.create_data_version(
        name, type="uri_file", source="x.csv", content_hash="h1", entries=entries, force=True
    )
    assert forced.version == "2"
    v3, _ = meta.create_data_version(
        name, type="uri_file", source="y", content_hash="h2", entries=entries, profile={"rows": 3}
    )
    assert v3.version == meta.get_data_version(name).version == "3"
    assert meta.get_data_version(name, "3").profile == {"rows": 3}
    assert [e.path for e in meta.list_artifact_entries(f"data/{name}/3")] == ["data.csv"]
    with pytest.raises(AlreadyExistsError, match="immutable"):
        meta.create_data_version(
            name, type="uri_file", source="z", content_hash="h3", entries=[], version="2"
        )
    with pytest.raises(NotFoundError, match="has no version 7; latest is 3") as err:
        meta.get_data_version(name, "7")
    assert "1, 2, 3" in err.value.message
    with pytest.raises(NotFoundError, match="No data asset named"):
        meta.get_data_version(f"nothing-{uniq}")
    with pytest.raises(InvalidInputError, match="Unknown data asset type"):
        meta.create_data_version(name, type="table", source="", content_hash="h", entries=[])
    meta.update_data_version(name, "3", archived=True, tags={"k": "v"})
    assert meta.get_data_version(name).version == "2"
    assert [v.version for v in meta.list_data_versions(name)] == ["2", "1"]
    assert meta.get_data_version(name, "3").tags == {"k": "v"}


# -- models --------------------------------------------------------------------------------
def test_model_versions_and_aliases(meta: MetadataStore, uniq: str) -> None:
    name = f"clf-{uniq}"
    run = meta.create_run(meta.create_experiment(f"m-{uniq}").id)
    entries = [ArtifactEntry("MLmodel", DIGEST, 3)]
    v1 = meta.create_model_version(name, entries=entries, run_id=run.id, flavors=["sklearn"])
    v2 = meta.create_model_version(name, entries=entries, signature={"inputs": []})
    assert (v1.version, v2.version) == ("1", "2")
    assert meta.get_registered_model(name).latest_version == "2"
    meta.set_model_alias(name, "production", "1")
    prod = meta.get_model_version_by_alias(name, "production")
    assert prod.version == "1" and prod.aliases == ["production"] and prod.flavors == ["sklearn"]
    assert meta.get_registered_model(name).aliases == {"production": "1"}
    assert [v.version for v in meta.list_model_versions(run_id=run.id)] == ["1"]
    with pytest.raises(NotFoundError, match="no alias 'staging'"):
        meta.get_model_version_by_alias(name, "staging")
    with pytest.raises(NotFoundError, match="has no version 9; latest is 2"):
        meta.get_model_version(name, "9")
    with pytest.raises(AlreadyExistsError):
        meta.create_model_version(name, entries=[], version="1")
    with pytest.raises(InvalidInputError, match="reserved"):
        meta.set_model_alias(name, "latest", "1")
    meta.update_model_version(name, "2", description="better", tags={"a": "1"})
    assert meta.get_model_version(name, "2").description == "better"
    meta.delete_model_version(name, "1")
    with pytest.raises(NotFoundError):
        meta.get_model_version_by_alias(name, "production")
    meta.delete_registered_model(name)
    with pytest.raises(NotFoundError, match="No model named"):
        meta.get_registered_model(name)


def test_lineage(meta: MetadataStore, uniq: str) -> None:
    run = meta.create_run(meta.create_experiment(f"lin-{uniq}").id)
    edge = LineageEdge(run.id, "input", "data", f"bank-{uniq}", "1")
    meta.add_lineage(edge)
    meta.add_lineage(edge)
    meta.add_lineage(LineageEdge(run.id, "output", "model", f"clf-{uniq}", "1"))
    assert meta.list_lineage(asset_kind="data", name=f"bank-{uniq}") == [edge]
    assert len(meta.list_lineage(run_id=run.id)) == 2


def test_tokens(meta: MetadataStore, uniq: str) -> None:
    token = meta.create_token(name=f"ci-{uniq}", role="reader", token_hash=uniq * 8)
    assert meta.get_token_by_hash(uniq * 8).role == "reader"
    assert token.id in [t.id for t in meta.list_tokens()]
    meta.revoke_token(token.id)
    assert meta.get_token_by_hash(uniq * 8).revoked
    with pytest.raises(InvalidInputError, match="role"):
        meta.create_token(name="x", role="root", token_hash="f" * 64)


def test_create_runs_in_one_batch(meta: MetadataStore, uniq: str) -> None:
    exp = meta.create_experiment(f"batch-{uniq}")
    parent_id = uniq * 4
    runs = meta.create_runs(
        [
            {"experiment_id": exp.id, "run_id": parent_id, "name": "parent", "tags": {"a": "1"}},
            {"experiment_id": exp.id, "parent_id": parent_id, "params": {"C": "2"}},
        ]
    )
    assert runs[0].name == "parent" and runs[1].parent_id == parent_id
    assert meta.get_run(runs[1].id).params == {"C": "2"}
    with pytest.raises(NotFoundError, match="No experiment"):  # all or nothing
        meta.create_runs([{"experiment_id": exp.id, "name": "lost"}, {"experiment_id": "0" * 32}])
    assert "lost" not in [r.name for r in meta.search_runs([exp.id]).items]
    with pytest.raises(AlreadyExistsError):
        meta.create_runs([{"experiment_id": exp.id, "run_id": parent_id}])
