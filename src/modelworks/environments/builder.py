"""Materialising resolved environments as cached virtualenvs.

A ``venv`` environment is built once per spec hash under the environment cache
(``$MODELWORKS_ENV_CACHE``, default ``~/.cache/modelworks/envs``), with ``uv`` when it is
installed (``uv venv`` + ``uv pip install``) and otherwise ``python -m venv`` + pip. The
build holds a file lock, so concurrent jobs needing the same environment build it once; the
build log is kept beside it (``build.log``) and a finished build is marked ``.complete``.

Environments are *layered*: packages they install come first on ``sys.path``, and the
packages of the interpreter the workers run on come after them (when the Python versions
match), so ``import modelworks`` and ``import mlflow`` work inside any job for logging, and
requirements already satisfied there are not downloaded again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import site
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from modelworks.errors import ModelworksError

__all__ = [
    "ENV_CACHE",
    "EnvironmentBuildError",
    "MaterialisedEnvironment",
    "cache_root",
    "find_python",
    "find_uv",
    "materialise",
]

ENV_CACHE = "MODELWORKS_ENV_CACHE"
#: ``pip`` forces venv + pip even where uv is installed; ``uv`` requires uv.
ENV_BUILDER = "MODELWORKS_ENV_BUILDER"
BUILD_LOG = "build.log"
_TAIL_LINES = 25


class EnvironmentBuildError(ModelworksError):
    """Building a job's environment failed (the message holds the end of the build log)."""

    status_code = 422
    code = "ENVIRONMENT_BUILD_FAILED"


class BuildCanceled(ModelworksError):
    status_code = 409
    code = "CANCELED"


@dataclasses.dataclass(frozen=True)
class MaterialisedEnvironment:
    """Where a job's interpreter is: prepend ``bin_dir`` to PATH and run ``python``."""

    python: str
    bin_dir: str
    built: bool = False
    path: str | None = None
    log_path: str | None = None


def cache_root() -> Path:
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "modelworks" / "envs"


def find_uv() -> str | None:
    """The ``uv`` executable, if installed (on PATH or as the ``uv`` Python package) and not
    turned off with ``MODELWORKS_ENV_BUILDER=pip``."""
    if os.environ.get(ENV_BUILDER, "").lower() == "pip":
        return None
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def find_python(version: str | None) -> tuple[str, str | None]:
    """An interpreter for ``version`` ('3.11'): this one if it matches, else ``python3.11``
    on PATH; returns ``(path, warning)`` — falling back to this one with a warning."""
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not version:
        return sys.executable, None
    wanted = ".".join(version.split(".")[:2])
    if wanted == current:
        return sys.executable, None
    found = shutil.which(f"python{wanted}")
    if found:
        try:  # a shim (pyenv) may exist for a version that is not installed
            if _python_version(found) == wanted:
                return found, None
        except (OSError, subprocess.SubprocessError):
            pass
    return (
        sys.executable,
        f"Python {wanted} was requested but no python{wanted} is installed here; "
        f"using Python {current} ({sys.executable}).",
    )


def _site_packages(env_dir: Path) -> Path:
    found = sorted(env_dir.glob("lib/python*/site-packages"))
    if not found:
        raise EnvironmentBuildError(f"No site-packages folder in the new environment {env_dir}.")
    return found[0]


def _parent_site_dirs() -> list[str]:
    dirs = [p for p in site.getsitepackages() if os.path.isdir(p)]
    user = site.getusersitepackages()
    if isinstance(user, str) and os.path.isdir(user):
        dirs.append(user)
    return dirs


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _run(
    argv: list[str],
    log: Any,
    on_line: Callable[[str], None] | None,
    cancel: threading.Event | None,
    env: dict[str, str] | None = None,
) -> int:
    from modelworks.compute.local import kill_process_tree

    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
        text=True,
        errors="replace",
    )
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if cancel is not None and cancel.is_set():
                kill_process_tree(process.pid, grace_s=1.0)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            log.flush()
            if on_line is not None:
                on_line(line)
        return process.wait()
    finally:
        done.set()
        watcher.join()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])


