"""What every ``modelworks`` command shares: global options, the workspace, output, errors.

- The workspace location and token come from the root options (``modelworks -w ws ...``), the
  same options given after a command (``modelworks data list -w ws``), or the environment
  (``MODELWORKS_WORKSPACE``, ``MODELWORKS_TOKEN``); :func:`workspace` opens it once per call.
- ``--output/-o table|json``: tables are Rich tables on stdout; ``json`` writes one JSON
  document to stdout and nothing else there (progress and notes go to stderr).
- Errors are handled in one place, :class:`RootGroup`: a
  :class:`~modelworks.errors.ModelworksError` (or an OS error) becomes ``Error: <message>`` on
  stderr and exit code 1; usage errors keep Click's exit code 2.

Only Typer and the light modelworks modules are imported here; Rich and the SDK are imported
inside functions so that ``modelworks --help`` stays fast. Typer's public API only (its
``Context``, ``BadParameter``, ``Exit``): recent Typer versions vendor their own Click.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from modelworks.errors import ModelworksError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from modelworks.workspace import Workspace

__all__ = [
    "Output",
    "OutputOpt",
    "RootGroup",
    "State",
    "cell",
    "cwd_path",
    "emit",
    "err_console",
    "fmt_bytes",
    "fmt_duration",
    "fmt_number",
    "fmt_time",
    "kv_table",
    "new_table",
    "note",
    "out_console",
    "parse_tags",
    "pick_ref",
    "print_renderable",
    "require_name_and_path",
    "rows_table",
    "say",
    "short_hash",
    "status",
    "use_workspace_options",
    "with_workspace_options",
    "workspace",
]

DEFAULT_WORKSPACE = ".modelworks"


class Output(enum.StrEnum):
    """How a command prints what it found."""

    table = "table"
    json = "json"


OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="table (human-readable) or json (one JSON document on stdout, for scripts).",
    ),
]


# ------------------------------------------------------------------------------- workspace


@dataclasses.dataclass
class State:
    """The root context's object: where the workspace is and, once opened, the workspace."""

    location: str = DEFAULT_WORKSPACE
    token: str | None = None
    opened: Workspace | None = None


def state(ctx: typer.Context) -> State:
    """The :class:`State` of this invocation (created with defaults when a test skips the root)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def workspace(ctx: typer.Context) -> Workspace:
    """Open the workspace named by the options (once per invocation; closed when it ends)."""
    current = state(ctx)
    if current.opened is None:
        from modelworks.workspace import Workspace

        current.opened = Workspace(current.location, token=current.token)
        ctx.find_root().call_on_close(current.opened.close)
    return current.opened


_WORKSPACE_PARAMS = (
    inspect.Parameter(
        "mw_workspace",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--workspace",
                "-w",
                metavar="PATH|URL",
                show_default=False,
                help="Workspace folder or server URL (same as the global option).",
            ),
        ],
    ),
    inspect.Parameter(
        "mw_token",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--token",
                metavar="TOKEN",
                show_default=False,
                help="API token for a server workspace (same as the global option).",
            ),
        ],
    ),
)


def with_workspace_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Let a command also take ``--workspace/-w`` and ``--token`` after its own name.

    ``modelworks data list -w ./ws`` then means ``modelworks -w ./ws data list``, as
    ``az ml data list -w ...`` users expect. The wrapper's signature is the command's plus
    those two options (and a context when the command has none); their values go into
    :class:`State` before the command runs, so command functions never see them.
    """
    signature = inspect.signature(func, eval_str=True)
    params = list(signature.parameters.values())
    ctx_name = next((p.name for p in params if p.annotation is typer.Context), None)
    extra = list(_WORKSPACE_PARAMS)
    own_ctx = ctx_name is None
    if own_ctx:
        extra.append(
            inspect.Parameter("mw_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        )
        ctx_name = "mw_ctx"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        location = kwargs.pop("mw_workspace", None)
        token = kwargs.pop("mw_token", None)
        ctx = kwargs.pop("mw_ctx") if own_ctx else kwargs[str(ctx_name)]
        current = state(ctx)
        if location is not None:
            current.location = location
        if token is not None:
            current.token = token
        return func(*args, **kwargs)

    full = [*params, *_WORKSPACE_PARAMS]
    wrapper.__signature__ = signature.replace(parameters=full)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in full}
    if signature.return_annotation is not inspect.Signature.empty:
        wrapper.__annotations__["return"] = signature.return_annotation
    return wrapper


def use_workspace_options(app: typer.Typer) -> typer.Typer:
    """Give every command registered on ``app`` the ``--workspace``/``--token`` options."""
    for info in app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "_mw_wrapped", False):
            info.callback = with_workspace_options(info.callback)
            info.callback._mw_wrapped = True  # type: ignore[attr-defined]
    return app


class RootGroup(TyperGroup):
    """The root command group; the one place where modelworks errors become messages."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ModelworksError as e:
            fail(e.message)
        except BrokenPipeError:  # `modelworks ... | head`: the reader left; stop quietly
            _silence_stdout()
            raise typer.Exit(1) from None
        except OSError as e:  # e.g. a download folder that cannot be written
            fail(f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (e.g. a test's captured output)
        pass


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and stop with exit code 1."""
    err_console().print(
        f"Error: {message}", style="bold red", markup=False, highlight=False, soft_wrap=True
    )
    raise typer.Exit(1)


# --------------------------------------------------------------------------------- options


