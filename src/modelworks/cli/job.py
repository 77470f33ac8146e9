"""``modelworks job ...``: jobs, i.e. runs: list, show, metrics, download their artifacts.

A job is named by its run id, by its name (``attributes.name``) or by the first characters
of its id (at least 6, as ``job list`` shows 8); an ambiguous value lists the matching ids.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    add_row,
    cell,
    emit,
    fmt_duration,
    fmt_number,
    fmt_time,
    kv_table,
    new_table,
    note,
    print_renderable,
    say,
    status,
    workspace,
)
from modelworks.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from rich.text import Text

    from modelworks.entities import Run
    from modelworks.workspace import Workspace

app = typer.Typer(help="Jobs (runs): list, show, metrics, download outputs.", no_args_is_help=True)

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_ID_PREFIX = re.compile(r"^[0-9a-f]{6,31}$")
SHORT_ID = 8
STATUS_STYLES = {
    "Completed": "green",
    "Failed": "bold red",
    "Canceled": "yellow",
    "CancelRequested": "yellow",
    "Running": "cyan",
    "Queued": "dim",
    "Preparing": "dim",
    "Finalizing": "cyan",
}
KEY_METRICS = 4
ERROR_TAIL_LINES = 20

NameOrId = Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="Run id or run name.")]


def _quote(value: str) -> str:
    """A filter string literal holding ``value`` exactly."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def resolve_run(ws: Workspace, value: str) -> Run:
    """The run whose id is ``value``, else the one run named ``value``, else the one run
    whose id starts with ``value``."""
    if _RUN_ID.match(value):
        try:
            return ws.runs.get(value)
        except NotFoundError:
            pass
    found = ws.runs.search(filter=f"attributes.name = {_quote(value)}", max_results=20)
    if not found and _ID_PREFIX.match(value):
        found = ws.runs.search(filter=f"attributes.id LIKE {_quote(value + '%')}", max_results=20)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(
            f"No job (run) with id or name {value!r}. List them with `modelworks job list`."
        )
    ids = ", ".join(r.id for r in found[:10])
    raise InvalidInputError(
        f"{len(found)} jobs match {value!r} ({ids}); give the full run id instead."
    )


def _status_cell(status_value: str) -> Text:
    return cell(status_value, STATUS_STYLES.get(status_value, ""))


def _experiment_names(ws: Workspace) -> dict[str, str]:
    return {e.id: e.name for e in ws.experiments.list(include_deleted=True)}


def _run_dict(run: Run, experiments: dict[str, str]) -> dict[str, Any]:
    data = run.to_dict()
    data["experiment"] = experiments.get(run.experiment_id)
    return data


def _key_metrics(runs: list[Run]) -> list[str]:
    """The metric keys most runs have (alphabetical among equals), at most KEY_METRICS."""
    counts = Counter(key for run in runs for key in run.metrics)
    return sorted(counts, key=lambda k: (-counts[k], k))[:KEY_METRICS]


