"""Saving an in-memory model as an MLflow-format model folder.

The folder is built in a temporary sibling directory and renamed into place at the end, so a
failed save leaves nothing behind and a reader never sees half a model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelworks.errors import AlreadyExistsError, InvalidInputError
from modelworks.registry._examples import save_input_example
from modelworks.registry._payloads import to_model_input
from modelworks.registry.flavors import (
    FlavorModule,
    detect_flavor,
    get_flavor,
    python_model,
    supported_types,
)
from modelworks.registry.mlmodel import (
    CONDA_FILE,
    PYTHON_ENV_FILE,
    new_mlmodel,
    pin_requirements,
    read_requirements,
    write_environment,
    write_mlmodel,
)
from modelworks.registry.schema import normalize_signature, signature_to_mlmodel

__all__ = ["ModelInfo", "save_model"]

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What :func:`save_model` wrote: flavor names, signature, folder path, model UUID."""

    flavors: list[str]
    signature: dict[str, Any] | None
    path: str
    model_uuid: str


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExistsError(
            f"Cannot save a model to {target}: it already exists and is not an empty folder. "
            "Choose a new path or delete the existing one first."
        )


def _choose_flavor(model: Any, flavor: str | None) -> FlavorModule:
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if flavor is not None:
        module = get_flavor(flavor)
        if not module.can_save(model):
            raise InvalidInputError(
                f"The {flavor} flavor cannot save a {kind}; it saves {module.SUPPORTED_TYPES}."
            )
        return module
    detected = detect_flavor(model)
    if detected is None:
        raise InvalidInputError(
            f"Cannot save a {kind}: modelworks saves {supported_types()}. Wrap other models in a "
            "modelworks.registry.PythonModel subclass."
        )
    return detected


def _flavors(module: FlavorModule, conf: dict[str, Any]) -> dict[str, Any]:
    pyfunc = {
        **module.pyfunc_conf(conf),
        "env": {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE},
        "python_version": platform.python_version(),
    }
    if module.FLAVOR_NAME == "python_function":
        return {"python_function": pyfunc}
    return {module.FLAVOR_NAME: conf, "python_function": pyfunc}


def _infer(module: FlavorModule, folder: Path, flavors: dict[str, Any], example: Any) -> Any:
    """Signature from the example and the reloaded model's output on it."""
    from modelworks.registry.signature import infer_schema, infer_signature

    inputs = {"inputs": infer_schema(example), "outputs": None}
    conf = flavors.get(module.FLAVOR_NAME) or {}
    try:
        predictor = module.load_predictor(folder, conf, flavors.get("python_function"))
        output = predictor.predict(to_model_input(example, inputs))
        return infer_signature(example, output)
    except Exception as e:  # noqa: BLE001 - the user's model may raise anything on its example
        _log.warning(
            "Signature outputs not inferred: the model failed on its example: %s", e, exc_info=True
        )
        return inputs


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    signature: Any = None,
    flavor: str | None = None,
    pip_requirements: Sequence[str] | str | Path | None = None,
    metadata: dict[str, Any] | None = None,
    artifacts: dict[str, str | Path] | None = None,
    artifact_path: str | None = None,
    run_id: str | None = None,
) -> ModelInfo:
    """Write ``model`` as an MLflow-format model folder at ``path`` (new or empty).

    The flavor is detected from the model's type unless ``flavor`` names one. Without a
    ``signature`` one is inferred from ``input_example`` and the model's output on it;
    ``signature=False`` writes none. ``pip_requirements`` (lines or a requirements file)
    replaces the pinned defaults. ``artifacts`` (name → local path) is for PythonModel models.
    ``artifact_path``/``run_id`` are recorded in MLmodel when the model belongs to a run.
    """
    target = Path(path).expanduser().absolute()
    _check_target(target)
    module = _choose_flavor(model, flavor)
    if artifacts and module is not python_model:
        raise InvalidInputError(
            "artifacts= is only for PythonModel models (it copies files that load_context "
            f"reads); a {module.FLAVOR_NAME} model keeps everything in its own file."
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInputError(f"metadata must be a dict; got {type(metadata).__name__}.")
    sig = None if signature is False else normalize_signature(signature)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.saving-", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a model folder is an ordinary folder
        conf = module.save(model, staging, **({"artifacts": artifacts} if artifacts else {}))
        flavors = _flavors(module, conf)
        example_info = None
        if input_example is not None:
            example_info, example = save_input_example(staging, input_example)
            if sig is None and signature is not False:
                sig = _infer(module, staging, flavors, example)
        requirements = (
            read_requirements(pip_requirements)
            if pip_requirements is not None
            else pin_requirements(module.requirements(conf))
        )
        write_environment(staging, requirements)
        content = new_mlmodel(
            flavors,
            signature=signature_to_mlmodel(sig) if sig else None,
            saved_input_example_info=example_info,
            metadata=metadata,
            model_size_bytes=_size(staging),
            artifact_path=artifact_path,
            run_id=run_id,
        )
        write_mlmodel(staging, content)
        _check_target(target)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelInfo(
        flavors=list(flavors),
        signature=sig,
        path=str(target),
        model_uuid=content["model_uuid"],
    )
