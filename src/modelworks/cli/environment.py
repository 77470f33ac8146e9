"""``modelworks environment ...``: versioned job environments (``az ml environment``).

::

    modelworks environment create -f env.yml          # Azure environment YAML
    modelworks environment list
    modelworks environment show sklearn-env@latest
    modelworks environment build sklearn-env@latest   # build the cached virtualenv now
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

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
    status,
    workspace,
)

app = typer.Typer(
    help="Job environments: pip/conda specs built as cached virtualenvs.", no_args_is_help=True
)

Ref = Annotated[str, typer.Argument(metavar="REF", help="name, name@latest or name:version.")]


def _describe(spec: dict[str, Any]) -> str:
    if spec.get("kind") == "inherit":
        return "inherit" + (f" (image {spec['image']} recorded)" if spec.get("image") else "")
    reqs = spec.get("requirements") or []
    python = f"python {spec['python']}, " if spec.get("python") else ""
    return f"{python}{len(reqs)} requirement{'s' if len(reqs) != 1 else ''}"


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Environment YAML.", show_default=False)
    ],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Overrides name:.")] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Overrides version:.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Register an environment from an Azure ML environment YAML file."""
    ws = workspace(ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = ws.environments.create(file, name=name, version=version)
    for item in caught:
        note(f"Warning: {item.message}", style="yellow")
    emit(
        output,
        record.to_dict(),
        lambda: say(
            "Environment ",
            (f"{record.name}:{record.version}", "bold"),
            f" ({_describe(record.spec)})",
        ),
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Versions of this one.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Environments (the latest version of each), or the versions of one."""
    records = workspace(ctx).environments.list(name)

    def render() -> None:
        table = new_table("name", "version", "contents", "created")
        for r in records:
            add_row(
                table, (r.name, r.version, _describe(r.spec), fmt_time(r.created_at, short=True))
            )
        print_renderable(table)
        if not records:
            note("No environments yet: modelworks environment create -f env.yml")

    emit(output, [r.to_dict() for r in records], render)


@app.command("show")
def show(ctx: typer.Context, ref: Ref, output: OutputOpt = Output.table) -> None:
    """One environment version: its requirements, interpreter, image and Dockerfile."""
    ws = workspace(ctx)
    record = ws.environments.get(ref)
    dockerfile = ws.environments.dockerfile(record)
    data = {**record.to_dict(), "dockerfile": dockerfile}

    def render() -> None:
        spec = record.spec
        print_renderable(
            kv_table(
                [
                    ("name", record.name),
                    ("version", record.version),
                    ("kind", spec.get("kind")),
                    ("python", spec.get("python")),
                    ("image", spec.get("image")),
                    ("hash", spec.get("hash")),
                    ("description", record.description),
                    ("created", fmt_time(record.created_at)),
                ],
                title=f"Environment {record.name}:{record.version}",
            )
        )
        reqs = spec.get("requirements") or []
        if reqs:
            table = new_table("requirement", title="Requirements")
            for line in reqs:
                add_row(table, (line,))
            print_renderable(table)
        if dockerfile:
            note("Dockerfile:\n" + dockerfile, style="")

    emit(output, data, render)


@app.command("build")
def build(ctx: typer.Context, ref: Ref, output: OutputOpt = Output.table) -> None:
    """Build (or find in the cache) the environment's virtualenv now."""
    ws = workspace(ctx)
    with status(f"Building environment {ref} …"):
        info = ws.environments.build(ref)
    data = {"python": info.python, "path": info.path, "built": info.built, "log": info.log_path}
    emit(
        output,
        data,
        lambda: say(("Built" if info.built else "Cached", "green"), f": {info.python}"),
    )
