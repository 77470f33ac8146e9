"""Recording an AutoML run in a workspace: the parent run, one child run per trial, results.

The parent run (kind ``automl``) gets the settings as params, the best score as it improves
(metric ``best_<primary metric>``, one step per trial), and at the end the best model's
metrics (Azure's metric set, cross-validated), the leaderboard, the guardrails, the charts,
global feature importance and the model itself (``model/``: featurization + model(s) as one
scikit-learn estimator, with signature and input example; ``onnx/`` too when ONNX-compatible
models were asked for), which is registered when a name is given. Each trial is a child run
(kind ``trial``) with its learner and parameters, its score, loss, per-fold losses and
duration, ending Completed, Failed (crash or timeout) or Canceled (early-terminated).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from typing import Any

from modelworks.automl._trial import TrialResult, TrialSpec
from modelworks.automl.metrics import default_metric, get_metric
from modelworks.automl.settings import AutoMLSettings

__all__ = ["RunRecorder", "model_requirements"]

_STATUS = {"completed": "Completed", "pruned": "Canceled", "failed": "Failed", "timeout": "Failed"}


def model_requirements(model: Any) -> list[str]:
    """Distributions the saved model needs at inference."""
    from importlib.metadata import PackageNotFoundError, version

    needed = {"scikit-learn", "pandas", "numpy", "cloudpickle", "modelworks"}
    for member in getattr(model, "members", None) or []:
        needed.update(getattr(member, "packages", ()))  # forecasters name theirs
        for pipeline in getattr(member, "pipelines", None) or []:
            estimator = pipeline.steps[-1][1]
            for obj in (estimator, getattr(estimator, "model", None)):  # wrappers: CatBoost
                if obj is not None:
                    module = type(obj).__module__.split(".")[0]
                    needed.add({"sklearn": "scikit-learn"}.get(module, module))
    out = []
    for name in sorted(needed):
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


class RunRecorder:
    """Writes the AutoML run and its trials to ``workspace``."""

    def __init__(
        self,
        workspace: Any,
        experiment: str,
        settings: AutoMLSettings,
        *,
        run_name: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.ws = workspace
        self.experiment = experiment
        self.settings = settings
        self.metric = get_metric(
            settings.primary_metric or default_metric(settings.task), settings.task
        )
        # A run created here is ended here; a job's run (``parent_id`` given) is ended by the
        # job's driver through the job queue, so the job row and the run agree.
        self.ends_parent = parent_id is None
        if parent_id is None:
            run = workspace.runs.create(
                experiment,
                name=run_name,
                kind="automl",
                tags={"mw.automl.task": settings.task, "mw.automl.metric": self.metric.name},
                heartbeat=True,
            )
            parent_id = run.id
        self.parent_id = parent_id
        params = {
            "task": settings.task,
            "primary_metric": self.metric.name,
            "time_budget_s": settings.time_budget,
            "max_trials": settings.max_trials,
            "max_concurrent_trials": settings.trial_workers or "one per CPU",
            "compute": f"ray {settings.compute}" if settings.compute else "local",
            "n_cross_validations": settings.n_cross_validations,
            "enable_vote_ensemble": settings.enable_vote_ensemble,
            "enable_stack_ensemble": settings.enable_stack_ensemble,
            "random_state": settings.random_state,
        }
        with contextlib.suppress(Exception):  # a job may have logged them already
            workspace.runs.log_params(parent_id, params)
        self._children: dict[int, str] = {}

    # -- trials ---------------------------------------------------------------------------------
    def on_trial_start(self, spec: TrialSpec) -> None:
        run = self.ws.runs.create(
            self.experiment,
            name=f"{spec.learner}-{spec.number}",
            parent_id=self.parent_id,
            kind="trial",
            tags={"mw.automl.learner": spec.learner, "mw.automl.source": spec.source},
        )
        self._children[spec.number] = run.id

    def on_trial_end(self, result: TrialResult, best: TrialResult | None) -> None:
        run_id = self._children.pop(result.number, None)
        if run_id is None:
            return
        runs = self.ws.runs
        params = {"learner": result.learner, "sample_fraction": result.sample_fraction}
        params.update({k: v for k, v in result.params.items()})
        runs.log_params(run_id, params)
        metrics = {"duration_s": result.duration}
        if math.isfinite(result.loss):
            metrics["loss"] = result.loss
        if result.status == "completed":
            metrics[self.metric.name] = self.metric.from_loss(result.loss)
        for i, value in enumerate(result.fold_losses):
            if math.isfinite(value):
                metrics[f"fold_{i}_loss"] = value
        runs.log_metrics(run_id, metrics)
        where = str(result.extra.get("executor", "local"))  # "ray:<host>:<pid>" on a Ray compute
        runs.set_tags(run_id, {"mw.automl.status": result.status, "mw.automl.ran_on": where})
        runs.end(run_id, _STATUS.get(result.status, "Failed"), error=result.error)
        if best is not None:
            runs.log_metric(
                self.parent_id,
                f"best_{self.metric.name}",
                self.metric.from_loss(best.loss),
                step=result.number,
            )

    # -- the end ----------------------------------------------------------------------------------
    def fail(self, error: BaseException) -> None:
        for run_id in self._children.values():
            self.ws.runs.end(run_id, "Canceled")
        self._children.clear()
        if not self.ends_parent:
            return
        if isinstance(error, KeyboardInterrupt):  # Ctrl-C: as the fluent tracking API ends it
            self.ws.runs.end(self.parent_id, "Canceled", error="Interrupted (KeyboardInterrupt).")
        else:
            self.ws.runs.end(self.parent_id, "Failed", error=f"{type(error).__name__}: {error}")

    def finish(self, outcome: Any, *, register_model: str | None, input_example: Any) -> Any:
        """Log the results and the best model; register it when named; end the run."""
        runs = self.ws.runs
        run_id = self.parent_id
        try:
            metrics = {k: v for k, v in outcome.metrics.items() if math.isfinite(v)}
            metrics["fit_time_s"] = outcome.fit_time
            runs.log_metrics(run_id, metrics)
            runs.set_tags(
                run_id,
                {"mw.automl.best_model": outcome.best_name, "mw.automl.stop": outcome.stop_reason},
            )
            board = outcome.leaderboard.copy()
            runs.log_text(run_id, board.to_csv(index=False), "leaderboard.csv")
            runs.log_dict(run_id, [g.to_dict() for g in outcome.guardrails], "guardrails.json")
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    from modelworks.automl.charts import save_charts

                    save_charts(outcome, os.path.join(tmp, "charts"))
                    runs.log_artifact(run_id, os.path.join(tmp, "charts"), "charts")
                except Exception as e:  # noqa: BLE001 - charts must not lose the model
                    runs.set_tag(run_id, "mw.automl.charts_error", str(e)[:500])
            self._log_explanation(outcome, input_example)
            runs.log_model(
                run_id,
                outcome.model,
                "model",
                input_example=input_example,
                pip_requirements=model_requirements(outcome.model),
                metadata={"automl": {"task": outcome.task, "best_model": outcome.best_name}},
            )
            if self.settings.enable_onnx_compatible_models and outcome.task != "forecasting":
                from modelworks.automl.onnx import log_onnx_model

                log_onnx_model(self.ws, run_id, outcome, input_example)
            version = None
            if register_model:
                version = self.ws.models.register(
                    f"runs:/{run_id}/model",
                    name=register_model,
                    tags={
                        "automl_task": outcome.task,
                        outcome.metric.name: f"{outcome.best_score:.6g}",
                    },
                    description=f"AutoML best model ({outcome.best_name})",
                )
        except BaseException as e:
            if self.ends_parent:
                runs.end(run_id, "Failed", error=f"{type(e).__name__}: {e}")
            raise
        if self.ends_parent:
            runs.end(run_id, "Completed")
        return version

    def _log_explanation(self, outcome: Any, input_example: Any) -> None:
        sample = getattr(outcome, "explain_sample", None)
        if sample is None or outcome.task == "forecasting":
            return
        try:
            from modelworks.automl.explain import explain

            explanation = explain(outcome.model, sample, max_rows=200)
            self.ws.runs.log_dict(
                self.parent_id, explanation.to_dict(top=50), "explanations/global_importance.json"
            )
        except Exception as e:  # noqa: BLE001 - explanations must not lose the model
            self.ws.runs.set_tag(self.parent_id, "mw.automl.explain_error", str(e)[:500])
