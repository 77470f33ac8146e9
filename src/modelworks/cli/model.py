"""``modelworks model ...``: the model registry (``az ml model`` / MLflow's registry)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    add_row,
    cwd_path,
    emit,
    fmt_bytes,
    fmt_time,
    kv_table,
    new_table,
    note,
    parse_tags,
    pick_ref,
    print_renderable,
    require_name_and_path,
    rows_table,
    say,
    short_hash,
    status,
    workspace,
)

if TYPE_CHECKING:
    from rich.table import Table

    from modelworks.entities import ModelVersion, RegisteredModel

app = typer.Typer(
    help="Registered models: create, list, show, alias, download.", no_args_is_help=True
)

RefArg = Annotated[
    str | None,
    typer.Argument(
        help="bank-clf:3, bank-clf@production, models:/bank-clf/3, azureml:bank-clf:3.",
        show_default=False,
    ),
]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Model name (instead of REF).")]
VersionOpt = Annotated[
    str | None, typer.Option("--version", "-v", help="Version (default: latest).")
]


def _version_dict(record: ModelVersion) -> dict[str, Any]:
    return {**record.to_dict(), "uri": f"models:/{record.name}/{record.version}"}


def _spec_values(file: Path, overrides: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """register() keyword arguments from a model YAML file, command-line options winning."""
    from modelworks.specs import load_yaml_file, validate_spec
    from modelworks.specs.assets import ModelSpec

    raw = load_yaml_file(file)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if tags:
        file_tags = raw.get("tags")
        raw["tags"] = {**file_tags, **tags} if isinstance(file_tags, dict) else tags
    spec = validate_spec(ModelSpec, raw, source=str(file))
    return {
        "source": spec.path,
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "tags": dict(spec.tags),
        # Without an explicit type, an MLflow-format folder registers as mlflow_model.
        "type": spec.type if "type" in spec.model_fields_set else None,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Model name.")] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path", "-p", help="runs:/<run_id>/<path>, models:/..., or a local folder/file."
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Azure ML model YAML (name, path, ...).")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Explicit version (default: next).")
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option(
            "--type", "-t", help="custom_model, mlflow_model or triton_model (default: detected)."
        ),
    ] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", metavar="KEY=VALUE", help="key=value; repeatable.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Register a model version from a run's artifacts, another model, or local files."""
    tags = parse_tags(tag)
    if file is not None:
        kwargs = _spec_values(
            file,
            {
                "name": name,
                "path": cwd_path(path),
                "version": version,
                "type": type_,
                "description": description,
            },
            tags,
        )
    else:
        require_name_and_path(name, path)
        kwargs = {
            "source": path,
            "name": name,
            "version": version,
            "description": description or "",
            "tags": tags,
            "type": type_,
        }
    ws = workspace(ctx)
    with status(f"Registering model {kwargs['name']} from {kwargs['source']} …"):
        record = ws.models.register(kwargs.pop("source"), **kwargs)
    emit(
        output,
        _version_dict(record),
        lambda: say(
            "Registered ",
            (f"{record.name}:{record.version}", "bold"),
            f" ({record.type}{', ' + ', '.join(record.flavors) if record.flavors else ''})",
        ),
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="List the versions of this model.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Registered models, or every version of --name (newest first)."""
    ws = workspace(ctx)
    found = ws.models.list(name)
    if name is not None:
        versions: list[ModelVersion] = found
        emit(output, [_version_dict(v) for v in versions], lambda: _print_versions(versions))
    else:
        models: list[RegisteredModel] = found
        emit(output, [m.to_dict() for m in models], lambda: _print_models(models))


def _print_models(models: list[RegisteredModel]) -> None:
    table = rows_table(
        ("name", "latest", "aliases", "updated", "description", "tags"),
        (
            (
                m.name,
                m.latest_version,
                ", ".join(f"@{a}→{v}" for a, v in sorted(m.aliases.items())),
                fmt_time(m.updated_at, short=True),
                m.description,
                m.tags,
            )
            for m in models
        ),
        options={c: {"no_wrap": True} for c in ("latest", "updated")},
        optional=("aliases", "description", "tags"),
    )
    print_renderable(table)
    if not models:
        note("No models. Register one with `modelworks model create --name N --path P`.")


def _print_versions(versions: list[ModelVersion]) -> None:
    table = rows_table(
        ("name", "version", "type", "flavors", "aliases", "run", "created", "tags"),
        (
            (
                v.name,
                f"{v.version} (archived)" if v.archived else v.version,
                v.type,
                v.flavors,
                ", ".join(f"@{a}" for a in v.aliases),
                (v.run_id or "")[:8],
                fmt_time(v.created_at, short=True),
                v.tags,
            )
            for v in versions
        ),
        options={c: {"no_wrap": True} for c in ("version", "type", "run", "created")},
        optional=("flavors", "aliases", "run", "tags"),
    )
    print_renderable(table)


def _get(
    ctx: typer.Context, ref: str | None, name: str | None, version: str | None
) -> ModelVersion:
    return workspace(ctx).models.get(pick_ref(ref, name, "model"), version)


def _signature_table(title: str, specs: list[dict[str, Any]] | None) -> Table | None:
    """Columns (name, type, required) of one side of a signature; tensors add dtype/shape."""
    if not specs:
        return None
    tensors = any(spec.get("type") == "tensor" for spec in specs)
    table = new_table("name", "type", "required", *(("shape",) if tensors else ()), title=title)
    for spec in specs:
        tensor = spec.get("tensor-spec") or {}
        kind = spec.get("type")
        if kind == "tensor":
            kind = f"tensor {tensor.get('dtype', '')}".strip()
        row = [spec.get("name", ""), kind, "yes" if spec.get("required", True) else "no"]
        if tensors:
            row.append(tensor.get("shape", ""))
        add_row(table, row)
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    ref: RefArg = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """A model version: flavors, signature (inputs/outputs), aliases, run, tags."""
    record = _get(ctx, ref, name, version)

    def render() -> None:
        print_renderable(
            kv_table(
                [
                    ("uri", f"models:/{record.name}/{record.version}"),
                    ("type", record.type),
                    ("flavors", record.flavors),
                    ("aliases", ", ".join(f"@{a}" for a in record.aliases)),
                    ("run", record.run_id),
                    ("source", record.source),
                    ("created", fmt_time(record.created_at)),
                    ("description", record.description),
                    ("tags", record.tags),
                    ("archived", "yes" if record.archived else None),
                    ("content hash", short_hash(record.content_hash)),
                ],
                title=f"Model {record.name}:{record.version}",
            )
        )
        signature = record.signature or {}
        tables = [
            _signature_table("Signature inputs", signature.get("inputs")),
            _signature_table("Signature outputs", signature.get("outputs")),
        ]
        print_renderable(*(t for t in tables if t is not None))
        if not signature:
            note("No signature recorded (save the model with an input_example or a signature).")

    emit(output, _version_dict(record), render)


@app.command("download")
def download(
    ctx: typer.Context,
    ref: RefArg = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    path: Annotated[
        Path, typer.Option("--path", "-p", help="Folder to download into (as DEST/<name>/).")
    ] = Path("."),
    output: OutputOpt = Output.table,
) -> None:
    """Write a model version's files to DEST/<name>/."""
    ws = workspace(ctx)
    record = _get(ctx, ref, name, version)
    with status(f"Downloading model {record.name}:{record.version} …"):
        local = ws.models.download(f"{record.name}:{record.version}", path)
    files = [p for p in local.rglob("*") if p.is_file()] if local.is_dir() else [local]
    size = sum(p.stat().st_size for p in files)
    emit(
        output,
        {
            "name": record.name,
            "version": record.version,
            "path": os.fspath(local.resolve()),
            "files": len(files),
            "bytes": size,
        },
        lambda: say(
            "Downloaded ",
            (f"{record.name}:{record.version}", "bold"),
            f" ({len(files)} files, {fmt_bytes(size)}) to {local}",
        ),
    )


@app.command("set-alias")
def set_alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="Alias, e.g. production.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version the alias points to.")],
) -> None:
    """Point an alias (e.g. @production) at a version; it moves if it pointed elsewhere."""
    workspace(ctx).models.set_alias(name, alias, version=version)
    say(f"{name}@{alias} → version {version}.")


