"""Showing an AutoML run as it goes: a Rich progress bar (SDK) and a live view (CLI).

All are search callbacks. :class:`ProgressBar` shows elapsed time against the budget, trials
done and the best score on one line (``verbose=0`` turns it off). :class:`LiveView` is what
``modelworks automl run`` and ``job create --stream`` show: elapsed vs budget, trials done and
running, the best score and a short leaderboard, refreshed several times a second.
:class:`LogView` is the same view as plain text lines for a job's log (``job stream``): a
status line every few seconds and the top of the leaderboard whenever the best improves.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from modelworks.automl._trial import TrialResult, TrialSpec
from modelworks.automl.settings import AutoMLSettings

__all__ = ["LiveView", "LogView", "ProgressBar"]


class _State:
    def __init__(self, settings: AutoMLSettings) -> None:
        from modelworks.automl.metrics import default_metric, get_metric

        self.settings = settings
        self.metric = get_metric(
            settings.primary_metric or default_metric(settings.task), settings.task
        )
        self.started = time.time()
        self.done: list[TrialResult] = []
        self.running: dict[int, TrialSpec] = {}
        self.best: TrialResult | None = None
        self.lock = threading.Lock()

    def on_trial_start(self, spec: TrialSpec) -> None:
        with self.lock:
            self.running[spec.number] = spec

    def on_trial_end(self, result: TrialResult, best: TrialResult | None) -> None:
        with self.lock:
            self.running.pop(result.number, None)
            self.done.append(result)
            self.best = best

    def best_text(self) -> str:
        if self.best is None:
            return "—"
        return f"{self.metric.from_loss(self.best.loss):.4f} ({self.best.learner})"


class ProgressBar(_State):
    """One Rich progress line on stderr while ``fit`` runs."""

    def __init__(self, settings: AutoMLSettings) -> None:
        super().__init__(settings)
        self._progress: Any = None
        self._task: Any = None
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, started: float) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.started = started
        self._progress = Progress(
            TextColumn("[bold]AutoML[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.fields[elapsed]:>5.0f}/{task.total:.0f}s"),
            TextColumn("trials {task.fields[trials]}  best {task.fields[best]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(
            self.settings.task, total=self.settings.time_budget, elapsed=0.0, trials=0, best="—"
        )
        self._progress.start()
        self._timer = threading.Thread(target=self._tick, daemon=True)
        self._timer.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._update()

    def _update(self) -> None:
        if self._progress is None:
            return
        elapsed = time.time() - self.started
        with self.lock:
            trials, best = len(self.done), self.best_text()
        self._progress.update(
            self._task,
            completed=min(elapsed, self.settings.time_budget),
            elapsed=elapsed,
            trials=trials,
            best=best,
        )

    def stop(self) -> None:
        self._stop.set()
        if self._progress is not None:
            self._update()
            self._progress.stop()
            self._progress = None

    def finish(self, outcome: Any) -> None:
        self.stop()


class LiveView(_State):
    """A live panel: budget, trials, best score and the top of the leaderboard."""

    def __init__(self, settings: AutoMLSettings, *, console: Any = None, rows: int = 5) -> None:
        super().__init__(settings)
        self.console = console
        self.rows = rows
        self._live: Any = None

    def start(self, started: float) -> None:
        from rich.live import Live

        self.started = started
        self._live = Live(
            get_renderable=self.render, console=self.console, refresh_per_second=4, transient=False
        )
        self._live.start()

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        elapsed = time.time() - self.started
        with self.lock:
            done = list(self.done)
            running = list(self.running.values())
            best = self.best_text()
        failed = sum(1 for r in done if r.status != "completed")
        head = Text.assemble(
            ("AutoML ", "bold"),
            f"{self.settings.task}  ",
            (f"{elapsed:5.1f}s", "cyan"),
            f" / {self.settings.time_budget:g}s   trials done ",
            (str(len(done)), "green"),
            f" ({failed} not completed)   running ",
            (str(len(running)), "yellow"),
            "   best ",
            (best, "bold green"),
        )
        table = Table(show_edge=False, pad_edge=False)
        for column in ("#", "learner", self.metric.name, "status", "seconds"):
            table.add_column(column)
        ranked = sorted(
            done, key=lambda r: (r.status != "completed", r.loss if math.isfinite(r.loss) else 9e9)
        )
        for r in ranked[: self.rows]:
            score = f"{self.metric.from_loss(r.loss):.4f}" if r.status == "completed" else "—"
            table.add_row(str(r.number), r.learner, score, r.status, f"{r.duration:.1f}")
        for spec in running:
            table.add_row(str(spec.number), spec.learner, "…", "running", "")
        return Group(head, table)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def finish(self, outcome: Any) -> None:
        self.stop()


class LogView(_State):
    """The live view as log lines, written with ``write(text)``; ``stop`` (e.g. a job's
    cancel flag) is what :meth:`should_stop` answers, which stops the search."""

    def __init__(
        self,
        settings: AutoMLSettings,
        write: Any,
        *,
        stop: Any = None,
        every_s: float = 2.0,
        rows: int = 5,
    ) -> None:
        super().__init__(settings)
        self.write = write
        self.stop_requested = stop
        self.every_s = every_s
        self.rows = rows
        self._timer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._best_shown: int | None = None

    def should_stop(self) -> bool:
        return bool(self.stop_requested is not None and self.stop_requested())

    def start(self, started: float) -> None:
        self.started = started
        self.write(
            f"AutoML {self.settings.task}: budget {self.settings.time_budget:g} s, "
            f"metric {self.metric.name}, {_concurrency(self.settings)}\n"
        )
        self._timer = threading.Thread(target=self._tick, daemon=True)
        self._timer.start()

    def _tick(self) -> None:
        while not self._stopped.wait(self.every_s):
            self.write(self.status() + "\n")

    def status(self) -> str:
        """``[ 12.0s / 60s] trials 5 done (1 not completed), 2 running | best ...``"""
        elapsed = time.time() - self.started
        with self.lock:
            done, running, best = len(self.done), len(self.running), self.best_text()
            failed = sum(1 for r in self.done if r.status != "completed")
        return (
            f"[{elapsed:6.1f}s / {self.settings.time_budget:g}s] trials {done} done "
            f"({failed} not completed), {running} running | best {self.metric.name} {best}"
        )

    def leaderboard(self) -> str:
        """The top trials so far, one per line."""
        with self.lock:
            ranked = sorted(
                (r for r in self.done if r.status == "completed"), key=lambda r: r.loss
            )[: self.rows]
        lines = [f"  {'#':>4}  {'learner':<20} {self.metric.name:>12}  seconds"]
        for r in ranked:
            score = self.metric.from_loss(r.loss)
            lines.append(f"  {r.number:>4}  {r.learner:<20} {score:>12.4f}  {r.duration:7.1f}")
        return "\n".join(lines) + "\n"

    def on_guardrails(self, report: list[Any]) -> None:
        for g in report:
            self.write(f"guardrail {g.name}: {g.status} - {g.description}\n")

    def on_trial_end(self, result: TrialResult, best: TrialResult | None) -> None:
        super().on_trial_end(result, best)
        if best is not None and best.number != self._best_shown:
            self._best_shown = best.number
            self.write(self.status() + "\n" + self.leaderboard())

    def stop(self) -> None:
        self._stopped.set()
        if self._timer is not None:
            self._timer.join(timeout=1.0)
            self._timer = None

    def finish(self, outcome: Any) -> None:
        self.stop()
        self.write(self.status() + "\n")
        self.write(
            f"AutoML done in {outcome.fit_time:.1f} s ({outcome.stop_reason}): best "
            f"{outcome.best_name} {outcome.metric.name}={outcome.best_score:.4f}\n"
        )


def _concurrency(settings: AutoMLSettings) -> str:
    """How many trials run at once, and where."""
    workers = settings.trial_workers
    where = f" on the Ray cluster at {settings.compute}" if settings.compute else ""
    if workers is None:
        return f"one trial per CPU{where}"
    return f"{workers} trial(s) at a time{where}"
