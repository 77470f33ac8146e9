"""``modelworks online-deployment ...``: models and score.py behind endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    state,
    status,
    workspace,
)

if TYPE_CHECKING:
    from modelworks.endpoints.entities import OnlineDeployment

app = typer.Typer(
    help="Online deployments: a model or score.py in worker processes behind an endpoint.",
    no_args_is_help=True,
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Deployment name.")]
EndpointOpt = Annotated[str, typer.Option("--endpoint-name", "-e", help="Endpoint name.")]


def _show(d: OnlineDeployment) -> None:
    runtime = d.runtime or {}
    print_renderable(
        kv_table(
            [
                ("name", d.name),
                ("endpoint", d.endpoint_name),
                ("model", d.model),
                ("scoring_script", (d.spec.get("code_configuration") or {}).get("scoring_script")),
                ("environment", d.spec.get("environment")),
                ("instance_count", d.instance_count),
                ("generation", d.generation),
                ("provisioning_state", d.provisioning_state),
                ("phase", runtime.get("phase")),  # e.g. building environment <label>
                ("error", d.error),
                ("pids", [i.get("pid") for i in runtime.get("instances", [])]),
                ("restarts", runtime.get("restarts")),
                ("log", runtime.get("log")),
                ("updated", fmt_time(d.updated_at)),
            ],
            title=f"Online deployment {d.endpoint_name}/{d.name}",
        )
    )


def _create(
    ctx: typer.Context,
    file: Path,
    name: str | None,
    endpoint_name: str | None,
    all_traffic: bool,
    output: Output,
) -> None:
    from modelworks.endpoints._detached import prestart

    prestart(state(ctx).location)  # the host and its zygote start while the rest happens
    ws = workspace(ctx)
    with status(f"Deploying {file} (starting workers, waiting for readiness) …"):
        deployment = ws.online_deployments.begin_create_or_update(
            str(file), all_traffic=all_traffic, name=name, endpoint_name=endpoint_name
        ).result()
    endpoint = ws.online_endpoints.get(deployment.endpoint_name)

    def render() -> None:
        say(
            "Deployment ",
            (deployment.name, "bold"),
            f" of {deployment.endpoint_name} is ready (generation {deployment.generation}, "
            f"{deployment.instance_count} instance(s)); traffic: {endpoint.traffic or 'none'}",
        )
        say(f"  scoring_uri: {endpoint.scoring_uri}")

    emit(output, deployment.to_dict(), render)


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Azure ML online deployment YAML.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Override the name.")] = None,
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-e", help="Override the endpoint.")
    ] = None,
    all_traffic: Annotated[
        bool, typer.Option("--all-traffic", help="Give it 100% of the traffic once ready.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Create a deployment; returns once its workers pass the readiness probe."""
    _create(ctx, file, name, endpoint_name, all_traffic, output)


@app.command("update")
def update(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Azure ML online deployment YAML.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Override the name.")] = None,
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-e", help="Override the endpoint.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Roll out a new version: new workers warm up, then take over; the old ones drain."""
    _create(ctx, file, name, endpoint_name, False, output)


@app.command("show")
def show(
    ctx: typer.Context, name: NameOpt, endpoint_name: EndpointOpt, output: OutputOpt = Output.table
) -> None:
    """Show a deployment: model, state, worker pids, restarts, log file."""
    deployment = workspace(ctx).online_deployments.get(name, endpoint_name)
    emit(output, deployment.to_dict(), lambda: _show(deployment))


@app.command("list")
def list_(
    ctx: typer.Context,
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-e", help="Only this endpoint's.")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List deployments."""
    found = workspace(ctx).online_deployments.list(endpoint_name)
    emit(
        output,
        [d.to_dict() for d in found],
        lambda: print_renderable(
            rows_table(
                ["endpoint", "name", "model", "instances", "generation", "state"],
                [
                    [
                        d.endpoint_name,
                        d.name,
                        d.model,
                        d.instance_count,
                        d.generation,
                        d.provisioning_state,
                    ]
                    for d in found
                ],
            )
        ),
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameOpt,
    endpoint_name: EndpointOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a deployment that takes no traffic (its workers drain, then stop)."""
    if not yes:
        typer.confirm(f"Delete deployment {endpoint_name}/{name}?", abort=True)
    workspace(ctx).online_deployments.delete(name, endpoint_name)
    say("Deleted deployment ", (f"{endpoint_name}/{name}", "bold"))


@app.command("get-logs")
def get_logs(
    ctx: typer.Context,
    name: NameOpt,
    endpoint_name: EndpointOpt,
    lines: Annotated[int, typer.Option("--lines", "-l", min=1, help="How many lines.")] = 50,
) -> None:
    """Print the end of the deployment's workers' log (init(), run() tracebacks, prints)."""
    typer.echo(workspace(ctx).online_deployments.get_logs(name, endpoint_name, lines=lines))


@app.command("package")
def package(
    ctx: typer.Context,
    name: NameOpt,
    endpoint_name: EndpointOpt,
    output_dir: Annotated[Path, typer.Option("--output", "-o", help="Folder to write (new).")],
) -> None:
    """Write a container build context (Dockerfile, requirements, model, code, entrypoint)."""
    folder = workspace(ctx).online_deployments.package(name, endpoint_name, output_dir)
    say("Wrote the build context to ", (str(folder), "bold"))
    say(f"  docker build -t {endpoint_name}-{name} {folder}   # or run {folder}/entrypoint.sh")
