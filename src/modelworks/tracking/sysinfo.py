"""What a run records about the machine and code that produced it."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import socket
import subprocess
import sys

__all__ = ["git_commit", "installed_packages", "system_tags"]


@functools.cache
def installed_packages() -> str:
    """``name==version`` lines of the current interpreter's distributions (cached)."""
    from importlib import metadata

    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            lines.add(f"{name}=={dist.version}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


def git_commit(path: str | None = None) -> tuple[str, str] | None:
    """(commit sha, 'clean'|'dirty') of the repository containing ``path``, if any."""
    cwd = path or os.getcwd()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return sha.stdout.strip(), "dirty" if status.stdout.strip() else "clean"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - containers without a passwd entry
        return os.environ.get("USER", "")


@functools.cache
def _static_tags() -> dict[str, str]:
    return {
        "mw.system.python": platform.python_version(),
        "mw.system.platform": platform.platform(),
        "mw.system.hostname": socket.gethostname(),
        "mw.system.cpus": str(os.cpu_count() or 0),
    }


def system_tags(source: str | None = None) -> dict[str, str]:
    """Tags describing the interpreter, machine, entry point and git state of this process."""
    tags = dict(_static_tags())
    entry = source or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    if entry:
        tags["mw.source.name"] = entry
    commit = git_commit(
        os.path.dirname(os.path.abspath(entry)) if entry and os.path.exists(entry) else None
    )
    if commit:
        tags["mw.source.git.commit"], tags["mw.source.git.state"] = commit
    return tags
