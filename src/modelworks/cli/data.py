"""``modelworks data ...``: versioned data assets (``az ml data``)."""

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
    fmt_number,
    fmt_time,
    kv_table,
    new_table,
    note,
    out_console,
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
    from modelworks.data.operations import DataAsset
    from modelworks.entities import DataVersion

app = typer.Typer(
    help="Versioned data assets: register, list, show, download.", no_args_is_help=True
)

TYPE_HELP = "uri_file, uri_folder or mltable (default: from the path)."


def _record_dict(record: DataVersion, *, profile: bool) -> dict[str, Any]:
    data = record.to_dict()
    data["id"] = f"azureml:{record.name}:{record.version}"
    if not profile:
        summary = record.profile or {}
        data.pop("profile", None)
        data["rows"] = summary.get("rows")
        data["columns"] = summary.get("columns")
    return data


def _spec_values(
    file: Path, overrides: dict[str, Any], tags: dict[str, str]
) -> tuple[str, str, str | None, str | None, str, dict[str, str]]:
    """Name, path, type, version, description and tags from a data YAML file plus overrides.

    Options given on the command line replace the file's values (``--tag`` adds to its
    tags) before validation, so errors still name the file and the key.
    """
    from modelworks.specs import load_yaml_file, validate_spec
    from modelworks.specs.assets import DataAssetSpec

    raw = load_yaml_file(file)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if tags:
        file_tags = raw.get("tags")
        raw["tags"] = {**file_tags, **tags} if isinstance(file_tags, dict) else tags
    spec = validate_spec(DataAssetSpec, raw, source=str(file))
    # Without a type in the file (or --type), detect it from the path as --path does.
    type_ = spec.type if "type" in spec.model_fields_set else None
    return spec.name, spec.path, type_, spec.version, spec.description, dict(spec.tags)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Asset name.")] = None,
    path: Annotated[
        str | None, typer.Option("--path", "-p", help="Local file or folder, or an fsspec URL.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Azure ML data YAML (name, version, type, path, ...)."),
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help=TYPE_HELP)] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Explicit version (default: next).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="KEY=VALUE", help="key=value; repeat for several."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Make a new version even if the content is identical.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Register a data asset version (from --path or a YAML file given with -f).

    Registering content identical to an existing version returns that version unless --force.
    """
    tags = parse_tags(tag)
    if file is not None:
        name, path, type_, version, description, tags = _spec_values(
            file,
            {
                "name": name,
                "path": cwd_path(path),
                "type": type_,
                "version": version,
                "description": description,
            },
            tags,
        )
    else:
        name, path = require_name_and_path(name, path)
    ws = workspace(ctx)
    before = {v.version for v in ws.data.list(name, include_archived=True)}
    with status(f"Registering data asset {name} from {path} …"):
        asset = ws.data.create(
            name,
            path,
            type=type_,
            version=version,
            description=description or "",
            tags=tags,
            force=force,
        )
    created = asset.version not in before
    if not created:
        note(
            f"{asset.id} already holds this content; no new version was made "
            "(use --force to make one).",
            style="yellow",
        )
    data = {**_record_dict(asset.record, profile=False), "created": created}
    emit(output, data, lambda: _print_created(asset, created))


def _print_created(asset: DataAsset, created: bool) -> None:
    files = asset.files()
    size = sum(f.size for f in files)
    shape = ""
    if asset.profile:
        shape = (
            f", {fmt_number(asset.profile.get('rows'))} rows, "
            f"{fmt_number(asset.profile.get('columns'))} columns"
        )
    verb = "Registered " if created else "Unchanged: "
    say(
        verb,
        (asset.id, "bold"),
        f" ({asset.type}, {len(files)} file{'s' if len(files) != 1 else ''}, "
        f"{fmt_bytes(size)}{shape})",
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="List the versions of this asset.")
    ] = None,
    include_archived: Annotated[bool, typer.Option("--include-archived")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """The latest version of every asset, or every version of --name."""
    ws = workspace(ctx)
    assets = ws.data.list(name, include_archived=include_archived)
    data = [_record_dict(a.record, profile=False) for a in assets]

    def render() -> None:
        table = rows_table(
            ("name", "version", "type", "rows", "cols", "created", "description", "tags"),
            (
                (
                    a.name,
                    f"{a.version} (archived)" if a.record.archived else a.version,
                    a.type,
                    fmt_number((a.profile or {}).get("rows")),
                    fmt_number((a.profile or {}).get("columns")),
                    fmt_time(a.record.created_at, short=True),
                    a.description,
                    a.tags,
                )
                for a in assets
            ),
            options={
                **{c: {"no_wrap": True} for c in ("name", "version", "type", "created")},
                "rows": {"no_wrap": True, "justify": "right"},
                "cols": {"no_wrap": True, "justify": "right"},
                "description": {"max_width": 40},
            },
            optional=("rows", "cols", "description", "tags"),
        )
        print_renderable(table)
        if not assets:
            note("No data assets. Register one with `modelworks data create --name N --path P`.")

    emit(output, data, render)


RefArg = Annotated[
    str | None,
    typer.Argument(help="bank@latest, bank:2, azureml:bank:2 or data:/bank/2.", show_default=False),
]
NameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Asset name (instead of REF).")]
VersionOpt = Annotated[
    str | None, typer.Option("--version", "-v", help="Version (default: latest).")
]


def _get(ctx: typer.Context, ref: str | None, name: str | None, version: str | None) -> DataAsset:
    return workspace(ctx).data.get(pick_ref(ref, name, "data asset"), version)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: RefArg = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """A data version's record and profile (schema, missing values, statistics, histograms)."""
    asset = _get(ctx, ref, name, version)
    files = asset.files()
    data = _record_dict(asset.record, profile=True)
    data["files"] = [{"path": f.path, "size": f.size} for f in files]

    def render() -> None:
        from modelworks.cli._profile import profile_renderables

        record = asset.record
        print_renderable(
            kv_table(
                [
                    ("id", asset.id),
                    ("type", record.type),
                    ("source", record.source),
                    ("created", fmt_time(record.created_at)),
                    ("description", record.description),
                    ("tags", record.tags),
                    ("archived", "yes" if record.archived else None),
                    (
                        "files",
                        f"{len(files)} ({fmt_bytes(sum(f.size for f in files))}): "
                        + ", ".join(f.path for f in files[:5])
                        + (" …" if len(files) > 5 else ""),
                    ),
                    ("content hash", short_hash(record.content_hash)),
                ],
                title=f"Data asset {record.name}:{record.version}",
            ),
            *profile_renderables(record.profile, out_console().width),
        )

    emit(output, data, render)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Asset name.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="One version (default: all).")
    ] = None,
) -> None:
    """Hide a version (or all versions) from listings and @latest; data stays readable."""
    workspace(ctx).data.archive(name, version)
    what = f"{name}:{version}" if version else f"every version of {name}"
    say(f"Archived {what}.")