@app.command("list")
def list_(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help="Only this experiment (repeatable)."),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="e.g. \"metrics.auc > 0.9 and params.C = '1.0'\"."),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", help="e.g. 'metrics.auc desc' (repeatable)."),
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-r", min=1, help="At most this many jobs.")
    ] = 50,
    include_deleted: Annotated[bool, typer.Option("--include-deleted")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Jobs (runs), newest first: name, experiment, status, start, duration, key metrics."""
    ws = workspace(ctx)
    runs = list(
        ws.runs.search(
            experiment or None,
            filter=filter_,
            order_by=order_by,
            max_results=max_results,
            include_deleted=include_deleted,
        )
    )
    experiments = _experiment_names(ws)
    data = [_run_dict(r, experiments) for r in runs]

    def render() -> None:
        keys = _key_metrics(runs)
        table = new_table(
            "name",
            "id",
            "experiment",
            "status",
            "started",
            "duration",
            *keys,
            options={
                "name": {"no_wrap": True},
                "id": {"no_wrap": True},
                "status": {"no_wrap": True},
                "started": {"no_wrap": True},
                "duration": {"no_wrap": True, "justify": "right"},
                **{k: {"justify": "right"} for k in keys},
            },
        )
        for r in runs:
            add_row(
                table,
                (
                    r.name,
                    r.id[:SHORT_ID],
                    experiments.get(r.experiment_id, r.experiment_id),
                    _status_cell(r.status.value),
                    fmt_time(r.start_time, short=True),
                    fmt_duration(r.start_time, r.end_time),
                    *(fmt_number(r.metrics.get(k)) for k in keys),
                ),
            )
        print_renderable(table)
        if not runs:
            note("No jobs match.")

    emit(output, data, render)


@app.command("show")
def show(ctx: typer.Context, name_or_id: NameOrId, output: OutputOpt = Output.table) -> None:
    """A job's attributes, params, latest metrics, tags and child jobs (the error first if it failed)."""
    ws = workspace(ctx)
    run = resolve_run(ws, name_or_id)
    experiments = _experiment_names(ws)
    children = list(ws.runs.children(run.id))
    data = _run_dict(run, experiments)
    data["children"] = [{"id": c.id, "name": c.name, "status": c.status.value} for c in children]
    steps = _pipeline_steps(ws, run)
    if steps:
        data["steps"] = steps

    def render() -> None:
        from rich.panel import Panel

        if run.error:
            tail = "\n".join(run.error.rstrip().splitlines()[-ERROR_TAIL_LINES:])
            print_renderable(
                Panel(cell(tail), title="error (last lines)", border_style="red", expand=False)
            )
        print_renderable(
            kv_table(
                [
                    ("name", run.name),
                    ("id", run.id),
                    ("experiment", experiments.get(run.experiment_id, run.experiment_id)),
                    ("status", _status_cell(run.status.value)),
                    ("kind", run.kind),
                    ("user", run.user),
                    ("created", fmt_time(run.created_at)),
                    ("started", fmt_time(run.start_time)),
                    ("ended", fmt_time(run.end_time)),
                    ("duration", fmt_duration(run.start_time, run.end_time)),
                    ("parent", run.parent_id),
                    ("description", run.description),
                ],
                title=f"Job {run.name}",
            )
        )
        for title, values, numeric in (
            ("Params", run.params, False),
            ("Metrics (latest)", run.metrics, True),
            ("Tags", run.tags, False),
        ):
            if values:
                table = new_table("key", "value", title=title)
                for key in sorted(values):
                    add_row(table, (key, fmt_number(values[key]) if numeric else values[key]))
                print_renderable(table)
        if steps:
            dag = new_table("step", "status", "after", "job", "note", title="Pipeline steps")
            for row in steps:
                add_row(
                    dag,
                    (
                        row["step"],
                        _status_cell(row["status"]),
                        ", ".join(row["after"]),
                        row["job"] or "",
                        row["note"],
                    ),
                )
            print_renderable(dag)
        if children:
            table = new_table("name", "id", "status", "duration", title="Child jobs")
            for c in children:
                add_row(
                    table,
                    (
                        c.name,
                        c.id,
                        _status_cell(c.status.value),
                        fmt_duration(c.start_time, c.end_time),
                    ),
                )
            print_renderable(table)

    emit(output, data, render)


def _pipeline_steps(ws: Workspace, run: Run) -> list[dict[str, Any]]:
    """The step table of a pipeline job (empty for other runs)."""
    if run.kind != "pipeline":
        return []
    from modelworks.pipelines.view import pipeline_steps

    return pipeline_steps(ws, run.id)


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    name_or_id: NameOrId,
    key: Annotated[str, typer.Option("--key", "-k", help="Metric name.")],
    output: OutputOpt = Output.table,
) -> None:
    """Every logged value of one metric (step, value, time)."""
    ws = workspace(ctx)
    run = resolve_run(ws, name_or_id)
    history = ws.runs.get_metric_history(run.id, key)
    if not history and key not in run.metrics:
        known = ", ".join(sorted(run.metrics)) or "none"
        raise NotFoundError(f"Job {run.name} has no metric {key!r}; its metrics: {known}.")
    data = [m.to_dict() for m in history]

    def render() -> None:
        table = new_table(
            "step",
            "value",
            "time",
            title=f"{key} of {run.name}",
            options={"step": {"justify": "right"}},
        )
        for m in history:
            add_row(table, (m.step, fmt_number(m.value), fmt_time(m.timestamp)))
        print_renderable(table)

    emit(output, data, render)


def _artifact_path(
    ws: Workspace, run: Run, artifact_path: str | None, output_name: str | None
) -> str:
    if artifact_path is not None and output_name is not None:
        raise typer.BadParameter(
            "give one of them, not both.", param_hint="'--artifact-path' / '--output-name'"
        )
    if output_name is None:
        return artifact_path or ""
    for candidate in (f"outputs/{output_name}", output_name):
        if ws.runs.list_artifacts(run.id, candidate):
            return candidate
    top = sorted({e.path.split("/", 1)[0] for e in ws.runs.list_artifacts(run.id)})
    raise NotFoundError(
        f"Job {run.name} has no output {output_name!r} (looked in outputs/{output_name} and "
        f"{output_name}); its artifacts: {', '.join(top) or 'none'}."
    )


@app.command("download")
def download(
    ctx: typer.Context,
    name_or_id: NameOrId,
    path: Annotated[
        Path | None,
        typer.Option("--path", "-p", help="Destination folder (default: ./<job name>)."),
    ] = None,
    artifact_path: Annotated[
        str | None, typer.Option("--artifact-path", help="Only this artifact file or folder.")
    ] = None,
    output_name: Annotated[
        str | None,
        typer.Option("--output-name", help="Only this named output (outputs/<name> or <name>)."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Download a job's artifacts (all, one path, or one named output)."""
    ws = workspace(ctx)
    run = resolve_run(ws, name_or_id)
    source = _artifact_path(ws, run, artifact_path, output_name)
    dest = path if path is not None else Path(run.name or run.id)
    with status(f"Downloading artifacts of {run.name} …"):
        local = ws.runs.download_artifacts(run.id, source, dest)
    emit(
        output,
        {"id": run.id, "artifact_path": source, "path": os.fspath(Path(local).resolve())},
        lambda: say(f"Downloaded {source or 'all artifacts'} of {run.name} to {local}"),
    )
