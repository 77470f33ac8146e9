"""What every flavor module provides, and helpers they share.

A flavor module turns one kind of in-memory model into files of MLflow's model format and back.
Each module exposes the same names (see :class:`FlavorModule`)::

    FLAVOR_NAME          key of the flavor in the MLmodel file ("sklearn", "lightgbm", ...)
    LOADER_MODULES       python_function loader modules this flavor can stand in for
    BARE_SUFFIXES        file suffixes of a lone model file this flavor loads (no MLmodel)
    can_save(model)      whether this flavor writes this object
    save(model, path)    write the model files into the folder; return the flavor conf
    pyfunc_conf(conf)    the flavor-specific part of the python_function conf
    conf_from_pyfunc(pf) rebuild a flavor conf from a python_function conf alone
    load(path, conf)     the native model from a model folder
    load_predictor(path, conf, pyfunc_conf)   a :class:`Predictor` over the loaded model
    load_bare(file)      the native model from a lone model file
    wrap(native)         a :class:`Predictor` over a native model
    requirements(conf)   distributions the model needs at inference (pinned by the caller)

The flavor libraries are imported inside functions so that importing the registry stays cheap.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, Protocol

from modelworks.errors import InvalidInputError, MissingDependencyError

__all__ = [
    "FlavorModule",
    "Predictor",
    "add_code_paths",
    "class_path",
    "dump_cloudpickle",
    "library_version",
    "load_serialized",
    "model_file",
]


class Predictor:
    """A loaded model seen through one small interface: ``predict`` and ``predict_proba``.

    ``native`` is the flavor's own model object (what :meth:`LoadedModel.unwrap` returns).
    Subclasses override :meth:`predict`; :meth:`predict_proba` uses the native model's method.
    """

    flavor: str = "unknown"

    def __init__(self, native: Any) -> None:
        self.native = native

    def predict(self, data: Any) -> Any:
        """Predictions of the native model on already-validated input."""
        return self.native.predict(data)

    @property
    def has_predict_proba(self) -> bool:
        """Whether :meth:`predict_proba` can answer."""
        return callable(getattr(self.native, "predict_proba", None))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, when the native model has ``predict_proba``."""
        if not self.has_predict_proba:
            raise InvalidInputError(
                f"This {self.flavor} model ({type(self.native).__name__}) has no predict_proba; "
                "it is not a probabilistic classifier. Call predict instead."
            )
        return self.native.predict_proba(data)


class FlavorModule(Protocol):
    """The names each module of ``modelworks.registry.flavors`` exposes."""

    FLAVOR_NAME: str
    LOADER_MODULES: tuple[str, ...]
    BARE_SUFFIXES: tuple[str, ...]
    SUPPORTED_TYPES: str

    def can_save(self, model: Any) -> bool: ...

    def save(self, model: Any, path: Path, **kwargs: Any) -> dict[str, Any]: ...

    def pyfunc_conf(self, flavor_conf: dict[str, Any]) -> dict[str, Any]: ...

    def conf_from_pyfunc(self, pyfunc_conf: dict[str, Any]) -> dict[str, Any]: ...

    def load(self, path: Path, flavor_conf: dict[str, Any]) -> Any: ...

    def load_predictor(
        self, path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
    ) -> Predictor: ...

    def load_bare(self, file: Path) -> Any: ...

    def wrap(self, native: Any) -> Predictor: ...

    def requirements(self, flavor_conf: dict[str, Any]) -> list[str]: ...


def class_path(obj: Any) -> str:
    """Fully qualified class name, as MLflow writes it in ``model_class``."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def model_file(path: Path, relative: Any, flavor: str) -> Path:
    """The file a flavor conf points at, checked to exist and to stay inside the model folder."""
    if not isinstance(relative, str) or not relative:
        raise InvalidInputError(
            f"The {flavor} flavor in {path / 'MLmodel'} names no model file; expected a relative "
            "path such as 'model.pkl'. Re-save the model."
        )
    root = path.resolve()
    file = (root / relative).resolve()
    if root != file and root not in file.parents:
        raise InvalidInputError(
            f"The {flavor} flavor in {path / 'MLmodel'} points outside the model folder "
            f"({relative!r}); model files must live inside it."
        )
    if not file.exists():
        raise InvalidInputError(
            f"The {flavor} flavor in {path / 'MLmodel'} names {relative!r}, which is not in the "
            "model folder. The folder is incomplete: copy the whole model folder."
        )
    return file


def add_code_paths(path: Path, *confs: dict[str, Any] | None) -> None:
    """Put a model's bundled ``code`` folder on ``sys.path``, as MLflow does before unpickling.

    MLflow models saved with ``code_paths`` carry the modules their pickles refer to; without
    this step those pickles cannot be loaded.
    """
    for conf in confs:
        code = (conf or {}).get("code")
        if isinstance(code, str) and code:
            folder = str((path / code).resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)


def load_serialized(file: Path, serialization_format: str, trusted: list[str] | None) -> Any:
    """Read a pickled, cloudpickled or skops-serialised model file.

    MLflow 3 writes scikit-learn models in the ``skops`` format by default; reading those needs
    the ``skops`` package and the trusted-type list the MLmodel file carries.
    """
    if serialization_format == "skops":
        try:
            import skops.io
        except ImportError as e:
            raise MissingDependencyError(
                f"{file.name} is in the skops format (MLflow 3's default for scikit-learn models) "
                "and the 'skops' package is not installed. Run: pip install skops"
            ) from e
        try:
            return skops.io.load(str(file), trusted=trusted)
        except Exception as e:  # skops raises its own UntrustedTypesFoundException and others
            raise InvalidInputError(
                f"Could not read the skops file {file.name}: {e}. Only the types listed in the "
                "flavor's skops_trusted_types are allowed."
            ) from e
    if serialization_format not in ("pickle", "cloudpickle"):
        raise InvalidInputError(
            f"Unknown serialization_format {serialization_format!r} for {file.name}; expected "
            "'cloudpickle', 'pickle' or 'skops'."
        )
    with open(file, "rb") as f:
        if serialization_format == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(f)
        return pickle.load(f)


def dump_cloudpickle(obj: Any, file: Path) -> None:
    """Write ``obj`` with cloudpickle at Python's default protocol (readable by older Pythons)."""
    import cloudpickle

    with open(file, "wb") as f:
        cloudpickle.dump(obj, f, protocol=pickle.DEFAULT_PROTOCOL)


def library_version(distribution: str) -> str | None:
    """Installed version of a distribution, read from its metadata without importing it."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
