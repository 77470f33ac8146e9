"""Asynchronous, batched run creation, metric writes and run heartbeats for one metadata store.

``log_metric`` (and creating a run) only appends to an in-memory queue (microseconds); a
background thread writes the queue in batches: new runs with one ``create_runs`` call, then
metrics with ``log_batch`` per run, so a run always exists before its metrics are written. ``flush()`` writes everything queued so far before returning, and every
batcher is flushed at interpreter exit, so no metric is lost on a clean exit. The same thread
sends heartbeats for the runs it watches, so a killed process's runs are reaped.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

from modelworks.entities import Metric
from modelworks.errors import ModelworksError, StoreUnavailableError
from modelworks.store.base import MetadataStore

__all__ = ["MetricBatcher"]

log = logging.getLogger(__name__)

MAX_BATCH = 5_000
FLUSH_INTERVAL_S = 0.5
HEARTBEAT_INTERVAL_S = float(os.environ.get("MODELWORKS_HEARTBEAT_INTERVAL", "10"))
_RETRIES = 5

_batchers: weakref.WeakSet[MetricBatcher] = weakref.WeakSet()


class MetricBatcher:
    """Queues new runs and (run_id, Metric) pairs and writes them in batches."""

    def __init__(self, meta: MetadataStore) -> None:
        self._meta = meta
        self._queue: collections.deque[tuple[str, Metric | dict[str, Any]]] = collections.deque()
        self.pending_runs: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._watched: dict[str, float] = {}
        self._error: ModelworksError | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        _batchers.add(self)

    # -- producer side ----------------------------------------------------------------------
    def add(self, run_id: str, metric: Metric) -> None:
        self._queue.append((run_id, metric))
        if self._thread is None:
            self._start()
        elif len(self._queue) >= MAX_BATCH and not self._wake.is_set():
            self._wake.set()

    def add_run(self, request: dict[str, Any]) -> None:
        """Queue a ``create_run`` request (its ``run_id`` chosen by the caller)."""
        self.pending_runs.add(request["run_id"])
        self.add(request["run_id"], request)  # type: ignore[arg-type]

    def extend(self, run_id: str, metrics: Iterable[Metric]) -> None:
        for metric in metrics:
            self.add(run_id, metric)

    def watch(self, run_id: str) -> None:
        """Send heartbeats for ``run_id`` until :meth:`unwatch`."""
        self._watched[run_id] = 0.0
        if self._thread is None:
            self._start()
        self._wake.set()

    def unwatch(self, run_id: str) -> None:
        self._watched.pop(run_id, None)

    def flush(self) -> None:
        """Write everything queued so far; raise the error of a failed background write."""
        self._drain(raise_errors=True)
        error, self._error = self._error, None
        if error is not None:
            raise error

    # -- consumer side ----------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modelworks-metrics", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                self._drain(raise_errors=False)
                self._beat()
            except Exception:
                log.exception("modelworks metric writer failed")

    def _beat(self) -> None:
        now = time.monotonic()
        for run_id, last in list(self._watched.items()):
            if now - last < HEARTBEAT_INTERVAL_S:
                continue
            self._watched[run_id] = now
            try:
                self._meta.heartbeat(run_id)
            except ModelworksError as e:
                log.warning("heartbeat for run %s failed: %s", run_id, e)

    def _drain(self, *, raise_errors: bool) -> None:
        with self._lock:
            while self._queue:
                new_runs: list[dict[str, Any]] = []
                batch: dict[str, list[Metric]] = {}
                taken: list[tuple[str, Metric | dict[str, Any]]] = []
                while self._queue and len(taken) < MAX_BATCH:
                    item = self._queue.popleft()
                    taken.append(item)
                    if isinstance(item[1], Metric):
                        batch.setdefault(item[0], []).append(item[1])
                    else:
                        new_runs.append(item[1])
                try:
                    if new_runs:
                        self._call(self._meta.create_runs, new_runs)
                        self.pending_runs.difference_update(r["run_id"] for r in new_runs)
                        new_runs = []
                    self._write(batch)
                except ModelworksError as e:
                    if isinstance(e, StoreUnavailableError):
                        self._queue.extendleft(reversed(taken))  # keep them for the next try
                    else:
                        self.pending_runs.difference_update(r["run_id"] for r in new_runs)
                    if raise_errors:
                        raise
                    self._error = e
                    return

    def _write(self, batch: dict[str, list[Metric]]) -> None:
        for run_id, metrics in batch.items():
            self._call(lambda r=run_id, m=metrics: self._meta.log_batch(r, metrics=m))

    @staticmethod
    def _call(fn: Any, *args: Any) -> None:
        for attempt in range(_RETRIES):
            try:
                fn(*args)
                return
            except StoreUnavailableError:
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.2 * 2**attempt)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()


@atexit.register
def _flush_all_at_exit() -> None:
    for batcher in list(_batchers):
        try:
            batcher.flush()
        except ModelworksError as e:  # pragma: no cover - nothing left to raise to
            log.error("modelworks could not write queued metrics at exit: %s", e)
