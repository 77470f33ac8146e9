"""An AutoML session: runs the search with progress display and workspace recording.

It ties the search to what surrounds it — the Rich progress bar (``verbose``), the parent run
and one child run per trial when a workspace is given, and, at the end, the leaderboard,
guardrails, metrics, charts and the best model logged to the parent run (and registered
when asked).
"""

from __future__ import annotations

from typing import Any

from modelworks.automl.settings import AutoMLSettings

__all__ = ["AutoMLSession"]


class AutoMLSession:
    """One AutoML run with its observers."""

    def __init__(
        self,
        settings: AutoMLSettings,
        *,
        workspace: Any = None,
        experiment: str = "automl",
        register_model: str | None = None,
        run_name: str | None = None,
        extra_callbacks: list[Any] | None = None,
        progress: Any = None,
        on_outcome: Any = None,
        parent_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.workspace = workspace
        self.experiment = experiment
        self.register_model = register_model
        self.run_name = run_name
        self.extra_callbacks = extra_callbacks or []
        self.progress = progress
        self.on_outcome = on_outcome
        self.parent_id = parent_id
        self.run_id: str | None = None
        self.registered_model: Any = None
        self.recorder: Any = None

    def _callbacks(self) -> list[Any]:
        callbacks = list(self.extra_callbacks)
        if self.workspace is not None:
            from modelworks.automl._recording import RunRecorder

            self.recorder = RunRecorder(
                self.workspace,
                self.experiment,
                self.settings,
                run_name=self.run_name,
                parent_id=self.parent_id,
            )
            self.run_id = self.recorder.parent_id
            callbacks.append(self.recorder)
        if self.progress is None and self.settings.verbose > 0:
            from modelworks.automl.progress import ProgressBar

            self.progress = ProgressBar(self.settings)
        if self.progress is not None:
            callbacks.append(self.progress)
        return callbacks

    def run_tabular(
        self, X: Any, y: Any, *, X_valid: Any = None, y_valid: Any = None, started: float
    ) -> Any:
        from modelworks.automl._tabular import run_tabular

        callbacks = self._callbacks()
        try:
            if self.progress is not None:
                self.progress.start(started)
            outcome = run_tabular(
                X,
                y,
                self.settings,
                X_valid=X_valid,
                y_valid=y_valid,
                callbacks=callbacks,
                started=started,
            )
        except BaseException as e:
            if self.progress is not None:
                self.progress.stop()
            if self.recorder is not None:
                self.recorder.fail(e)
            raise
        if self.progress is not None:
            self.progress.finish(outcome)
        self._outcome_ready(outcome)
        if self.recorder is not None:
            self.registered_model = self.recorder.finish(
                outcome, register_model=self.register_model, input_example=_example(X, y)
            )
        return outcome

    def run_forecast(self, run: Any, started: float) -> Any:
        callbacks = self._callbacks()
        try:
            if self.progress is not None:
                self.progress.start(started)
            outcome = run(callbacks)
        except BaseException as e:
            if self.progress is not None:
                self.progress.stop()
            if self.recorder is not None:
                self.recorder.fail(e)
            raise
        if self.progress is not None:
            self.progress.finish(outcome)
        self._outcome_ready(outcome)
        if self.recorder is not None:
            self.registered_model = self.recorder.finish(
                outcome, register_model=self.register_model, input_example=None
            )
        return outcome

    def _outcome_ready(self, outcome: Any) -> None:
        if self.on_outcome is None:
            return
        try:
            self.on_outcome(outcome)
        except BaseException as e:
            if self.recorder is not None:
                self.recorder.fail(e)
            raise


def _example(X: Any, y: Any) -> Any:
    from modelworks.automl.model import as_frame

    try:
        frame = as_frame(X)
    except Exception:  # noqa: BLE001 - the example is a nicety
        return None
    if isinstance(y, str) and y in frame.columns:
        frame = frame.drop(columns=[y])
    return frame.head(5)
