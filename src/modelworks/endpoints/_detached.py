"""Starting a detached endpoint host, early and at most once per process.

A cold ``online-deployment create`` spends most of its time starting the host (a Python
process, then its zygote importing numpy, pandas and scikit-learn). :func:`prestart` lets the
CLI start that process first, before it opens the workspace database and reads the spec: it
needs no database, only a look at the host's doorbell (no answer: no host on this machine).
:func:`launch` is what :func:`~modelworks.endpoints.host.ensure_host` calls; a process this
one started already and that still runs is reused rather than started twice.

This module imports nothing heavy, so calling it costs the CLI a few milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelworks.endpoints._doorbell import answering, bell_path, socket_dir

__all__ = ["launch", "prestart"]

_launched: dict[str, subprocess.Popen[bytes]] = {}


def launch(location: str, runtime: Path) -> subprocess.Popen[bytes]:
    """A detached ``python -m modelworks.endpoints --workspace location --idle-exit``
    (logging to ``<runtime>/host.log``), or the one this process started and still runs."""
    running = _launched.get(location)
    if running is not None and running.poll() is None:
        return running
    runtime.mkdir(parents=True, exist_ok=True)
    with open(runtime / "host.log", "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelworks.endpoints", "--workspace", location, "--idle-exit"],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _launched[location] = process
    return process


def prestart(location: str) -> None:
    """Start a host for the local workspace folder ``location`` unless one answers its bell.

    A host that finds another one already serving exits at once, so a wrong guess costs
    little; :func:`~modelworks.endpoints.host.ensure_host` still checks the database.
    """
    if "://" in location:
        return  # a server URL: the server's machine hosts the endpoints
    runtime = Path(location).expanduser().resolve() / "endpoints"
    if not runtime.parent.is_dir() or answering(bell_path(runtime, socket_dir())):
        return
    launch(location, runtime)
