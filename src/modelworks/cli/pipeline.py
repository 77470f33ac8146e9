"""``modelworks pipeline ...``: publish a job (usually a pipeline) as a versioned REST endpoint
with keys, and start, list and manage its runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_time,
    kv_table,
    print_renderable,
    rows_table,
    say,
    workspace,
)

if TYPE_CHECKING:
    from modelworks.pipeline_endpoints.entities import PipelineEndpoint

app = typer.Typer(
    help="Published pipelines: REST endpoints with keys that start a job.", no_args_is_help=True
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Pipeline endpoint name.")]


def _url(ctx: typer.Context, endpoint_url: str | None) -> str:
    url = endpoint_url or ""
    if url.startswith("/"):
        return "{server}" + url
    return url


def _show(ctx: typer.Context, endpoint: PipelineEndpoint) -> None:
    print_renderable(
        kv_table(
            [
                ("name", endpoint.name),
                ("url", f"POST {_url(ctx, endpoint.url)}"),
                ("default version", endpoint.default_version),
                ("enabled", endpoint.enabled),
                ("description", endpoint.description),
                ("tags", endpoint.tags),
                ("created", fmt_time(endpoint.created_at)),
            ],
            title=f"Pipeline endpoint {endpoint.name}",
        ),
        rows_table(
            ["version", "job type", "inputs", "published"],
            [[v.version, v.job_type, v.inputs, fmt_time(v.created_at)] for v in endpoint.versions],
            title="Versions",
        ),
    )


def _parse_inputs(values: list[str] | None) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected name=value, got {item!r}.", param_hint="'--input'")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Job YAML (type: pipeline, ...).")],
    name: NameOpt,
    version: Annotated[
        str | None, typer.Option("--version", help="Version label (default: next number).")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Description.")] = "",
    output: OutputOpt = Output.table,
) -> None:
    """Publish a job as a new version of an endpoint (the default one); prints the URL and, on
    the first publish, the keys (shown once)."""
    ws = workspace(ctx)
    endpoint = ws.pipeline_endpoints.publish(
        file, name=name, version=version, description=description
    )
    keys: dict[str, Any] = {}
    if len(endpoint.versions) == 1:
        keys = ws.pipeline_endpoints.get_credentials(name)
    data = {**endpoint.to_dict(), **({"keys": keys} if keys else {})}

    def render() -> None:
        say(
            "Published ",
            (f"{name}:{endpoint.default_version}", "bold"),
            f" ({endpoint.versions[-1].job_type} job, inputs: "
            f"{', '.join(endpoint.versions[-1].inputs) or 'none'})",
        )
        say(f"  POST {_url(ctx, endpoint.url)}")
        if keys:
            say("  primary key (shown once):   ", (str(keys.get("primaryKey")), "bold"))
            say("  secondary key (shown once): ", (str(keys.get("secondaryKey")), "bold"))
        if str(endpoint.url or "").startswith("/"):
            say("  {server} is the URL of `modelworks up` / `modelworks server` on this workspace")

    emit(output, data, render)


@app.command("show")
def show(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Show an endpoint, its URL and its versions."""
    endpoint = workspace(ctx).pipeline_endpoints.get(name)
    emit(output, endpoint.to_dict(), lambda: _show(ctx, endpoint))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the pipeline endpoints."""
    endpoints = workspace(ctx).pipeline_endpoints.list()
    emit(
        output,
        [e.to_dict() for e in endpoints],
        lambda: print_renderable(
            rows_table(
                ["name", "default version", "versions", "enabled", "url"],
                [
                    [e.name, e.default_version, len(e.versions), e.enabled, _url(ctx, e.url)]
                    for e in endpoints
                ],
            )
        ),
    )


@app.command("get-credentials")
def get_credentials(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.json) -> None:
    """Print the keys (once: they are stored hashed)."""
    keys = workspace(ctx).pipeline_endpoints.get_credentials(name)
    emit(output, keys, lambda: print_renderable(kv_table(list(keys.items()))))


@app.command("regenerate-keys")
def regenerate_keys(
    ctx: typer.Context,
    name: NameOpt,
    key_type: Annotated[str, typer.Option("--key-type", help="primary or secondary.")] = "primary",
    output: OutputOpt = Output.json,
) -> None:
    """Replace a key; the old one stops working at once. Prints the new key (once)."""
    keys = workspace(ctx).pipeline_endpoints.regenerate_keys(name, key_type=key_type)
    emit(output, keys, lambda: print_renderable(kv_table(list(keys.items()))))


@app.command("invoke")
def invoke(
    ctx: typer.Context,
    name: NameOpt,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="An input override, name=value.")
    ] = None,
    request_file: Annotated[
        Path | None,
        typer.Option("--request-file", "-r", help='JSON body: {"inputs": {...}, ...}.'),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Version to run.")] = None,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", help="Experiment of the run.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Start a run with input overrides; prints the job's name."""
    body: dict[str, Any] = {}
    if request_file is not None:
        body = json.loads(request_file.read_text())
    values = {**(body.get("inputs") or {}), **_parse_inputs(inputs)}
    result = workspace(ctx).pipeline_endpoints.invoke(
        name,
        inputs=values,
        version=version,
        experiment_name=experiment_name or body.get("experiment_name"),
        display_name=body.get("display_name"),
    )
    emit(
        output,
        result,
        lambda: say(
            "Started ",
            (str(result["name"]), "bold"),
            f" ({result['status']}); follow it with: modelworks job stream {result['name']}",
        ),
    )


@app.command("list-runs")
def list_runs(
    ctx: typer.Context,
    name: NameOpt,
    max_results: Annotated[int, typer.Option("--max-results", min=1, help="How many.")] = 50,
    output: OutputOpt = Output.table,
) -> None:
    """The runs an endpoint started, newest first."""
    runs = workspace(ctx).pipeline_endpoints.list_runs(name, max_results=max_results)
    emit(
        output,
        [r.to_dict() for r in runs],
        lambda: print_renderable(
            rows_table(
                ["job", "version", "status", "started by", "created"],
                [
                    [r.job_name, r.version, r.status, r.invoked_by, fmt_time(r.created_at)]
                    for r in runs
                ],
            )
        ),
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an endpoint, its versions and keys (the jobs it started stay)."""
    if not yes:
        typer.confirm(f"Delete pipeline endpoint {name}?", abort=True)
    workspace(ctx).pipeline_endpoints.delete(name)
    say("Deleted pipeline endpoint ", (name, "bold"))


@app.command("disable")
def disable(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Refuse new runs (409) until enabled."""
    endpoint = workspace(ctx).pipeline_endpoints.disable(name)
    emit(output, endpoint.to_dict(), lambda: say("Disabled pipeline endpoint ", (name, "bold")))


@app.command("enable")
def enable(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Accept runs again."""
    endpoint = workspace(ctx).pipeline_endpoints.enable(name)
    emit(output, endpoint.to_dict(), lambda: say("Enabled pipeline endpoint ", (name, "bold")))
