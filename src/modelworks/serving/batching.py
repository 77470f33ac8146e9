"""Adaptive micro-batching: concurrent requests of a no-code deployment predicted together.

Requests queue up while the model is busy; as soon as it is free, everything queued (up to
``max_batch_size`` rows) is predicted in one call. A lone request waits at most
``max_latency_ms`` for company, so at low load the cost is bounded and at high load batches
form by themselves: the batch size adapts to the load. One prediction runs at a time, in the
worker's model thread (one thread per worker, so LightGBM/OpenMP threads do not fight).

If a batch fails, its requests are predicted one by one, so a bad request fails alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Collects prepared requests and predicts them in batches."""

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
        self._queue: list[tuple[Any, asyncio.Future[Any], float]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.rows = 0

    async def submit(self, prepared: Any) -> Any:
        """The answer for one prepared request, predicted with whatever else is queued."""
        loop = asyncio.get_running_loop()
        if self._wake is None:
            self._wake = asyncio.Event()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((prepared, future, time.monotonic()))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._loop())
        return await future

    def _queued_rows(self) -> int:
        return sum(getattr(item, "rows", 1) for item, _, _ in self._queue)

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=30)
                except TimeoutError:
                    if not self._queue:
                        return
                continue
            deadline = self._queue[0][2] + self.max_latency_s
            while self._queued_rows() < self.max_batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=remaining)
                except TimeoutError:
                    break
            batch: list[tuple[Any, asyncio.Future[Any], float]] = []
            rows = 0
            while self._queue and (
                not batch or rows + getattr(self._queue[0][0], "rows", 1) <= self.max_batch_size
            ):
                item = self._queue.pop(0)
                rows += getattr(item[0], "rows", 1)
                batch.append(item)
            await self._predict(loop, batch)
            self.batches += 1
            self.rows += rows

    async def _predict(
        self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Any, asyncio.Future[Any], float]]
    ) -> None:
        inputs = [item for item, _, _ in batch]
        try:
            answers = await loop.run_in_executor(self.executor, self.predict_many, inputs)
        except Exception:  # noqa: BLE001 - one bad request: answer each on its own
            for item, future, _ in batch:
                try:
                    answer = await loop.run_in_executor(self.executor, self.predict_many, [item])
                except Exception as e:  # noqa: BLE001 - handed to the waiting request
                    if not future.done():
                        future.set_exception(e)
                else:
                    if not future.done():
                        future.set_result(answer[0])
            return
        for (_, future, _), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
