"""Adaptive micro-batching: concurrent requests of a no-code deployment predicted together.

The batch forms while the model is busy: requests that arrive during a prediction queue up,
and as soon as it ends everything queued (up to ``max_batch_size`` rows) goes as the next
batch. When the model is idle a request goes at once — together with whatever arrived in the
same turn of the event loop — so at low load batching adds no latency and at high load the
batch size follows the load. ``max_latency_ms`` bounds the one wait there is: while requests
keep arriving concurrently (the last batch had more than one), a request that finds the model
idle may wait that long for company, unless ``max_batch_size`` rows come first.

Where the prediction runs: numpy fast-path batches (tens of microseconds) on the event loop;
anything else — DataFrame construction, signature checks and the model's predict, which for
table models cost milliseconds per call whatever the row count — in the worker's one model
thread, so the loop keeps reading requests meanwhile. One batch runs at a time.

If a batch fails, its requests are predicted one by one, so a bad request fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

__all__ = ["MicroBatcher"]

_Item = tuple[Any, "asyncio.Future[Any]"]
_Outcome = tuple[Any, BaseException | None]


class MicroBatcher:
    """Collects prepared requests and predicts them in batches (see the module docstring)."""

    def __init__(
        self,
        predict_many: Callable[[Sequence[Any]], list[Any]],
        *,
        max_batch_size: int = 32,
        max_latency_ms: float = 2.0,
        executor: Executor | None = None,
    ) -> None:
        self.predict_many = predict_many
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000
        self.executor = executor
        self._queue: list[_Item] = []
        self._queued_rows = 0
        self._busy = False
        self._scheduled: asyncio.Handle | asyncio.TimerHandle | None = None
        self._lingering = False
        self._company = False
        self.batches = 0
        self.rows = 0

    def submit(self, prepared: Any) -> asyncio.Future[Any]:
        """A future of the answer for one prepared request."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        was_empty = not self._queue
        self._queue.append((prepared, future))
        self._queued_rows += getattr(prepared, "rows", 1)
        if self._busy:
            return future  # goes with the next batch, when the running one ends
        if self._queued_rows >= self.max_batch_size:
            if self._scheduled is None or self._lingering:
                self._reschedule(loop, 0.0)
        elif self._scheduled is None:
            self._reschedule(loop, self.max_latency_s if was_empty and self._company else 0.0)
        return future

    def _reschedule(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
        self._lingering = delay > 0
        self._scheduled = (
            loop.call_later(delay, self._flush) if delay > 0 else loop.call_soon(self._flush)
        )

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        rows = 0
        queue = self._queue
        taken = 0
        for item in queue:
            size = getattr(item[0], "rows", 1)
            if batch and rows + size > self.max_batch_size:
                break
            batch.append(item)
            rows += size
            taken += 1
        del queue[:taken]
        self._queued_rows -= rows
        self.batches += 1
        self.rows += rows
        return batch

    def _flush(self) -> None:
        self._scheduled = None
        self._lingering = False
        if self._busy or not self._queue:
            return
        batch = self._take()
        self._company = len(batch) > 1
        inputs = [item for item, _ in batch]
        if self.executor is None or all(getattr(p, "fast", False) for p in inputs):
            self._deliver(batch, *self._run(inputs))
            self._next()
            return
        self._busy = True
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self.executor, self._run, inputs)
        done.add_done_callback(lambda f: self._ended(batch, f))

    def _ended(self, batch: list[_Item], done: asyncio.Future[Any]) -> None:
        self._busy = False
        try:
            answers, outcomes = done.result()
        except BaseException as e:  # noqa: BLE001 - the executor itself failed
            answers, outcomes = None, [(None, e) for _ in batch]
        self._deliver(batch, answers, outcomes)
        self._next()

    def _next(self) -> None:
        """Whatever queued meanwhile goes now: those requests have waited already."""
        if self._queue and self._scheduled is None:
            self._reschedule(asyncio.get_running_loop(), 0.0)

    def _run(self, inputs: list[Any]) -> tuple[list[Any] | None, list[_Outcome] | None]:
        """Predict the batch; on failure, each request alone (runs in the model thread)."""
        try:
            return self.predict_many(inputs), None
        except Exception:  # noqa: BLE001 - one bad request: answer each on its own
            outcomes: list[_Outcome] = []
            for item in inputs:
                try:
                    outcomes.append((self.predict_many([item])[0], None))
                except Exception as e:  # noqa: BLE001 - handed to the waiting request
                    outcomes.append((None, e))
            return None, outcomes

    @staticmethod
    def _deliver(
        batch: list[_Item], answers: list[Any] | None, outcomes: list[_Outcome] | None
    ) -> None:
        if answers is not None:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
            return
        assert outcomes is not None
        for (_, future), (answer, error) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(answer)
