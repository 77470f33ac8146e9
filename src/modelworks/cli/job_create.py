"""``modelworks job create / stream / cancel``: submit Azure ML job YAML and follow it.

These commands are registered on the ``job`` Typer app of :mod:`modelworks.cli.job` (which
holds list/show/metrics/download)::

    modelworks job create -f job.yml --stream
    modelworks job create -f job.yml --set inputs.epochs=20 --set compute=local
    modelworks job stream NAME
    modelworks job cancel NAME

Spec warnings (unknown keys, Azure-only things mapped to local ones) are printed once each on
stderr; a job that ends Failed or Canceled while streamed makes the command exit with 1.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    err_console,
    fail,
    note,
    print_renderable,
    say,
    workspace,
)
from modelworks.cli.job import STATUS_STYLES, app, resolve_run

if TYPE_CHECKING:
    from modelworks.jobs.entities import Job
    from modelworks.workspace import Workspace

__all__ = ["cancel", "create", "stream"]

NameOrId = Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="Job name or run id.")]


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for item in caught:
        text = str(item.message)
        if text not in seen:
            seen.add(text)
            note(f"Warning: {text}", style="yellow")


def _job_dict(job: Job) -> dict[str, Any]:
    return job.to_dict()


def follow(ws: Workspace, run_id: str, *, quiet_status: bool = False) -> Job:
    """Print a job's output live (status changes on stderr); returns the ended job.

    With ``quiet_status`` (``-o json``) the output goes to stderr: stdout holds only JSON.
    """
    import sys

    from rich.text import Text

    console = err_console()
    out = sys.stderr if quiet_status else sys.stdout
    final: Job | None = None
    for kind, value in ws.jobs.events(run_id):
        if kind == "log":
            out.write(value)
            out.flush()
        elif kind == "status" and not quiet_status:
            status = value.status.value
            console.print(
                Text.assemble(
                    ("● ", STATUS_STYLES.get(status, "")),
                    (f"{value.name}: ", "bold"),
                    (status, STATUS_STYLES.get(status, "")),
                )
            )
        elif kind == "end":
            final = value
    assert final is not None
    return final


def _finish(job: Job) -> None:
    """Show a failed/canceled job's reason (exit code and stderr tail first) and exit 1."""
    if job.status.value == "Completed":
        say(("Completed", "green"), f": {job.name}")
        return
    if job.error:
        from rich.panel import Panel
        from rich.text import Text

        print_renderable(
            Panel(
                Text(job.error),
                title=f"{job.name} {job.status.value}",
                border_style="red",
                expand=False,
            )
        )
    fail(f"Job {job.name} ended {job.status.value}.")


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Option(
            "--file", "-f", help="Job YAML (type: command, sweep or automl).", show_default=False
        ),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a key: --set inputs.epochs=20 (repeatable)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Job name (unique).")] = None,
    stream_: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the job's output until it ends.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Submit a job described by an Azure ML CLI v2 YAML file (command, sweep or automl)."""
    ws = workspace(ctx)
    overrides = list(set_ or [])
    if name:
        overrides.append(f"name={name}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = ws.jobs.create(file, overrides=overrides)
    _show_warnings(caught)
    if stream_:
        if output == Output.table:
            note(
                f"Job {job.name} queued on {job.compute}; streaming its output (Ctrl-C stops "
                "following, not the job)."
            )
        final = follow(ws, job.id, quiet_status=output == Output.json)
        if output == Output.json:
            emit(output, _job_dict(final), lambda: None)
            if final.status.value != "Completed":
                raise typer.Exit(1)
            return
        _finish(final)
        return

    def render() -> None:
        say(
            "Created job ",
            (job.name, "bold"),
            f" ({job.type}) on {job.compute}: ",
            (job.status.value, "dim"),
        )
        note(f"Follow it with: modelworks job stream {job.name}")

    emit(output, _job_dict(job), render)


@app.command("stream")
def stream(ctx: typer.Context, name_or_id: NameOrId, output: OutputOpt = Output.table) -> None:
    """Follow a job's output live until it ends (exit code 1 if it failed or was canceled)."""
    ws = workspace(ctx)
    run = resolve_run(ws, name_or_id)
    final = follow(ws, run.id, quiet_status=output == Output.json)
    if output == Output.json:
        emit(output, _job_dict(final), lambda: None)
        if final.status.value != "Completed":
            raise typer.Exit(1)
        return
    _finish(final)


@app.command("cancel")
def cancel(ctx: typer.Context, name_or_id: NameOrId, output: OutputOpt = Output.table) -> None:
    """Cancel a job (its process tree is killed; a sweep's trials are canceled too)."""
    ws = workspace(ctx)
    run = resolve_run(ws, name_or_id)
    job = ws.jobs.cancel(run.id)

    def render() -> None:
        say(f"Job {job.name}: ", (job.status.value, STATUS_STYLES.get(job.status.value, "")))

    emit(output, _job_dict(job), render)


@app.command("workers")
def workers(
    ctx: typer.Context,
    stop: Annotated[
        bool, typer.Option("--stop", help="Ask every worker to stop (running jobs finish first).")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """The job workers of the workspace that are alive; ``--stop`` stops them."""
    ws = workspace(ctx)
    alive = ws.jobs.live_workers()
    if stop:
        ws.jobs.stop_workers()
    data = [w.to_dict() for w in alive]

    def render() -> None:
        from modelworks.cli._common import add_row, fmt_time, new_table

        table = new_table("id", "host", "pid", "started", "heartbeat")
        for w in alive:
            add_row(table, (w.id, w.host, w.pid, fmt_time(w.started_at), fmt_time(w.heartbeat_at)))
        print_renderable(table)
        if stop:
            note(f"Asked {len(alive)} worker(s) to stop.")
        elif not alive:
            note("No worker is running; `modelworks job create` starts one, `modelworks up` too.")

    emit(output, data, render)
