"""``modelworks component ...``: versioned command components (``az ml component``).

::

    modelworks component create -f train.yml       # Azure command component YAML
    modelworks component list
    modelworks component show train@latest
    modelworks component archive train --version 1
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    add_row,
    emit,
    fmt_time,
    kv_table,
    new_table,
    note,
    print_renderable,
    say,
    workspace,
)

app = typer.Typer(
    help="Command components: versioned, reusable pipeline steps.", no_args_is_help=True
)

Ref = Annotated[
    str, typer.Argument(metavar="REF", help="name, name@latest, name:version or azureml:...")
]


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Component YAML.", show_default=False)],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Overrides version:.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Register a component version (its code folder is snapshotted now)."""
    ws = workspace(ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        component = ws.components.create(file, version=version)
    for item in caught:
        note(f"Warning: {item.message}", style="yellow")
    record = ws.components.get_record(component.name, component.version)
    emit(
        output,
        record.to_dict(),
        lambda: say("Component ", (f"{record.name}:{record.version}", "bold"), " registered"),
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Versions of this one.")] = None,
    archived: Annotated[bool, typer.Option("--include-archived", help="Archived too.")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Component versions, newest first per name."""
    records = workspace(ctx).components.list(name, include_archived=archived)

    def render() -> None:
        table = new_table("name", "version", "inputs", "outputs", "created")
        for r in records:
            add_row(
                table,
                (
                    r.name + (" (archived)" if r.archived else ""),
                    r.version,
                    ", ".join(r.spec.get("inputs") or {}),
                    ", ".join(r.spec.get("outputs") or {}),
                    fmt_time(r.created_at, short=True),
                ),
            )
        print_renderable(table)
        if not records:
            note("No components yet: modelworks component create -f train.yml")

    emit(output, [r.to_dict() for r in records], render)


@app.command("show")
def show(ctx: typer.Context, ref: Ref, output: OutputOpt = Output.table) -> None:
    """One component version: its command, inputs and outputs."""
    record = workspace(ctx).components.get_record(ref)
    spec = record.spec

    def render() -> None:
        print_renderable(
            kv_table(
                [
                    ("name", record.name),
                    ("version", record.version),
                    ("command", spec.get("command")),
                    ("environment", str(spec.get("environment") or "inherit")),
                    ("deterministic", str(spec.get("is_deterministic", True)).lower()),
                    ("code hash", record.code_hash),
                    ("description", record.description),
                    ("created", fmt_time(record.created_at)),
                ],
                title=f"Component {record.name}:{record.version}",
            )
        )
        table = new_table("name", "kind", "type", "default / optional", title="Inputs and outputs")
        for key, value in (spec.get("inputs") or {}).items():
            extra = "optional" if value.get("optional") else str(value.get("default", ""))
            add_row(table, (key, "input", value.get("type", ""), extra))
        for key, value in (spec.get("outputs") or {}).items():
            add_row(table, (key, "output", value.get("type", ""), ""))
        print_renderable(table)

    emit(output, record.to_dict(), render)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Component name.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Only this version.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Hide a version (or every version) from @latest and lists; pipelines naming it by
    version keep working."""
    count = workspace(ctx).components.archive(name, version)
    emit(
        output, {"archived": count}, lambda: say(f"Archived {count} version(s) of ", (name, "bold"))
    )
