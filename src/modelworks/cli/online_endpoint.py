"""``modelworks online-endpoint ...``: endpoints with keys and traffic (``az ml online-endpoint``).

Endpoints run in a host process per workspace: ``create`` starts a detached one when none
runs (it stops by itself once the workspace has no endpoints); ``serve`` runs it in the
foreground instead; ``stop-host`` stops it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_time,
    kv_table,
    note,
    print_renderable,
    rows_table,
    say,
    state,
    status,
    workspace,
)

if TYPE_CHECKING:
    from modelworks.endpoints.entities import OnlineEndpoint

app = typer.Typer(
    help="Online endpoints: scoring URLs with keys, traffic split and mirror traffic.",
    no_args_is_help=True,
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Endpoint name.")]


def parse_weights(text: str | None, option: str) -> dict[str, int] | None:
    """``"blue=90 green=10"`` (spaces or commas) → ``{"blue": 90, "green": 10}``."""
    if text is None:
        return None
    weights: dict[str, int] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise typer.BadParameter(
                f'expected deployment=percent pairs such as "blue=90 green=10", got {item!r}.',
                param_hint=f"'{option}'",
            )
        weights[name] = int(value)
    return weights


def _show(endpoint: OnlineEndpoint) -> None:
    print_renderable(
        kv_table(
            [
                ("name", endpoint.name),
                ("scoring_uri", endpoint.scoring_uri),
                ("openapi_uri", endpoint.openapi_uri),
                ("auth_mode", endpoint.auth_mode),
                ("traffic", endpoint.traffic),
                ("mirror_traffic", endpoint.mirror_traffic),
                ("provisioning_state", endpoint.provisioning_state),
                ("error", endpoint.error),
                ("description", endpoint.description),
                ("tags", endpoint.tags),
                ("created", fmt_time(endpoint.created_at)),
            ],
            title=f"Online endpoint {endpoint.name}",
        )
    )


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Azure ML online endpoint YAML.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Endpoint name.")] = None,
    auth_mode: Annotated[
        str | None, typer.Option("--auth-mode", help="key (default) or aml_token.")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="TCP port (default: a free one).")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create an endpoint: a scoring URL on its own port, with a primary and a secondary key."""
    from modelworks.endpoints._detached import prestart
    from modelworks.specs.endpoints import load_endpoint_spec

    prestart(state(ctx).location)  # the host and its zygote start while the rest happens
    ws = workspace(ctx)
    if file is not None:
        spec: Any = load_endpoint_spec(str(file), name=name, auth_mode=auth_mode)
    elif name:
        spec = {"name": name, **({"auth_mode": auth_mode} if auth_mode else {})}
    else:
        raise typer.BadParameter("give -f endpoint.yml or --name.", param_hint="'--file'")
    spec_name = spec["name"] if isinstance(spec, dict) else spec.name
    try:
        ws.online_endpoints.get(spec_name)
    except Exception:  # noqa: BLE001 - NotFoundError is the expected case
        pass
    else:
        raise typer.BadParameter(
            f"endpoint {spec_name!r} exists; change it with 'online-endpoint update'.",
            param_hint="'--name'",
        )
    with status(f"Creating online endpoint {spec_name} …"):
        endpoint = ws.online_endpoints.begin_create_or_update(spec, port=port).result()

    def render() -> None:
        say("Created endpoint ", (endpoint.name, "bold"), f" at {endpoint.scoring_uri}")
        say(f"  swagger: {endpoint.openapi_uri}")
        say(f"  keys (shown once): modelworks online-endpoint get-credentials -n {endpoint.name}")

    emit(output, endpoint.to_dict(), render)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Endpoint name.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Endpoint YAML.")] = None,
    traffic: Annotated[
        str | None, typer.Option("--traffic", help='Traffic split, e.g. "blue=90 green=10".')
    ] = None,
    mirror_traffic: Annotated[
        str | None, typer.Option("--mirror-traffic", help='Mirror copies, e.g. "green=10".')
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change an endpoint's traffic split, mirror traffic, description or tags."""
    from modelworks.specs.endpoints import load_endpoint_spec

    ws = workspace(ctx)
    if file is not None:
        spec = load_endpoint_spec(str(file), name=name)
        endpoint = ws.online_endpoints.begin_create_or_update(spec).result()
        name = spec.name
    if name is None:
        raise typer.BadParameter("give --name (or -f).", param_hint="'--name'")
    weights = parse_weights(traffic, "--traffic")
    mirror = parse_weights(mirror_traffic, "--mirror-traffic")
    if weights is not None or mirror is not None:
        endpoint = ws.online_endpoints.update_traffic(name, weights, mirror_traffic=mirror)
    else:
        endpoint = ws.online_endpoints.get(name)
    emit(output, endpoint.to_dict(), lambda: _show(endpoint))


@app.command("show")
def show(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Show an endpoint: scoring URI, swagger URI, traffic, state."""
    endpoint = workspace(ctx).online_endpoints.get(name)
    emit(output, endpoint.to_dict(), lambda: _show(endpoint))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the workspace's endpoints."""
    endpoints = workspace(ctx).online_endpoints.list()
    emit(
        output,
        [e.to_dict() for e in endpoints],
        lambda: print_renderable(
            rows_table(
                ["name", "scoring_uri", "auth", "traffic", "state"],
                [
                    [e.name, e.scoring_uri, e.auth_mode, e.traffic, e.provisioning_state]
                    for e in endpoints
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
    """Delete an endpoint and all its deployments."""
    if not yes:
        typer.confirm(f"Delete endpoint {name} and all its deployments?", abort=True)
    with status(f"Deleting endpoint {name} …"):
        workspace(ctx).online_endpoints.delete(name)
    say("Deleted endpoint ", (name, "bold"))


@app.command("get-credentials")
def get_credentials(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.json) -> None:
    """Print the keys (once: they are stored hashed), or a new token for aml_token endpoints."""
    keys = workspace(ctx).online_endpoints.get_keys(name)
    emit(output, keys, lambda: print_renderable(kv_table(list(keys.items()))))
    note("Keys are shown only this once; store them now (regenerate-keys makes new ones).")


@app.command("regenerate-keys")
def regenerate_keys(
    ctx: typer.Context,
    name: NameOpt,
    key_type: Annotated[str, typer.Option("--key-type", help="primary or secondary.")] = "primary",
    output: OutputOpt = Output.json,
) -> None:
    """Replace a key; the old one stops working at once. Prints the new key (once)."""
    keys = workspace(ctx).online_endpoints.regenerate_keys(name, key_type=key_type)
    emit(output, keys, lambda: print_renderable(kv_table(list(keys.items()))))


@app.command("invoke")
def invoke(
    ctx: typer.Context,
    name: NameOpt,
    request_file: Annotated[
        Path, typer.Option("--request-file", "-r", help="JSON body to send.", exists=True)
    ],
    deployment_name: Annotated[
        str | None,
        typer.Option("--deployment-name", "-d", help="Send to this deployment (pinning)."),
    ] = None,
) -> None:
    """Score a request through the endpoint (authenticated with a short-lived token)."""
    answer = workspace(ctx).online_endpoints.invoke(
        name, request_file=request_file, deployment_name=deployment_name
    )
    typer.echo(answer)


@app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Host the workspace's endpoints in the foreground until Ctrl-C (instead of detached)."""
    from modelworks.endpoints.host import serve_forever

    location = state(ctx).location
    note(f"Hosting the online endpoints of {location}; Ctrl-C stops them.")
    serve_forever(location)


@app.command("stop-host")
def stop_host(ctx: typer.Context) -> None:
    """Stop the process hosting the workspace's endpoints (they come back on the next create)."""
    from modelworks.endpoints.host import stop_host as stop

    stopped = stop(workspace(ctx))
    say("Stopped the endpoint host." if stopped else "No endpoint host was running.")
