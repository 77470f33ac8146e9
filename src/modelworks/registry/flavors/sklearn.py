"""The scikit-learn flavor: any estimator or Pipeline, cloudpickled to ``model.pkl``.

The flavor conf matches ``mlflow.sklearn`` (``pickled_model``, ``sklearn_version``,
``serialization_format``, ``code``) and the python_function loader is ``mlflow.sklearn``, so MLflow
loads what we write. Reading also accepts MLflow's ``pickle`` and ``skops`` formats (``skops`` is
MLflow 3's default).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError
from modelworks.registry.flavors._base import (
    Predictor,
    add_code_paths,
    dump_cloudpickle,
    library_version,
    load_serialized,
    model_file,
)

__all__ = [
    "BARE_SUFFIXES",
    "FLAVOR_NAME",
    "LOADER_MODULES",
    "SUPPORTED_TYPES",
    "SklearnPredictor",
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

FLAVOR_NAME = "sklearn"
LOADER_MODULES: tuple[str, ...] = ("mlflow.sklearn",)
BARE_SUFFIXES: tuple[str, ...] = (".pkl", ".pickle", ".joblib")
SUPPORTED_TYPES = "scikit-learn estimators and Pipelines (sklearn.base.BaseEstimator)"
MODEL_FILE = "model.pkl"


class SklearnPredictor(Predictor):
    """Calls the estimator's ``predict`` (or the ``predict_fn`` the MLmodel names)."""

    flavor = FLAVOR_NAME

    def __init__(self, native: Any, predict_fn: str = "predict") -> None:
        super().__init__(native)
        if not callable(getattr(native, predict_fn, None)):
            raise InvalidInputError(
                f"The model ({type(native).__name__}) has no method {predict_fn!r}, which its "
                "MLmodel names as predict_fn. Re-save it with a predict_fn it has."
            )
        self.predict_fn = predict_fn

    def predict(self, data: Any) -> Any:
        return getattr(self.native, self.predict_fn)(data)


def can_save(model: Any) -> bool:
    """True for scikit-learn estimators (without importing scikit-learn if it is not loaded)."""
    if "sklearn" not in sys.modules:
        return False
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def save(model: Any, path: Path, **kwargs: Any) -> dict[str, Any]:
    """Cloudpickle the estimator into ``path/model.pkl``; return the sklearn flavor conf."""
    dump_cloudpickle(model, path / MODEL_FILE)
    return {
        "pickled_model": MODEL_FILE,
        "sklearn_version": library_version("scikit-learn"),
        "serialization_format": "cloudpickle",
        "code": None,
    }


def pyfunc_conf(flavor_conf: dict[str, Any]) -> dict[str, Any]:
    """The python_function entries MLflow's sklearn loader reads."""
    return {
        "loader_module": "mlflow.sklearn",
        "model_path": flavor_conf["pickled_model"],
        "predict_fn": "predict",
    }


def conf_from_pyfunc(pyfunc_conf: dict[str, Any]) -> dict[str, Any]:
    """A flavor conf for an MLmodel that only has python_function with ``mlflow.sklearn``."""
    return {
        "pickled_model": pyfunc_conf.get("model_path") or pyfunc_conf.get("data"),
        "serialization_format": "pickle",
        "code": pyfunc_conf.get("code"),
    }


def load(path: Path, flavor_conf: dict[str, Any]) -> Any:
    """The estimator stored in the model folder ``path``."""
    add_code_paths(path, flavor_conf)
    file = model_file(path, flavor_conf.get("pickled_model"), FLAVOR_NAME)
    return load_serialized(
        file,
        str(flavor_conf.get("serialization_format") or "pickle"),
        flavor_conf.get("skops_trusted_types"),
    )


def load_predictor(
    path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
) -> Predictor:
    """A predictor honouring the python_function ``predict_fn`` (e.g. ``predict_proba``)."""
    predict_fn = str((pyfunc_conf or {}).get("predict_fn") or "predict")
    return SklearnPredictor(load(path, flavor_conf), predict_fn)


def load_bare(file: Path) -> Any:
    """A lone pickle or joblib file (Azure ML custom_model folders)."""
    import joblib

    return joblib.load(file)


def wrap(native: Any) -> Predictor:
    return SklearnPredictor(native)


def requirements(flavor_conf: dict[str, Any]) -> list[str]:
    reqs = ["scikit-learn", "cloudpickle"]
    if flavor_conf.get("serialization_format") == "skops":
        reqs.append("skops")
    return reqs
