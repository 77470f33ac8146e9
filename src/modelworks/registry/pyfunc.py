"""Loading a model folder into one scoring interface, :class:`LoadedModel`.

:func:`load_model` reads the MLmodel file and picks the first flavor modelworks knows: a native
flavor (sklearn, lightgbm, xgboost, onnx) first, else the ``python_function`` flavor when its
``loader_module`` is ours or one of MLflow's for those libraries. Any other ``loader_module`` is
handed to ``mlflow.pyfunc.load_model`` when MLflow is installed. A folder without MLmodel holding
a single model file (``.pkl``, ``.joblib``, ``.onnx``, ``.lgb``, ``.ubj``, ``.xgb``), as Azure ML
``custom_model`` folders do, loads too.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError, MissingDependencyError, NotFoundError
from modelworks.registry._examples import read_input_example
from modelworks.registry._payloads import to_model_input
from modelworks.registry.flavors import (
    NATIVE_FLAVORS,
    SAVE_ORDER,
    FlavorModule,
    Predictor,
    detect_flavor,
    flavor_for_loader,
    flavor_for_suffix,
)
from modelworks.registry.flavors import sklearn as sklearn_flavor
from modelworks.registry.mlmodel import MLMODEL_FILE, read_mlmodel
from modelworks.registry.schema import signature_from_mlmodel

__all__ = ["LoadedModel", "load_model"]

_BARE_SUFFIXES = tuple(s for m in SAVE_ORDER for s in m.BARE_SUFFIXES)
_NESTED_DEPTH = 3


class LoadedModel:
    """A loaded model: ``predict`` on any accepted payload, plus what the folder says about it.

    ``predict`` turns the payload into a table (see :func:`modelworks.registry.signature.
    to_dataframe`), enforces the signature, and returns what the flavor returns (a numpy array
    for scikit-learn, LightGBM and XGBoost; whatever a PythonModel returns).
    """

    def __init__(
        self,
        *,
        path: Path,
        predictor: Predictor,
        flavor: str,
        metadata: dict[str, Any],
    ) -> None:
        self._path = path
        self._predictor = predictor
        self._flavor = flavor
        self._metadata = metadata
        self._signature = signature_from_mlmodel(metadata.get("signature"))

    @property
    def path(self) -> Path:
        """The model folder (or the lone model file) this was loaded from."""
        return self._path

    @property
    def flavor(self) -> str:
        """The flavor used to load the model."""
        return self._flavor

    @property
    def flavors(self) -> list[str]:
        """All flavors the MLmodel file lists."""
        return list(self._metadata.get("flavors") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        """The parsed MLmodel file."""
        return self._metadata

    @property
    def signature(self) -> dict[str, Any] | None:
        """``{"inputs": [...], "outputs": [...] | None}``, or None when the model has none."""
        return self._signature

    @functools.cached_property
    def input_example(self) -> Any:
        """The saved input example (a DataFrame; an array for array examples), or None."""
        if not self._path.is_dir():
            return None
        return read_input_example(self._path, self._metadata.get("saved_input_example_info"))

    @property
    def has_predict_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""
        return self._predictor.has_predict_proba

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (a DataFrame, records, split payload, ...)."""
        return self._predictor.predict(to_model_input(data, self._signature))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, when the native model has ``predict_proba``."""
        return self._predictor.predict_proba(to_model_input(data, self._signature))

    def unwrap(self) -> Any:
        """The native model (an estimator, Booster, InferenceSession, PythonModel, ...)."""
        return self._predictor.native

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self._flavor!r}, path={str(self._path)!r})"


class _MlflowPredictor(Predictor):
    """A model loaded by ``mlflow.pyfunc.load_model`` (loader modules modelworks lacks)."""

    flavor = "python_function"

    def predict(self, data: Any) -> Any:
        return self.native.predict(data)

    @property
    def has_predict_proba(self) -> bool:
        return False


def _guard_imports(what: Path, load: Any) -> Predictor:
    """Run ``load()``, turning a missing module (common when unpickling) into a clear error."""
    try:
        result: Predictor = load()
    except ModuleNotFoundError as e:
        raise MissingDependencyError(
            f"Loading {what} needs the Python module {e.name!r}, which is not installed. Install "
            "the packages in the model's requirements.txt."
        ) from e
    return result


def _loadable() -> str:
    loaders = sorted({lm for m in SAVE_ORDER for lm in m.LOADER_MODULES})
    return (
        f"modelworks loads the flavors {', '.join(NATIVE_FLAVORS)} and python_function models "
        f"whose loader_module is one of {', '.join(loaders)}"
    )


def _from_folder(folder: Path) -> LoadedModel:
    meta = read_mlmodel(folder)
    flavors: dict[str, Any] = meta["flavors"]
    pyfunc = flavors.get("python_function")
    pyfunc = pyfunc if isinstance(pyfunc, dict) else None
    for name, conf in flavors.items():
        native = NATIVE_FLAVORS.get(name)
        if native is not None:
            predictor = _guard_imports(
                folder, lambda n=native, c=conf: n.load_predictor(folder, c or {}, pyfunc)
            )
            return LoadedModel(path=folder, predictor=predictor, flavor=name, metadata=meta)
    loader = pyfunc.get("loader_module") if pyfunc else None
    module = flavor_for_loader(loader)
    if module is not None and pyfunc is not None:
        conf = module.conf_from_pyfunc(pyfunc)
        predictor = _guard_imports(folder, lambda: module.load_predictor(folder, conf, pyfunc))
        return LoadedModel(
            path=folder, predictor=predictor, flavor=module.FLAVOR_NAME, metadata=meta
        )
    found = ", ".join(flavors) or "none"
    if loader is not None and importlib.util.find_spec("mlflow") is not None:
        mlflow_pyfunc = importlib.import_module("mlflow.pyfunc")
        native_model = _guard_imports(
            folder, lambda: _MlflowPredictor(mlflow_pyfunc.load_model(str(folder)))
        )
        return LoadedModel(
            path=folder, predictor=native_model, flavor="python_function", metadata=meta
        )
    if loader is not None:
        raise MissingDependencyError(
            f"The model at {folder} has flavors {found}; its python_function loader_module is "
            f"{loader!r}. {_loadable()}. Install mlflow (pip install mlflow) so modelworks can "
            "load it through mlflow.pyfunc.load_model."
        )
    raise InvalidInputError(
        f"The model at {folder} has flavors {found}, none of which modelworks can load. "
        f"{_loadable()}."
    )


def _from_file(file: Path) -> LoadedModel:
    module = flavor_for_suffix(file.suffix)
    if module is None:
        raise InvalidInputError(
            f"{file.name} is not a model file modelworks reads; expected one of "
            f"{', '.join(_BARE_SUFFIXES)} or a folder with an MLmodel file."
        )

    reader: FlavorModule = module

    def load() -> Predictor:
        native = reader.load_bare(file)
        if reader is not sklearn_flavor:
            return reader.wrap(native)
        detected = detect_flavor(native)
        if detected is not None:
            return detected.wrap(native)
        if callable(getattr(native, "predict", None)):
            return sklearn_flavor.wrap(native)
        raise InvalidInputError(
            f"{file.name} holds a {type(native).__name__}, which has no predict method."
        )

    predictor = _guard_imports(file, load)
    flavor = predictor.flavor
    metadata: dict[str, Any] = {"flavors": {flavor: {"data": file.name}}, "source_file": str(file)}
    return LoadedModel(path=file, predictor=predictor, flavor=flavor, metadata=metadata)


def _visible_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_model(path: str | Path) -> LoadedModel:
    """Load the model folder (or lone model file) at ``path``.

    Raises :class:`NotFoundError` when nothing loadable is there, :class:`InvalidInputError`
    when the folder is ambiguous or its flavors are unknown, :class:`MissingDependencyError`
    when a library the model needs is not installed.
    """
    location = Path(path).expanduser()
    if not location.exists():
        raise NotFoundError(f"No model at {location}: the path does not exist.")
    if location.is_file():
        if location.name == MLMODEL_FILE:
            return _from_folder(location.parent)
        return _from_file(location)
    if (location / MLMODEL_FILE).is_file():
        return _from_folder(location)
    files = _visible_files(location)
    nested = [
        f.parent
        for f in files
        if f.name == MLMODEL_FILE and len(f.relative_to(location).parts) <= _NESTED_DEPTH
    ]
    if len(nested) == 1:
        return _from_folder(nested[0])
    if len(nested) > 1:
        listed = ", ".join(str(p.relative_to(location)) for p in nested)
        raise InvalidInputError(
            f"{location} holds several MLflow models ({listed}); load one of these folders."
        )
    candidates = [f for f in files if f.suffix.lower() in _BARE_SUFFIXES]
    if len(candidates) == 1:
        return _from_file(candidates[0])
    if len(candidates) > 1:
        listed = ", ".join(str(p.relative_to(location)) for p in candidates)
        raise InvalidInputError(
            f"{location} has no MLmodel file and several model files ({listed}); it is "
            "ambiguous which one to load. Pass the path of one file."
        )
    shown = ", ".join(str(p.relative_to(location)) for p in files[:10]) or "nothing"
    raise NotFoundError(
        f"{location} has no MLmodel file and no model file ({', '.join(_BARE_SUFFIXES)}); it "
        f"holds {shown}. Save the model with modelworks.registry.save_model."
    )
