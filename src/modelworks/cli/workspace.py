"""Workspace-level commands: ``init``, ``db upgrade``, ``gc`` and ``version``."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_bytes,
    kv_table,
    print_renderable,
    say,
    state,
    workspace,
)
from modelworks.errors import InvalidInputError, StoreUnavailableError

db_app = typer.Typer(help="The workspace's metadata database.", no_args_is_help=True)


def _hide_password(uri: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return uri
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}://{user}{':***' if has_password else ''}@{host}"


def _check_local(location: str, action: str) -> None:
    from modelworks.config import is_url

    if is_url(location):
        raise InvalidInputError(
            f"`modelworks {action}` works on a local workspace folder; {location!r} is a server "
            "URL. Run it on the server's machine against its workspace folder."
        )


def _local_config(location: str, action: str) -> Any:
    from modelworks.config import load_config

    _check_local(location, action)
    return load_config(location, create=False)


def init(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(
            help="Workspace folder (default: the global --workspace).", show_default=False
        ),
    ] = None,
    metadata_uri: Annotated[
        str | None,
        typer.Option(
            "--metadata-uri", help="Database URL, e.g. postgresql+psycopg://user@host/db."
        ),
    ] = None,
    artifact_uri: Annotated[
        str | None,
        typer.Option("--artifact-uri", help="Blob store: a folder or s3://bucket/prefix."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create a workspace (a metadata database and a blob store) and print where they are."""
    from modelworks.config import load_config
    from modelworks.workspace import Workspace

    location = path if path is not None else state(ctx).location
    _check_local(location, "init")
    config = load_config(location, metadata_uri=metadata_uri, artifact_uri=artifact_uri)
    Workspace(str(config.root)).close()  # creates the database schema and the blob folder
    root = config.root
    data = {
        "workspace": str(root),
        "metadata_uri": _hide_password(config.metadata_uri),
        "artifact_uri": config.artifact_uri,
        "config": str(Path(root, "workspace.yaml")),
    }

    def render() -> None:
        say("Workspace ready at ", (str(root), "bold"))
        print_renderable(
            kv_table(
                [
                    ("database", data["metadata_uri"]),
                    ("blobs", data["artifact_uri"]),
                    ("config", data["config"]),
                ]
            )
        )
        if location != ".modelworks":
            say(f"Use it with `modelworks -w {location} ...` or MODELWORKS_WORKSPACE={location}.")

    emit(output, data, render)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Migrate the metadata database to the latest schema revision."""
    from modelworks.store.sql.engine import (
        current_revisions,
        head_revisions,
        make_engines,
        upgrade_schema,
    )

    config = _local_config(state(ctx).location, "db upgrade")
    read_engine, write_engine = make_engines(config.metadata_uri)
    try:
        try:
            before = _revision_text(current_revisions(write_engine))
        except Exception as e:  # the driver's own error types stay inside store/sql
            raise StoreUnavailableError(
                f"Cannot open the metadata database {_hide_password(config.metadata_uri)}: {e}. "
                "Check the URL and that the database server is running."
            ) from e
        upgrade_schema(write_engine)
        after = _revision_text(current_revisions(write_engine))
    finally:
        read_engine.dispose()
        write_engine.dispose()
    data = {
        "database": _hide_password(config.metadata_uri),
        "from_revision": before,
        "revision": after,
        "head": _revision_text(head_revisions()),
        "upgraded": before != after,
    }

    def render() -> None:
        if before == after:
            say(f"Database already at the latest revision {after}.")
        else:
            say(f"Upgraded the database from {before or 'an empty schema'} to revision {after}.")

    emit(output, data, render)


def _revision_text(revisions: Iterable[str]) -> str | None:
    """'0002' (or '0002a,0002b' while branches are unmerged); None for an empty database."""
    return ",".join(sorted(revisions)) or None


def gc(
    ctx: typer.Context,
    min_age: Annotated[
        float,
        typer.Option(
            "--min-age",
            metavar="SECONDS",
            min=0,
            help="Keep unreferenced blobs stored less than this long ago (uploads in flight). "
            "0 deletes them all: only when nothing writes to the workspace.",
        ),
    ] = 3600.0,
    output: OutputOpt = Output.table,
) -> None:
    """Delete blobs that no run, data version or model version references any more."""
    result = workspace(ctx).gc(min_age_s=min_age)
    emit(
        output,
        result,
        lambda: say(
            f"Deleted {result['blobs_deleted']} unreferenced blob"
            f"{'' if result['blobs_deleted'] == 1 else 's'}, "
            f"freed {fmt_bytes(result['bytes_freed'])}."
        ),
    )


def version(output: OutputOpt = Output.table) -> None:
    """Print the modelworks version."""
    from modelworks import __version__

    data = {"modelworks": __version__, "python": platform.python_version()}
    emit(output, data, lambda: say(f"modelworks {__version__} (Python {data['python']})"))
