"""``modelworks experiment ...``: named groups of runs."""

from __future__ import annotations

from typing import Annotated

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_time,
    note,
    parse_tags,
    print_renderable,
    rows_table,
    say,
    workspace,
)

app = typer.Typer(help="Experiments: named groups of jobs (runs).", no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Experiment name.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    include_deleted: Annotated[bool, typer.Option("--include-deleted")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Every experiment (deleted ones too with --include-deleted)."""
    experiments = workspace(ctx).experiments.list(include_deleted=include_deleted)
    data = [e.to_dict() for e in experiments]

    def render() -> None:
        table = rows_table(
            ("name", "id", "created", "tags"),
            (
                (
                    f"{e.name} (deleted)" if e.deleted else e.name,
                    e.id,
                    fmt_time(e.created_at, short=True),
                    e.tags,
                )
                for e in experiments
            ),
            options={c: {"no_wrap": True} for c in ("id", "created")},
            optional=("tags",),
        )
        print_renderable(table)
        if not experiments:
            note("No experiments yet; runs create theirs, or use `modelworks experiment create`.")

    emit(output, data, render)


@app.command("create")
def create(
    ctx: typer.Context,
    name: NameOpt,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", metavar="KEY=VALUE", help="key=value; repeatable.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create an experiment."""
    created = workspace(ctx).experiments.create(name, tags=parse_tags(tag))
    emit(
        output, created.to_dict(), lambda: say(f"Created experiment {created.name} ({created.id}).")
    )


@app.command("delete")
def delete(ctx: typer.Context, name: NameOpt) -> None:
    """Delete an experiment (soft: `experiment restore` brings it back)."""
    workspace(ctx).experiments.delete(name)
    say(f"Deleted experiment {name}.")


@app.command("restore")
def restore(ctx: typer.Context, name: NameOpt) -> None:
    """Restore a deleted experiment."""
    workspace(ctx).experiments.restore(name)
    say(f"Restored experiment {name}.")