def _env_name(digest: str) -> str:
    """The cache folder of a spec for this interpreter: an environment is layered over the
    site-packages of the interpreter that built it (see the module docstring), so two
    interpreters (two virtualenvs, two clones) never share one — else the second would import
    the first's modelworks, or nothing once that virtualenv is gone."""
    import hashlib

    parent = hashlib.sha256(os.path.realpath(sys.prefix).encode()).hexdigest()[:8]
    return f"{digest[:24]}-{parent}"


def materialise(
    resolved: dict[str, Any],
    *,
    root: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> MaterialisedEnvironment:
    """Return the interpreter for ``resolved``, building (and caching) its virtualenv first."""
    if resolved.get("kind", "inherit") == "inherit":
        return MaterialisedEnvironment(
            python=sys.executable, bin_dir=str(Path(sys.executable).parent)
        )
    base = (root or cache_root()).resolve()
    name = _env_name(str(resolved["hash"]))
    env_dir = base / name
    marker = env_dir / ".complete"
    log_path = env_dir.parent / f"{name}.{BUILD_LOG}"
    if marker.exists():
        return MaterialisedEnvironment(
            python=str(env_dir / "bin" / "python"),
            bin_dir=str(env_dir / "bin"),
            path=str(env_dir),
            log_path=str(log_path),
        )
    with _file_lock(base / f"{name}.lock"):
        if marker.exists():  # built by another job while this one waited
            return materialise(resolved, root=base)
        if env_dir.exists():
            shutil.rmtree(env_dir)
        python, warning = find_python(resolved.get("python"))
        if warning and on_warning is not None:
            on_warning(warning)
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            if warning:
                log.write(f"warning: {warning}\n")
            try:
                _build(
                    env_dir, python, list(resolved.get("requirements") or []), log, on_line, cancel
                )
            except BaseException:
                shutil.rmtree(env_dir, ignore_errors=True)
                raise
            log.write(f"built in {time.monotonic() - started:.1f}s\n")
        marker.write_text(str(resolved["hash"]))
    return MaterialisedEnvironment(
        python=str(env_dir / "bin" / "python"),
        bin_dir=str(env_dir / "bin"),
        built=True,
        path=str(env_dir),
        log_path=str(log_path),
    )


def _build(
    env_dir: Path,
    python: str,
    requirements: list[str],
    log: Any,
    on_line: Callable[[str], None] | None,
    cancel: threading.Event | None,
) -> None:
    uv = find_uv()
    log.write(f"building {env_dir} with {'uv' if uv else 'venv + pip'} on {python}\n")
    if uv:
        argv = [uv, "venv", "--python", python, str(env_dir)]
    else:
        argv = [python, "-m", "venv", "--without-pip", str(env_dir)]
    code = _run(argv, log, on_line, cancel)
    _check(code, "creating the virtualenv", log, cancel)
    same_version = _python_version(python) == f"{sys.version_info.major}.{sys.version_info.minor}"
    if same_version:
        layer = _site_packages(env_dir) / "_modelworks_parent.pth"
        dirs = ", ".join(repr(d) for d in _parent_site_dirs())
        layer.write_text(f"import site; list(map(site.addsitedir, ({dirs},)))\n")
    if not requirements:
        return
    req_file = env_dir / "requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n")
    target = str(env_dir / "bin" / "python")
    if uv:
        argv = [uv, "pip", "install", "--python", target, "-r", str(req_file)]
    else:
        argv = [
            sys.executable,
            "-m",
            "pip",
            "--python",
            target,
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
            str(req_file),
        ]
    environ = {**os.environ, "PIP_NO_INPUT": "1"}
    code = _run(argv, log, on_line, cancel, env=environ)
    _check(code, "installing the requirements", log, cancel)


def _check(code: int, step: str, log: Any, cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise BuildCanceled("Environment build canceled.")
    if code != 0:
        log.flush()
        tail = _tail(Path(log.name))
        raise EnvironmentBuildError(
            f"Building the environment failed while {step} (exit code {code}). "
            f"Last lines of the build log ({log.name}):\n{tail}"
        )


def _python_version(python: str) -> str:
    if python == sys.executable:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.strip()
