"""The ``modelworks`` command line: ``modelworks <noun> <verb>``, as ``az ml`` does.

::

    modelworks init ./ws
    modelworks -w ./ws data create --name bank --path bank.csv --type mltable
    modelworks -w ./ws data show bank@latest
    modelworks -w ./ws job list --experiment bank -o json
    modelworks -w ./ws model create --name bank-clf --path runs:/<run_id>/model

Each noun is a Typer sub-app in its own module; :mod:`modelworks.cli._common` holds the shared
options, output and the one error handler. Command modules import the SDK inside their
functions, so ``modelworks --help`` loads neither pandas nor scikit-learn.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelworks.cli import data, experiment, job, model, quickstart, server, token
from modelworks.cli import workspace as workspace_cmds
from modelworks.cli._common import (
    DEFAULT_WORKSPACE,
    RootGroup,
    State,
    use_workspace_options,
    with_workspace_options,
)
from modelworks.config import ENV_TOKEN, ENV_WORKSPACE

__all__ = ["app", "main"]

app = typer.Typer(
    name="modelworks",
    cls=RootGroup,
    help="modelworks: a self-hosted machine-learning platform (data, runs, models).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace",
            "-w",
            envvar=ENV_WORKSPACE,
            metavar="PATH|URL",
            help="Workspace folder, or the URL of a `modelworks server`.",
        ),
    ] = DEFAULT_WORKSPACE,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=ENV_TOKEN,
            metavar="TOKEN",
            show_default=False,
            help="API token when the workspace is a server URL.",
        ),
    ] = None,
) -> None:
    """modelworks: a self-hosted machine-learning platform (data, runs, models)."""
    ctx.obj = State(location=workspace, token=token)


app.command("init")(workspace_cmds.init)
app.command("gc")(with_workspace_options(workspace_cmds.gc))
app.command("server")(with_workspace_options(server.server))
app.command("version")(workspace_cmds.version)
app.command("quickstart")(quickstart.quickstart)

# Jobs (issue 4): job_create registers create/stream/cancel on the job app; environments,
# computes and `modelworks up` (server + job workers).
from modelworks.cli import compute, environment, job_create, up  # noqa: E402, F401

app.command("up")(with_workspace_options(up.up))
app.add_typer(use_workspace_options(environment.app), name="environment")
app.add_typer(use_workspace_options(compute.app), name="compute")

for _name, _sub in (
    ("data", data.app),
    ("model", model.app),
    ("job", job.app),
    ("experiment", experiment.app),
    ("token", token.app),
    ("db", workspace_cmds.db_app),
):
    app.add_typer(use_workspace_options(_sub), name=_name)

# AutoML (issue 5).
from modelworks.cli import automl as automl_cmds  # noqa: E402

app.add_typer(use_workspace_options(automl_cmds.app), name="automl")

# Online endpoints and the local scoring server (issue 6).
from modelworks.cli import online_deployment, online_endpoint  # noqa: E402
from modelworks.cli import serve as serve_cmds  # noqa: E402

app.command("serve")(with_workspace_options(serve_cmds.serve))
app.add_typer(use_workspace_options(online_endpoint.app), name="online-endpoint")
app.add_typer(use_workspace_options(online_deployment.app), name="online-deployment")

# Pipelines (issue 7): components; pipeline jobs go through `job create`.
from modelworks.cli import component as component_cmds  # noqa: E402

app.add_typer(use_workspace_options(component_cmds.app), name="component")

# Schedules and published pipelines (issue 7).
from modelworks.cli import pipeline as pipeline_cmds  # noqa: E402
from modelworks.cli import schedule as schedule_cmds  # noqa: E402

app.add_typer(use_workspace_options(schedule_cmds.app), name="schedule")
app.add_typer(use_workspace_options(pipeline_cmds.app), name="pipeline")


def main() -> None:
    """Console-script entry point (``modelworks = "modelworks.cli:main"``)."""
    app(prog_name="modelworks")
