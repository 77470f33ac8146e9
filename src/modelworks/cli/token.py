"""``modelworks token ...``: API tokens for a ``modelworks server`` (admin only over HTTP).

Against a local workspace folder the tokens are written to its database directly; against a
server URL the server's ``/api/v1/tokens`` routes are called (with an admin ``--token``).
A token's text is printed once, on stdout alone, so that ``TOKEN=$(modelworks token create
...)`` works; only its sha256 is stored.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_time,
    note,
    print_renderable,
    rows_table,
    say,
    workspace,
)

app = typer.Typer(help="API tokens for a modelworks server.", no_args_is_help=True)


class Role(enum.StrEnum):
    """What a token may do: read, read and write, or also manage tokens."""

    reader = "reader"
    writer = "writer"
    admin = "admin"


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="A label, e.g. ci or alice.")],
    role: Annotated[Role, typer.Option("--role", "-r", help="reader, writer or admin.")],
    output: OutputOpt = Output.table,
) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    from modelworks.server.tokens import create_token, hash_token

    ws = workspace(ctx)
    text = create_token(ws.meta, name, role.value)
    record = ws.meta.get_token_by_hash(hash_token(text))
    emit(output, {**record.to_dict(), "token": text}, lambda: say(text))
    note(
        f"Token {record.name!r} ({record.role}, id {record.id}) is shown only now: store it "
        "safely; it cannot be shown again. Use it with --token or MODELWORKS_TOKEN.",
        style="yellow",
    )


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Every token (never their secrets)."""
    tokens = workspace(ctx).meta.list_tokens()

    def render() -> None:
        table = rows_table(
            ("id", "name", "role", "created", "last used", "revoked"),
            (
                (
                    t.id,
                    t.name,
                    t.role,
                    fmt_time(t.created_at, short=True),
                    fmt_time(t.last_used_at, short=True),
                    "revoked" if t.revoked else "",
                )
                for t in tokens
            ),
            options={c: {"no_wrap": True} for c in ("id", "name", "role", "created", "last used")},
            optional=("last used", "revoked"),
        )
        print_renderable(table)
        if not tokens:
            note("No tokens. Create one with `modelworks token create --name N --role reader`.")

    emit(output, [t.to_dict() for t in tokens], render)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (see token list).")],
) -> None:
    """Revoke a token: it stops working at once."""
    workspace(ctx).meta.revoke_token(token_id)
    say(f"Revoked token {token_id}.")
