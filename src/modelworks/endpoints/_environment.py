"""A deployment's environment: resolved when it is created, built by the host before it starts.

``resolve`` runs where the spec is read (the SDK or CLI, and the server for a named reference
through REST): an inline environment (``{conda_file, pip_requirements, image}``) is read now,
relative to the deployment YAML, so the host never needs the user's files; a reference
(``azureml:env:1``, ``env@latest``) is looked up in the workspace's environments; ``inherit``,
nothing, and Azure's curated names (``AzureML-sklearn-1.5``) are the host's interpreter. The
result (the mapping :mod:`modelworks.environments.resolve` defines) is stored with the
deployment under :data:`RESOLVED_KEY`.

``materialise`` runs in the host: it builds the virtualenv once per content (cached and
file-locked by :mod:`modelworks.environments.builder`, shared with jobs) and appends the build
log to the deployment's log. Workers of a deployment whose environment is not the host's
interpreter are spawned with that environment's ``python``; the others are forked by the
zygote.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.environments.resolve import INHERIT

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["RESOLVED_KEY", "is_inherit", "materialise", "resolve"]

#: Where the resolved environment is kept in a deployment's stored spec.
RESOLVED_KEY = "environment_resolved"


def is_inherit(resolved: dict[str, Any] | None) -> bool:
    """Whether the environment is the host's own interpreter (the zygote's fast path)."""
    return not resolved or resolved.get("kind", "inherit") == "inherit"


def resolve_inline(value: dict[str, Any], *, base_dir: str, label: str) -> dict[str, Any]:
    """An inline ``environment:`` mapping, its files read now (relative to ``base_dir``)."""
    from modelworks.environments.resolve import normalise_spec
    from modelworks.specs import validate_spec
    from modelworks.specs.environment import EnvironmentSpec

    spec = validate_spec(
        EnvironmentSpec, dict(value), source=f"environment of {label}", base_dir=base_dir
    )
    return normalise_spec(spec, label=label)


def resolve(ws: Workspace, value: str | dict[str, Any] | None, *, label: str) -> dict[str, Any]:
    """The resolved environment for a string reference (a dict must go through
    :func:`resolve_inline` first; an already resolved mapping is returned as it is)."""
    if isinstance(value, dict):
        if "kind" in value:
            return dict(value)
        return resolve_inline(value, base_dir=os.getcwd(), label=label)
    text = (value or "inherit").strip()
    if text in ("inherit", "azureml:inherit", ""):
        return dict(INHERIT)
    from modelworks.environments.resolve import resolve_environment

    with warnings.catch_warnings():  # curated names: the host's interpreter, said in the docs
        warnings.simplefilter("ignore")
        return resolve_environment(text, store=ws.jobs.store)


def materialise(resolved: dict[str, Any], log_path: Path) -> str:
    """The python of ``resolved`` (built first when needed); the build log goes to ``log_path``.

    Raises :class:`~modelworks.environments.builder.EnvironmentBuildError` with the end of the
    pip/uv output when the build fails.
    """
    from modelworks.environments.builder import materialise as build

    if is_inherit(resolved):
        return sys.executable
    label = resolved.get("label", "inline")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} environment {label}\n")
        log.flush()

        def on_line(line: str) -> None:
            log.write(line if line.endswith("\n") else line + "\n")
            log.flush()

        def on_warning(message: str) -> None:
            on_line(f"warning: {message}")

        started = time.monotonic()
        try:
            info = build(resolved, on_line=on_line, on_warning=on_warning)
        except BaseException as e:
            log.write(f"--- building environment {label} failed: {type(e).__name__}\n")
            raise
        if info.built:
            log.write(f"--- built environment {label} in {time.monotonic() - started:.1f} s\n")
            _check_runtime(info.python, label, log_path)
        else:
            log.write(f"--- using the cached environment {label} ({info.path})\n")
    return info.python


def _check_runtime(python: str, label: str, log_path: Path) -> None:
    """Fail the deployment clearly when its workers could not start the serving runtime (an
    environment on another Python version does not see this interpreter's packages)."""
    import subprocess

    from modelworks.errors import InvalidInputError

    done = subprocess.run(
        [python, "-c", "import modelworks.serving.worker"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InvalidInputError(
            f"The environment {label} cannot run the scoring runtime ({last}). Its python "
            f"({python}) must be {sys.version_info.major}.{sys.version_info.minor} like the "
            "host's, or list modelworks in its requirements. Build log: "
            f"{log_path}."
        )