def parse_tags(values: Sequence[str] | None, option: str = "--tag") -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; a value without '=' is a usage error (exit 2)."""
    tags: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}.", param_hint=f"'{option}'")
        tags[key.strip()] = value
    return tags


def pick_ref(ref: str | None, name: str | None, kind: str) -> str:
    """The asset reference from ``REF`` or ``--name`` (exactly one of them)."""
    if ref and name:
        raise typer.BadParameter(
            f"give the {kind} either as REF or with --name, not both ({ref!r} and {name!r}).",
            param_hint="'REF' / '--name'",
        )
    if not ref and not name:
        raise typer.BadParameter(
            f"give the {kind} as REF (e.g. bank@latest, bank:2) or with --name.",
            param_hint="'REF' / '--name'",
        )
    return ref or name or ""


def require_name_and_path(name: str | None, path: str | None) -> tuple[str, str]:
    """Without -f/--file, --name and --path are both needed (a usage error, exit 2)."""
    for option, value in (("--name", name), ("--path", path)):
        if not value:
            raise typer.BadParameter(
                "required unless the asset is described by -f/--file.", param_hint=f"'{option}'"
            )
    return name or "", path or ""


def cwd_path(path: str | None) -> str | None:
    """A local path given on the command line, made absolute (URLs and URIs stay as they are).

    With ``-f spec.yml``, relative paths in the file resolve against the file's folder, but a
    ``--path`` typed on the command line means the current folder.
    """
    if path is None or re.match(r"^[A-Za-z][A-Za-z0-9+.\-]+:", path):
        return path
    return os.path.abspath(path)


# ---------------------------------------------------------------------------------- output


def out_console() -> Console:
    """A Rich console on stdout (made per use, so it follows the current stdout and COLUMNS)."""
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def err_console() -> Console:
    """A Rich console on stderr: errors, warnings, notes and progress."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def note(message: str, *, style: str = "dim") -> None:
    """A message for the human on stderr (never mixed into JSON on stdout)."""
    err_console().print(message, style=style, markup=False, soft_wrap=True)


def status(message: str) -> Any:
    """A spinner on stderr while a long step runs (shown only on a terminal)."""
    return err_console().status(message, spinner="dots")


def emit(output: Output, data: Any, render: Callable[[], None]) -> None:
    """Write ``data`` as JSON, or call ``render`` to print it for a human."""
    if output == Output.json:
        sys.stdout.write(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))
        sys.stdout.write("\n")
        sys.stdout.flush()
    else:
        render()


def _json_default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def cell(value: Any, style: str = "") -> Text:
    """A table cell showing ``value`` literally (no Rich markup), '' for None."""
    from rich.text import Text

    if value is None:
        return Text("")
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return Text(str(value), style=style)


def new_table(
    *columns: str, title: str | None = None, options: dict[str, dict[str, Any]] | None = None
) -> Table:
    """A Rich table with the house style; ``options`` maps a column to its ``add_column`` kwargs."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        title_justify="left",
        title_style="bold",
    )
    for column in columns:
        table.add_column(column, **(options or {}).get(column, {}))
    return table


def add_row(table: Table, values: Iterable[Any]) -> None:
    """Add a row whose values are shown literally."""
    table.add_row(*(v if _is_renderable(v) else cell(v) for v in values))


def rows_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    optional: Sequence[str] = (),
) -> Table:
    """A table of ``rows``, leaving out the ``optional`` columns that are empty in every row."""
    rows = [list(r) for r in rows]
    keep = [
        i
        for i, column in enumerate(columns)
        if column not in optional or any(_is_filled(r[i]) for r in rows)
    ]
    table = new_table(*(columns[i] for i in keep), title=title, options=options)
    for row in rows:
        add_row(table, (row[i] for i in keep))
    return table


def _is_filled(value: Any) -> bool:
    if _is_renderable(value):
        return bool(str(value))
    return value not in (None, "", [], {}, ())


def _is_renderable(value: Any) -> bool:
    return hasattr(value, "__rich_console__") or hasattr(value, "__rich__")


def kv_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column key/value table for ``show`` commands (empty values are left out)."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, box=box.SIMPLE, show_header=False, title_justify="left", title_style="bold"
    )
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in rows:
        if value is None or value == "" or value == {} or value == []:
            continue
        add_row(table, (key, value))
    return table


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line on stdout; each part is literal text or ``(text, style)`` (no markup)."""
    from rich.text import Text

    out_console().print(Text.assemble(*parts), soft_wrap=True)


def print_renderable(*items: Any) -> None:
    """Print Rich renderables on stdout."""
    console = out_console()
    for item in items:
        console.print(item)


# ------------------------------------------------------------------------------ formatting


def fmt_time(ms: int | None, *, short: bool = False) -> str:
    """Milliseconds since the epoch as local 'YYYY-MM-DD HH:MM:SS' ('' for None).

    ``short`` gives 'MM-DD HH:MM' for this year's times, for listings.
    """
    if not ms:
        return ""
    moment = dt.datetime.fromtimestamp(ms / 1000)
    if short:
        same_year = moment.year == dt.datetime.now().year
        return moment.strftime("%m-%d %H:%M" if same_year else "%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start_ms: int | None, end_ms: int | None) -> str:
    """'1h 02m', '3m 05s', '4.2s'; '' when the run has not started."""
    if not start_ms:
        return ""
    end = end_ms if end_ms else int(dt.datetime.now().timestamp() * 1000)
    seconds = max(0.0, (end - start_ms) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_bytes(size: int | None) -> str:
    """1536 -> '1.5 KB'."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable


def short_hash(digest: str) -> str:
    """The first 16 hex digits of a sha256, enough for a human to compare."""
    return f"{digest[:16]}…" if len(digest) > 16 else digest


def fmt_number(value: Any) -> str:
    """Integers exactly (with thousands separators), floats to 4 significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)
