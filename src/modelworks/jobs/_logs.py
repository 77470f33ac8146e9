"""A job's combined stdout/stderr: written to ``std_log.txt`` on the worker, sent live to the
job store in small chunks (for ``job stream`` from any process), and kept whole as the run
artifact ``logs/std_log.txt`` when the job ends.

Offsets count characters, so a reader that printed the live chunks up to offset N prints the
rest of the final artifact from character N on — nothing twice, nothing lost.
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobStore

__all__ = ["SYSTEM_PREFIX", "LogSink"]

SYSTEM_PREFIX = "[modelworks] "
_TAIL_CHARS = 16_384


class LogSink:
    """Collects output of one job; thread-safe."""

    def __init__(
        self, store: JobStore, run_id: str, path: Path, *, flush_interval_s: float = 0.3
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.path = path
        self.flush_interval_s = flush_interval_s
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._offset = 0  # characters already sent as chunks
        self._seq = 0
        self._last_flush = time.monotonic()
        self._stderr_tail = ""
        self._lines: collections.deque[str] = collections.deque(maxlen=200)

    def write(self, stream: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._file.write(text)
            self._pending.append(text)
            if stream == "stderr":
                self._stderr_tail = (self._stderr_tail + text)[-_TAIL_CHARS:]

    def system(self, message: str) -> None:
        """A line from modelworks itself (environment builds, retries), marked as such."""
        self.write("system", f"{SYSTEM_PREFIX}{message.rstrip()}\n")

    def flush(self, *, force: bool = False) -> None:
        """Send pending output as one chunk when the interval has passed (or ``force``)."""
        with self._lock:
            if not self._pending:
                return
            if not force and time.monotonic() - self._last_flush < self.flush_interval_s:
                return
            data = "".join(self._pending)
            self._pending = []
            seq, offset = self._seq, self._offset
            self._seq += 1
            self._offset += len(data)
            self._last_flush = time.monotonic()
            self._file.flush()
        self.store.append_log(self.run_id, seq, offset, data)

    def close(self) -> None:
        """Close the file (pending output stays only in the file, which is uploaded whole)."""
        with self._lock:
            self._pending = []
            if not self._file.closed:
                self._file.close()

    def stderr_tail(self, lines: int = 20) -> str:
        with self._lock:
            text = self._stderr_tail
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])
