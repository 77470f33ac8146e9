"""Write docs/cli.md: every ``modelworks`` command with its help and options, from the CLI
itself, so the reference cannot drift from the code (tests/test_docs.py checks it is current).

    python scripts/gen_cli_docs.py          # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 when docs/cli.md is out of date
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import typer

from modelworks.cli import app

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"

HEADER = """# Command line reference

Generated from the CLI by `python scripts/gen_cli_docs.py`; do not edit by hand. Every command
takes the global options `-w/--workspace PATH|URL` (default `./.modelworks`, or
`$MODELWORKS_WORKSPACE`) and `--token` (or `$MODELWORKS_TOKEN`) before the noun, and most take
`-o json` for machine-readable output. Exit codes: 0 success, 1 an error the message explains,
2 a usage error.

"""


def _option_line(param: Any) -> str:
    if param.param_type_name == "argument":
        help_text = " ".join((getattr(param, "help", None) or "").split()).replace("|", "\\|")
        return f"| `{(param.metavar or param.name or '').upper()}` | {help_text or 'argument'} |"
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    help_text = " ".join((param.help or "").split()).replace("|", "\\|")
    if param.required:
        help_text += " (required)"
    return f"| {names} | {help_text} |"


def _walk(command: Any, path: list[str], out: list[str]) -> None:
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                _walk(sub, [*path, name], out)
        return
    title = " ".join(["modelworks", *path])
    out.append(f"## `{title}`\n")
    doc = inspect.cleandoc(command.help or "").split("\n\n")[0]
    if doc:
        out.append(" ".join(doc.split()) + "\n")
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    params = [p for p in params if p.name != "help"]
    if params:
        out.append("| option | meaning |")
        out.append("|---|---|")
        out.extend(_option_line(p) for p in params)
        out.append("")


def render() -> str:
    """The whole page."""
    root = typer.main.get_command(app)
    out: list[str] = []
    _walk(root, [], out)
    return HEADER + "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
