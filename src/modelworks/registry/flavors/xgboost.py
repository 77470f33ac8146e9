"""The XGBoost flavor: a ``Booster`` or ``XGBModel`` in XGBoost's own format (``model.ubj``).

Written as ``mlflow.xgboost`` writes it (``data``, ``model_class``, ``model_format``,
``xgb_version``): loading instantiates ``model_class`` and calls its ``load_model``. Only classes
of the ``xgboost`` package are instantiated, whatever the MLmodel file says.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError
from modelworks.registry.flavors._base import (
    Predictor,
    add_code_paths,
    class_path,
    library_version,
    model_file,
)

__all__ = [
    "BARE_SUFFIXES",
    "FLAVOR_NAME",
    "LOADER_MODULES",
    "SUPPORTED_TYPES",
    "XGBoostPredictor",
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

FLAVOR_NAME = "xgboost"
LOADER_MODULES: tuple[str, ...] = ("mlflow.xgboost",)
BARE_SUFFIXES: tuple[str, ...] = (".ubj", ".xgb")
SUPPORTED_TYPES = "xgboost.Booster, xgboost.XGBModel (XGBClassifier, XGBRegressor, ...)"
BOOSTER_CLASS = "xgboost.core.Booster"
MODEL_FORMATS = ("ubj", "json", "xgb")


class XGBoostPredictor(Predictor):
    """A Booster predicts on a DMatrix built from the frame; an XGBModel on the frame itself."""

    flavor = FLAVOR_NAME

    def predict(self, data: Any) -> Any:
        import xgboost as xgb

        if isinstance(self.native, xgb.Booster):
            return self.native.predict(xgb.DMatrix(data))
        return self.native.predict(data)


def can_save(model: Any) -> bool:
    if "xgboost" not in sys.modules:
        return False
    import xgboost as xgb

    return isinstance(model, (xgb.Booster, xgb.XGBModel))


def save(model: Any, path: Path, *, model_format: str = "ubj", **kwargs: Any) -> dict[str, Any]:
    """Write ``model.<model_format>`` with XGBoost's ``save_model``; return the flavor conf."""
    if model_format not in MODEL_FORMATS:
        raise InvalidInputError(
            f"model_format must be one of {', '.join(MODEL_FORMATS)}; got {model_format!r}."
        )
    data = f"model.{model_format}"
    model.save_model(str(path / data))
    return {
        "xgb_version": library_version("xgboost"),
        "data": data,
        "model_class": class_path(model),
        "model_format": model_format,
        "code": None,
    }


def pyfunc_conf(flavor_conf: dict[str, Any]) -> dict[str, Any]:
    return {"loader_module": "mlflow.xgboost", "data": flavor_conf["data"]}


def conf_from_pyfunc(pyfunc_conf: dict[str, Any]) -> dict[str, Any]:
    return {"data": pyfunc_conf.get("data"), "model_class": BOOSTER_CLASS}


def _model_class(name: Any) -> Any:
    """The xgboost class ``name`` names; anything outside the xgboost package is refused."""
    import xgboost as xgb

    module_name, _, attr = str(name).rpartition(".")
    if module_name != "xgboost" and not module_name.startswith("xgboost."):
        raise InvalidInputError(
            f"The xgboost flavor's model_class must be a class of the xgboost package; got "
            f"{name!r}."
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise InvalidInputError(
            f"The xgboost flavor's model_class {name!r} does not exist in the installed xgboost "
            f"{xgb.__version__}. Install the xgboost version the model was saved with."
        ) from e
    if not (isinstance(cls, type) and issubclass(cls, (xgb.Booster, xgb.XGBModel))):
        raise InvalidInputError(
            f"The xgboost flavor's model_class {name!r} is not an XGBoost model class."
        )
    return cls


def load(path: Path, flavor_conf: dict[str, Any]) -> Any:
    add_code_paths(path, flavor_conf)
    file = model_file(path, flavor_conf.get("data"), FLAVOR_NAME)
    model = _model_class(flavor_conf.get("model_class") or BOOSTER_CLASS)()
    model.load_model(str(file))
    return model


def load_predictor(
    path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
) -> Predictor:
    return XGBoostPredictor(load(path, flavor_conf))


def load_bare(file: Path) -> Any:
    """A lone XGBoost model file, read as a Booster."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(file))
    return booster


def wrap(native: Any) -> Predictor:
    return XGBoostPredictor(native)


def requirements(flavor_conf: dict[str, Any]) -> list[str]:
    if flavor_conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        return ["xgboost"]
    return ["xgboost", "scikit-learn"]