@app.command("delete-alias")
def delete_alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="Alias to remove.")],
) -> None:
    """Remove an alias."""
    workspace(ctx).models.delete_alias(name, alias)
    say(f"Deleted alias {name}@{alias}.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Model name.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="One version (default: the whole model).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete one version, or the whole model with all its versions and aliases."""
    ws = workspace(ctx)
    what = f"version {version} of model {name}" if version else f"model {name} and all its versions"
    if version is None:
        ws.models.get_model(name)  # fail on a wrong name before asking
    else:
        ws.models.get(name, version)
    if not yes:
        typer.confirm(f"Delete {what}?", abort=True, err=True)
    ws.models.delete(name, version)
    say(f"Deleted {what}.")


@app.command("lineage")
def lineage(
    ctx: typer.Context,
    ref: RefArg = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The run that produced this model version and the data versions that run read."""
    ws = workspace(ctx)
    record = _get(ctx, ref, name, version)
    found = ws.models.lineage(f"{record.name}:{record.version}")
    run = found["run"]
    data = {
        "model": {"name": record.name, "version": record.version},
        "run": None
        if run is None
        else {"id": run.id, "name": run.name, "status": run.status.value},
        "data": [{"name": e.name, "version": e.version} for e in found["data"]],
    }

    def render() -> None:
        say("Lineage of ", (f"{record.name}:{record.version}", "bold"))
        if run is None:
            note("Registered from files, not from a run: no run or data lineage.")
            return
        print_renderable(
            kv_table(
                [("run", f"{run.name} ({run.id})"), ("status", run.status.value)],
                title="Produced by",
            )
        )
        if not found["data"]:
            note("The run recorded no data asset inputs.")
            return
        table = new_table("data asset", "version", title="Data the run read")
        for edge in found["data"]:
            add_row(table, (edge.name, edge.version))
        print_renderable(table)

    emit(output, data, render)
