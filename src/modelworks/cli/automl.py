"""``modelworks automl run``: AutoML on a table, from flags or an Azure ``type: automl`` YAML.

::

    modelworks automl run --data azureml:bank@latest --target y --task classification --timeout 60
    modelworks automl run -f automl.yml

While it runs, a live view on stderr shows elapsed time against the budget, trials done and
running, the best score and the top of the leaderboard (``--no-live`` turns it off). At the
end it prints the best model, its metrics and where it was registered; ``-o json`` prints
the same as JSON on stdout.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    add_row,
    emit,
    err_console,
    fail,
    kv_table,
    new_table,
    print_renderable,
    workspace,
)

app = typer.Typer(help="AutoML: find the best model for a table.", no_args_is_help=True)


def _spec_from_flags(
    data: str,
    target: str,
    task: str,
    timeout: float,
    metric: str | None,
    max_trials: int | None,
    n_jobs: int | None,
    experiment: str,
    time_column: str | None,
    horizon: int | None,
    series_ids: list[str] | None,
    compute: str | None = None,
) -> Any:
    from modelworks.specs.automl import AutoMLJobSpec

    body: dict[str, Any] = {
        "type": "automl",
        "task": task,
        "target_column_name": target,
        "experiment_name": experiment,
        "training_data": {"type": "mltable", "path": data},
        "limits": {"timeout_seconds": timeout},
    }
    if metric:
        body["primary_metric"] = metric
    if compute:
        body["compute"] = compute
    if max_trials:
        body["limits"]["max_trials"] = max_trials
    if n_jobs:
        body["limits"]["max_concurrent_trials"] = n_jobs
    if task == "forecasting":
        body["forecasting"] = {
            "time_column_name": time_column,
            "forecast_horizon": horizon or 1,
            "time_series_id_column_names": series_ids or [],
        }
    from modelworks.specs._loading import validate_spec

    return validate_spec(AutoMLJobSpec, body, source="command-line options")


@app.command("run")
def run(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="An Azure ML AutoML job YAML (type: automl)."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Training data: azureml:<name>@latest or a file/folder."),
    ] = None,
    target: Annotated[str | None, typer.Option("--target", help="The target column.")] = None,
    task: Annotated[
        str, typer.Option("--task", help="classification, regression or forecasting.")
    ] = "classification",
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Time budget in seconds.")
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Primary metric.")] = None,
    max_trials: Annotated[int | None, typer.Option("--max-trials")] = None,
    n_jobs: Annotated[int | None, typer.Option("--n-jobs", help="Trials at once.")] = None,
    experiment: Annotated[str, typer.Option("--experiment", "-e")] = "automl",
    model_name: Annotated[
        str | None, typer.Option("--model-name", help="Register the best model as this.")
    ] = None,
    time_column: Annotated[str | None, typer.Option("--time-column")] = None,
    horizon: Annotated[int | None, typer.Option("--horizon")] = None,
    series_id: Annotated[list[str] | None, typer.Option("--series-id")] = None,
    compute: Annotated[
        str | None,
        typer.Option(
            "--compute",
            help="Run the trials on this Ray compute (a registered name or host:6379); "
            "default: local processes.",
        ),
    ] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Show the live view.")] = True,
    output: OutputOpt = Output.table,
) -> None:
    """Run AutoML and register the best model."""
    from modelworks.automl.job import run_automl_job
    from modelworks.automl.progress import LiveView

    if file is None and (data is None or target is None):
        fail("Give either --file automl.yml, or --data and --target (with --task, --timeout).")
    if file is not None:
        from modelworks.specs.automl import load_automl_spec

        spec = load_automl_spec(file)
        if compute:
            spec = spec.model_copy(update={"compute": compute})
    else:
        assert data is not None and target is not None
        spec = _spec_from_flags(
            data,
            target,
            task,
            timeout or 60.0,
            metric,
            max_trials,
            n_jobs,
            experiment,
            time_column,
            horizon,
            series_id,
            compute,
        )
    ws = workspace(ctx)
    if compute:  # named here on purpose: a name that is not a Ray compute is an error
        from modelworks.automl._executor import trial_compute

        trial_compute(compute, ws)
    progress = None
    if live and output == Output.table:
        from modelworks.automl.job import settings_from_spec

        settings = settings_from_spec(spec, workspace=ws)
        if timeout is not None:
            settings.time_budget = timeout
        progress = LiveView(settings, console=err_console())
    result = run_automl_job(
        ws,
        spec,
        progress=progress,
        model_name=model_name,
        time_budget=timeout if file is not None else None,
    )
    board = result.leaderboard
    payload = {
        "run_id": result.run_id,
        "best_model": result.best_model,
        "metric": result.metric,
        "best_score": result.best_score,
        "registered_model": (
            f"{result.model.name}:{result.model.version}" if result.model is not None else None
        ),
        "metrics": {k: v for k, v in result.outcome.metrics.items() if math.isfinite(v)},
        "test_metrics": {k: v for k, v in result.test_metrics.items() if math.isfinite(v)},
        "trials": len(result.outcome.trials),
        "fit_time_s": round(result.outcome.fit_time, 2),
        "leaderboard": [
            {k: row[k] for k in ("rank", "model", result.metric, "status", "duration_s")}
            for row in board.head(10).to_dict("records")
        ],
    }

    def render() -> None:
        print_renderable(
            kv_table(
                [
                    ("run", result.run_id),
                    ("best model", result.best_model),
                    (result.metric, f"{result.best_score:.4f}"),
                    ("registered", payload["registered_model"] or "—"),
                    ("trials", str(payload["trials"])),
                    ("fit time", f"{payload['fit_time_s']} s"),
                ],
                title="AutoML",
            )
        )
        table = new_table("rank", "model", result.metric, "status", "seconds", title="Leaderboard")
        for row in payload["leaderboard"]:
            score = row[result.metric]
            add_row(
                table,
                [
                    row["rank"],
                    row["model"],
                    f"{score:.4f}" if isinstance(score, float) and math.isfinite(score) else "—",
                    row["status"],
                    row["duration_s"],
                ],
            )
        print_renderable(table)

    emit(output, payload, render)
