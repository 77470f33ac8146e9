"""Adaptive micro-batching: batches form while the model is busy, a lone request goes at once,
a bad request fails alone, and on the DataFrame path one DataFrame is built per batch."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelworks.registry import load_model
from modelworks.serving._errors import InputSchemaError
from modelworks.serving.app import ScoringApp
from modelworks.serving.batching import MicroBatcher
from modelworks.serving.nocode import NoCodeScorer


class Item:
    def __init__(self, value: int, *, rows: int = 1, fast: bool = False) -> None:
        self.value = value
        self.rows = rows
        self.fast = fast


class Model:
    """A model that records the batches it is given; slow on its first call."""

    def __init__(self, first_call_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.first_call_s = first_call_s

    def predict_many(self, items: Sequence[Item]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        if not self.batches and self.first_call_s:
            time.sleep(self.first_call_s)
        self.batches.append([i.value for i in items])
        if any(i.value < 0 for i in items):
            raise ValueError(f"negative value in {[i.value for i in items]}")
        return [i.value * 10 for i in items]


def _batcher(model: Model, **settings: Any) -> MicroBatcher:
    from concurrent.futures import ThreadPoolExecutor

    return MicroBatcher(
        model.predict_many,
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="model"),
        **settings,
    )


def test_requests_arriving_while_the_model_is_busy_form_the_next_batch() -> None:
    model = Model(first_call_s=0.3)
    batcher = _batcher(model, max_batch_size=32, max_latency_ms=0)

    async def go() -> list[int]:
        first = batcher.submit(Item(1))
        await asyncio.sleep(0.05)  # the first batch (one request) is being predicted
        rest = [batcher.submit(Item(v)) for v in range(2, 12)]
        return list(await asyncio.gather(first, *rest))

    assert asyncio.run(go()) == [v * 10 for v in range(1, 12)]
    assert model.batches == [[1], list(range(2, 12))]
    assert batcher.rows == 11 and batcher.batches == 2


def test_batches_stop_at_max_batch_size_rows() -> None:
    model = Model()
    batcher = _batcher(model, max_batch_size=32, max_latency_ms=0)

    async def go() -> None:
        items = [Item(v) for v in range(60)] + [Item(100, rows=20)]
        await asyncio.gather(*(batcher.submit(i) for i in items))

    asyncio.run(go())
    assert [len(b) for b in model.batches] == [32, 28, 1]


def test_a_bad_request_fails_alone() -> None:
    model = Model()
    batcher = _batcher(model, max_batch_size=8, max_latency_ms=0)

    async def go() -> list[Any]:
        futures = [batcher.submit(Item(v)) for v in (1, -1, 3)]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    good, bad, other = asyncio.run(go())
    assert (good, other) == (10, 30)
    assert isinstance(bad, ValueError) and "[-1]" in str(bad)


def test_a_lone_request_on_an_idle_model_does_not_wait_for_company() -> None:
    model = Model()
    batcher = _batcher(model, max_batch_size=32, max_latency_ms=10_000)

    async def go() -> int:
        return int(await asyncio.wait_for(batcher.submit(Item(4)), timeout=5))

    assert asyncio.run(go()) == 40


def test_under_concurrent_load_a_request_waits_for_company() -> None:
    model = Model()
    batcher = _batcher(model, max_batch_size=2, max_latency_ms=5_000)

    async def go() -> None:
        await asyncio.gather(batcher.submit(Item(1)), batcher.submit(Item(2)))
        late = batcher.submit(Item(3))  # the last batch had company: this one waits
        await asyncio.sleep(0.2)
        assert not late.done()
        await asyncio.gather(late, batcher.submit(Item(4)))  # the batch is full: it goes

    asyncio.run(go())
    assert model.batches == [[1, 2], [3, 4]]


def test_fast_path_batches_run_on_the_event_loop() -> None:
    model = Model()
    batcher = _batcher(model, max_batch_size=8, max_latency_ms=0)

    async def go() -> None:
        await asyncio.gather(*(batcher.submit(Item(v, fast=True)) for v in range(5)))

    asyncio.run(go())
    assert model.threads == {threading.current_thread().name}


# -- the DataFrame path of a real model -----------------------------------------------------


@pytest.fixture
def frame_scorer(lgbm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> NoCodeScorer:
    monkeypatch.setenv("MODELWORKS_NO_FAST_PATH", "1")
    scorer = NoCodeScorer(load_model(lgbm_dir))
    assert not scorer.fast_path
    return scorer


def test_deferred_tables_are_joined_and_answer_as_alone(
    frame_scorer: NoCodeScorer, numeric_data: tuple
) -> None:
    X, _, columns = numeric_data
    bodies: list[Any] = [
        {"input_data": {"columns": columns, "data": X.iloc[0:2].to_numpy().tolist()}},
        {"input_data": {"columns": columns, "data": X.iloc[2:3].to_numpy().tolist()}},
        {"dataframe_records": X.iloc[3:5].to_dict(orient="records")},
        {"input_data": X.iloc[5:6].to_numpy().tolist()},
        {"input_data": {"columns": columns[::-1], "data": X.iloc[6:8, ::-1].to_numpy().tolist()}},
    ]
    prepared = [frame_scorer.prepare(b, defer=True) for b in bodies]
    assert all(p.deferred for p in prepared) and [p.rows for p in prepared] == [2, 1, 2, 1, 2]
    together = frame_scorer.predict_many(prepared)
    for body, answer in zip(bodies, together, strict=True):
        alone = frame_scorer.predict(frame_scorer.prepare(body))
        np.testing.assert_array_equal(answer["predictions"], alone["predictions"])
    expected = frame_scorer.model.predict(X.head(8))
    np.testing.assert_array_equal(np.concatenate([a["predictions"] for a in together]), expected)


def test_a_deferred_request_with_a_missing_column_fails_with_its_own_error(
    frame_scorer: NoCodeScorer, numeric_data: tuple
) -> None:
    X, _, columns = numeric_data
    good = frame_scorer.prepare(
        {"input_data": {"columns": columns, "data": X.head(1).to_numpy().tolist()}}, defer=True
    )
    bad = frame_scorer.prepare(
        {"input_data": {"columns": columns[:-1], "data": X.head(1).to_numpy()[:, :-1].tolist()}},
        defer=True,
    )
    with pytest.raises(InputSchemaError):
        frame_scorer.predict_many([good, bad])
    with pytest.raises(InputSchemaError, match="missing required column\\(s\\) 'f5'"):
        frame_scorer.predict(bad)
    assert len(frame_scorer.predict(good)["predictions"]) == 1


def test_the_app_batches_the_dataframe_path(
    lgbm_dir: Path, numeric_data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELWORKS_NO_FAST_PATH", "1")
    X, _, columns = numeric_data
    app = ScoringApp(
        NoCodeScorer(load_model(lgbm_dir)), batching={"max_batch_size": 64, "max_latency_ms": 5}
    )
    assert app.batcher is not None
    expected = app.scorer.model.predict(X.head(30)).tolist()

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            calls = [
                client.post(
                    "/score",
                    json={"input_data": {"columns": columns, "data": [X.iloc[i].tolist()]}},
                )
                for i in range(30)
            ]
            calls.append(
                client.post(
                    "/score",
                    json={"input_data": {"columns": columns[:-1], "data": [[1.0] * 5]}},
                )
            )
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(go())
    assert [a.json()["predictions"][0] for a in answers[:30]] == expected
    assert answers[30].status_code == 422 and "'f5'" in answers[30].json()["message"]
    assert app.batcher.rows == 31 and app.batcher.batches < 31
