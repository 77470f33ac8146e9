"""Custom models: subclass :class:`PythonModel`, saved with cloudpickle plus artifact files.

The folder is laid out like MLflow's custom pyfunc models (``python_model.pkl``, ``artifacts/``,
a ``python_function`` flavor whose ``artifacts`` maps each name to ``{path, uri}``), with
``loader_module: modelworks.registry.flavors.python_model``. :func:`_load_pyfunc` is the hook
``mlflow.pyfunc.load_model`` calls, so MLflow loads these models when modelworks is installed.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError
from modelworks.registry.flavors._base import (
    Predictor,
    add_code_paths,
    dump_cloudpickle,
    library_version,
    model_file,
)

__all__ = [
    "BARE_SUFFIXES",
    "FLAVOR_NAME",
    "LOADER_MODULE",
    "LOADER_MODULES",
    "SUPPORTED_TYPES",
    "PythonModel",
    "PythonModelContext",
    "can_save",
    "conf_from_pyfunc",
    "load",
    "load_bare",
    "load_predictor",
    "pyfunc_conf",
    "requirements",
    "save",
    "wrap",
]

FLAVOR_NAME = "python_function"
LOADER_MODULE = "modelworks.registry.flavors.python_model"
LOADER_MODULES: tuple[str, ...] = (LOADER_MODULE,)
BARE_SUFFIXES: tuple[str, ...] = ()
SUPPORTED_TYPES = "modelworks.registry.PythonModel subclasses"
MODEL_FILE = "python_model.pkl"
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


@dataclasses.dataclass(frozen=True)
class PythonModelContext:
    """What :meth:`PythonModel.load_context` and :meth:`PythonModel.predict` receive.

    ``artifacts`` maps each artifact name given at save time to its local path in the loaded
    model folder.
    """

    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)


class PythonModel:
    """Base class of custom models: override :meth:`predict`, optionally :meth:`load_context`.

    The instance is cloudpickled at save time; files it needs at inference (weights, lookup
    tables) are passed as ``artifacts={"name": "local/path"}`` to ``save_model`` and found at
    load time in ``context.artifacts["name"]``.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Prepare the model after loading (read artifacts, open resources). Default: nothing."""

    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        """Predictions for ``model_input`` (a DataFrame when the model has a column signature)."""
        raise NotImplementedError(f"{type(self).__name__} must implement predict(context, input)")


class PythonModelPredictor(Predictor):
    """Calls ``python_model.predict(context, data)``; ``native`` is the PythonModel itself."""

    flavor = "python_model"

    def __init__(self, native: Any, context: PythonModelContext) -> None:
        super().__init__(native)
        self.context = context

    def predict(self, data: Any) -> Any:
        return self.native.predict(self.context, data)

    @property
    def has_predict_proba(self) -> bool:
        return callable(getattr(self.native, "predict_proba", None))

    def predict_proba(self, data: Any) -> Any:
        if not self.has_predict_proba:
            return super().predict_proba(data)
        return self.native.predict_proba(self.context, data)


class _MlflowAdapter:
    """What ``mlflow.pyfunc.load_model`` gets from :func:`_load_pyfunc`: ``predict(data)``."""

    def __init__(self, predictor: PythonModelPredictor) -> None:
        self._predictor = predictor

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predictor.predict(data)

    @property
    def python_model(self) -> Any:
        """The PythonModel (what ``PyFuncModel.unwrap_python_model()`` reads)."""
        return self._predictor.native


def can_save(model: Any) -> bool:
    return isinstance(model, PythonModel)


def _copy_artifacts(artifacts: dict[str, Any], path: Path) -> dict[str, dict[str, str]]:
    """Copy each artifact to ``artifacts/<name>/<basename>``; return the MLmodel entries."""
    entries: dict[str, dict[str, str]] = {}
    for name, source in artifacts.items():
        if not isinstance(name, str) or not _ARTIFACT_NAME.match(name):
            raise InvalidInputError(
                f"Artifact name {name!r} is not valid: use letters, digits, '_', '-', '.' "
                "(at most 128 characters)."
            )
        if not isinstance(source, (str, Path)) or "://" in str(source):
            raise InvalidInputError(
                f"Artifact {name!r} must be a local file or folder path; got {source!r}. "
                "Download remote artifacts first."
            )
        src = Path(source)
        if not src.exists():
            raise InvalidInputError(f"Artifact {name!r}: {src} does not exist.")
        relative = f"artifacts/{name}/{src.name}"
        dest = path / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy2(src, dest)
        entries[name] = {"path": relative, "uri": str(source)}
    return entries


def save(
    model: Any, path: Path, *, artifacts: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Cloudpickle the model to ``python_model.pkl`` and copy its artifacts into the folder."""
    if not isinstance(artifacts, (dict, type(None))):
        raise InvalidInputError(
            f"artifacts must be a dict of name -> local path; got {type(artifacts).__name__}."
        )
    entries = _copy_artifacts(artifacts or {}, path)
    dump_cloudpickle(model, path / MODEL_FILE)
    conf: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_model": MODEL_FILE,
        "cloudpickle_version": library_version("cloudpickle"),
        "code": None,
    }
    if entries:
        conf["artifacts"] = entries
    return conf


def pyfunc_conf(flavor_conf: dict[str, Any]) -> dict[str, Any]:
    return dict(flavor_conf)


def conf_from_pyfunc(pyfunc_conf: dict[str, Any]) -> dict[str, Any]:
    return dict(pyfunc_conf)


def _context(path: Path, conf: dict[str, Any]) -> PythonModelContext:
    artifacts: dict[str, str] = {}
    for name, entry in (conf.get("artifacts") or {}).items():
        relative = entry.get("path") if isinstance(entry, dict) else entry
        artifacts[name] = str(model_file(path, relative, f"artifact {name!r} of the python_model"))
    return PythonModelContext(
        artifacts=artifacts, model_config=dict(conf.get("model_config") or {})
    )


def _load_with_context(path: Path, conf: dict[str, Any]) -> PythonModelPredictor:
    import cloudpickle

    add_code_paths(path, conf)
    file = model_file(path, conf.get("python_model") or MODEL_FILE, "python_function")
    with open(file, "rb") as f:
        model = cloudpickle.load(f)
    context = _context(path, conf)
    model.load_context(context)
    return PythonModelPredictor(model, context)


def load(path: Path, flavor_conf: dict[str, Any]) -> Any:
    """The PythonModel, after its ``load_context`` ran with the folder's artifacts."""
    return _load_with_context(path, flavor_conf).native


def load_predictor(
    path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
) -> Predictor:
    return _load_with_context(path, flavor_conf)


def load_bare(file: Path) -> Any:
    raise InvalidInputError(f"{file.name}: a PythonModel is only loaded from a model folder.")


def wrap(native: Any) -> Predictor:
    """A predictor over a PythonModel found alone in a pickle (no artifacts)."""
    context = PythonModelContext()
    native.load_context(context)
    return PythonModelPredictor(native, context)


def requirements(flavor_conf: dict[str, Any]) -> list[str]:
    return ["modelworks", "cloudpickle", "pandas", "numpy"]


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> _MlflowAdapter:
    """Entry point ``mlflow.pyfunc.load_model`` calls with the model folder's path."""
    from modelworks.registry.mlmodel import read_mlmodel

    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    conf = dict(read_mlmodel(folder).get("flavors", {}).get(FLAVOR_NAME) or {})
    if model_config:
        conf["model_config"] = {**(conf.get("model_config") or {}), **model_config}
    return _MlflowAdapter(_load_with_context(folder, conf))
