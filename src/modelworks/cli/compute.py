"""``modelworks compute ...``: compute targets (``az ml compute``).

::

    modelworks compute create --name cluster --type ray --address 127.0.0.1:6379
    modelworks compute create --name local --type local --max-concurrency 4
    modelworks compute list
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    add_row,
    emit,
    kv_table,
    new_table,
    print_renderable,
    say,
    workspace,
)

app = typer.Typer(help="Compute targets: local workers, Ray clusters.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="Compute name.")]


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Compute name.", show_default=False)],
    type_: Annotated[str, typer.Option("--type", "-t", help="local or ray.")] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray: host:6379, ray://host:10001 or http://host:8265."),
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, help="Jobs running at once.")
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing one.")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Register a compute target."""
    record = workspace(ctx).compute.create(
        name,
        type=type_,
        address=address,
        max_concurrency=max_concurrency,
        description=description,
        replace=replace,
    )
    emit(
        output,
        record.to_dict(),
        lambda: say("Compute ", (record.name, "bold"), f" ({record.type})"),
    )


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Compute targets (``local`` is always there)."""
    records = workspace(ctx).compute.list()

    def render() -> None:
        table = new_table("name", "type", "address", "max concurrency")
        for r in records:
            add_row(table, (r.name, r.type, r.address or "", r.max_concurrency or ""))
        print_renderable(table)

    emit(output, [r.to_dict() for r in records], render)


@app.command("show")
def show(ctx: typer.Context, name: Name, output: OutputOpt = Output.table) -> None:
    """One compute target."""
    r = workspace(ctx).compute.get(name)
    emit(
        output,
        r.to_dict(),
        lambda: print_renderable(
            kv_table(
                [
                    ("name", r.name),
                    ("type", r.type),
                    ("address", r.address),
                    ("max concurrency", r.max_concurrency),
                    ("description", r.description),
                ],
                title=f"Compute {r.name}",
            )
        ),
    )


@app.command("delete")
def delete(ctx: typer.Context, name: Name, output: OutputOpt = Output.table) -> None:
    """Remove a compute target."""
    workspace(ctx).compute.delete(name)
    emit(output, {"deleted": name}, lambda: say(f"Deleted compute {name}"))
