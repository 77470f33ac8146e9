"""Turning a deployment record into what its worker processes need: files, config, environment.

- The model: the registered version's files from the workspace cache, laid out as Azure lays
  them out, ``$AZUREML_MODEL_DIR/<the registered folder or file under its original name>``
  (a model registered from ``./model/`` is at ``$AZUREML_MODEL_DIR/model/...``). The folder is
  ``<workspace>/endpoints/models/<name>/<version>`` with a link to the cached files.
- The code: the snapshot taken when the deployment was created (an artifact tree owned by the
  deployment), materialised once per content under ``<workspace>/endpoints/code/<hash>``.
- The environment: this interpreter (``environment: inherit``). Other environments are
  recorded with the deployment but not materialised yet (see docs/endpoints.md); the worker
  gets one math thread (``OMP_NUM_THREADS=1``, ...) unless ``environment_variables`` say
  otherwise, plus the deployment's ``environment_variables``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.artifacts import tree_hash
from modelworks.serving.worker import ONE_THREAD_ENV

if TYPE_CHECKING:
    from modelworks.endpoints.entities import OnlineDeployment
    from modelworks.workspace import Workspace

__all__ = ["model_basename", "worker_setup"]


def model_basename(source: str, name: str) -> str:
    """The name Azure gives the registered folder/file inside AZUREML_MODEL_DIR."""
    text = source.rstrip("/\\")
    if text.startswith("runs:/"):
        parts = text[len("runs:/") :].split("/", 1)
        return Path(parts[1]).name if len(parts) > 1 and parts[1] else "model"
    if text.startswith(("models:/", "azureml:")) or not text:
        return name
    return Path(text).name or name


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        else:
            link.unlink()
    try:
        os.symlink(target, link, target_is_directory=target.is_dir())
    except OSError:  # file systems without symlinks: copy
        if target.is_dir():
            shutil.copytree(target, link)
        else:
            shutil.copy2(target, link)


def model_dir(ws: Workspace, name: str, version: str, root: Path) -> Path:
    """``AZUREML_MODEL_DIR`` for a registered model version (created on first use)."""
    record = ws.models.get(f"{name}:{version}")
    cached = ws.models.local_path(f"models:/{record.name}/{record.version}")
    folder = root / "models" / record.name / record.version
    base = model_basename(record.source, record.name)
    entries = [p for p in cached.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_file() and entries[0].name == base:
        _link(entries[0], folder / base)  # a model registered from one file
    else:
        _link(cached, folder / base)
    return folder


def code_dir(ws: Workspace, owner: str, root: Path) -> Path:
    """The deployment's code snapshot as a folder (materialised once per content)."""
    entries = ws.runs.trees.list(owner)
    folder = root / "code" / tree_hash(entries)[:32]
    marker = folder / ".modelworks-complete"
    if not marker.exists():
        staging = folder.with_name(folder.name + f".{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
        ws.runs.trees.download(owner, "", staging, entries=entries)
        (staging / ".modelworks-complete").touch()
        with contextlib.suppress(OSError):
            os.replace(staging, folder)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def worker_setup(
    ws: Workspace, deployment: OnlineDeployment
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(worker config, process environment)`` for one deployment generation."""
    from modelworks.endpoints.host import runtime_dir

    root = runtime_dir(ws)
    spec = deployment.spec
    config: dict[str, Any] = {
        "name": deployment.model_name or deployment.name,
        "version": deployment.model_version or str(deployment.generation),
        "deployment": deployment.name,
        "endpoint": deployment.endpoint_name,
        "generation": deployment.generation,
        "batching": spec.get("micro_batching"),
        "max_body_bytes": (spec.get("request_settings") or {}).get("max_request_body_bytes"),
    }
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AZUREML_MODEL_DIR", "AML_APP_ROOT", "AZUREML_ENTRY_SCRIPT"):
        env.pop(key, None)
    env.update(ONE_THREAD_ENV)
    if deployment.model_name is not None and deployment.model_version is not None:
        folder = model_dir(ws, deployment.model_name, deployment.model_version, root)
        config["model_dir"] = str(folder)
        env["AZUREML_MODEL_DIR"] = str(folder)
    code = spec.get("code_configuration")
    if code and deployment.code_owner:
        app_root = code_dir(ws, deployment.code_owner, root)
        script = app_root / str(code["scoring_script"])
        config["entry_script"] = str(script)
        config["app_root"] = str(app_root)
        env["AML_APP_ROOT"] = str(app_root)
        env["AZUREML_ENTRY_SCRIPT"] = str(code["scoring_script"])
    env["MODELWORKS_ENDPOINT"] = deployment.endpoint_name
    env["MODELWORKS_DEPLOYMENT"] = deployment.name
    env.update({str(k): str(v) for k, v in (spec.get("environment_variables") or {}).items()})
    return config, env