@app.command("restore")
def restore(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Asset name.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="One version (default: all).")
    ] = None,
) -> None:
    """Undo ``data archive``."""
    workspace(ctx).data.restore(name, version)
    what = f"{name}:{version}" if version else f"every version of {name}"
    say(f"Restored {what}.")


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
    """Write a data version's files to DEST/<name>/ (a uri_file's file lands there too)."""
    asset = _get(ctx, ref, name, version)
    target = path / asset.name
    with status(f"Downloading {asset.id} …"):
        local = asset.download(target)
    emit(
        output,
        {"id": asset.id, "path": os.fspath(local.resolve())},
        lambda: say("Downloaded ", (asset.id, "bold"), f" to {local}"),
    )


@app.command("lineage")
def lineage(
    ctx: typer.Context,
    ref: RefArg = None,
    name: NameOpt = None,
    version: VersionOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Which runs read this data version and which model versions those runs produced."""
    ws = workspace(ctx)
    asset = _get(ctx, ref, name, version)
    found = ws.data.lineage(f"{asset.name}:{asset.version}")
    record = found["data"]
    runs = [ws.runs.get(run_id) for run_id in found["runs"]]
    data = {
        "data": {"name": record.name, "version": record.version},
        "runs": [
            {"id": r.id, "name": r.name, "status": r.status.value, "experiment_id": r.experiment_id}
            for r in runs
        ],
        "models": [
            {"name": m.name, "version": m.version, "run_id": m.run_id} for m in found["models"]
        ],
    }

    def render() -> None:
        say("Lineage of ", (f"{record.name}:{record.version}", "bold"))
        if not runs:
            note("No run has recorded this version as an input yet.")
            return
        runs_table = new_table("run id", "name", "status", "started", title="Read by runs")
        for r in runs:
            add_row(runs_table, (r.id, r.name, r.status.value, fmt_time(r.start_time)))
        print_renderable(runs_table)
        if not found["models"]:
            note("Those runs registered no model.")
            return
        models_table = new_table("model", "version", "run id", title="Models from those runs")
        for m in found["models"]:
            add_row(models_table, (m.name, m.version, m.run_id))
        print_renderable(models_table)

    emit(output, data, render)
