"""The LightGBM flavor: a ``Booster`` as ``model.lgb`` text, a scikit-learn wrapper pickled.

Written as ``mlflow.lightgbm`` writes it (``data``, ``model_class``, ``lgb_version``,
``serialization_format``), so ``mlflow.lightgbm.load_model`` reads our folders and we read theirs,
including MLflow 3's ``skops`` files for ``LGBMClassifier``/``LGBMRegressor``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from modelworks.registry.flavors._base import (
    Predictor,
    add_code_paths,
    class_path,
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
    "LightGBMPredictor",
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

FLAVOR_NAME = "lightgbm"
LOADER_MODULES: tuple[str, ...] = ("mlflow.lightgbm",)
BARE_SUFFIXES: tuple[str, ...] = (".lgb",)
SUPPORTED_TYPES = "lightgbm.Booster, lightgbm.LGBMModel (LGBMClassifier, LGBMRegressor, ...)"
BOOSTER_CLASS = "lightgbm.basic.Booster"


class LightGBMPredictor(Predictor):
    """``predict`` of a Booster (raw scores/probabilities) or of a scikit-learn wrapper."""

    flavor = FLAVOR_NAME


def can_save(model: Any) -> bool:
    if "lightgbm" not in sys.modules:
        return False
    import lightgbm as lgb

    return isinstance(model, (lgb.Booster, lgb.LGBMModel))


def save(model: Any, path: Path, **kwargs: Any) -> dict[str, Any]:
    """Booster → ``model.lgb`` (LightGBM's text format); a wrapper → cloudpickled ``model.pkl``."""
    import lightgbm as lgb

    conf: dict[str, Any] = {
        "lgb_version": library_version("lightgbm"),
        "model_class": class_path(model),
        "code": None,
    }
    if isinstance(model, lgb.Booster):
        model.save_model(str(path / "model.lgb"))
        conf["data"] = "model.lgb"
    else:
        dump_cloudpickle(model, path / "model.pkl")
        conf["data"] = "model.pkl"
        conf["serialization_format"] = "cloudpickle"
    return conf


def pyfunc_conf(flavor_conf: dict[str, Any]) -> dict[str, Any]:
    return {"loader_module": "mlflow.lightgbm", "data": flavor_conf["data"]}


def conf_from_pyfunc(pyfunc_conf: dict[str, Any]) -> dict[str, Any]:
    data = str(pyfunc_conf.get("data") or "")
    if data.endswith((".pkl", ".pickle")):
        return {"data": data, "model_class": "lightgbm.sklearn.LGBMModel"}
    return {"data": data, "model_class": BOOSTER_CLASS}


def load(path: Path, flavor_conf: dict[str, Any]) -> Any:
    add_code_paths(path, flavor_conf)
    file = model_file(path, flavor_conf.get("data"), FLAVOR_NAME)
    if flavor_conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        return load_bare(file)
    return load_serialized(
        file,
        str(flavor_conf.get("serialization_format") or "cloudpickle"),
        flavor_conf.get("skops_trusted_types"),
    )


def load_predictor(
    path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
) -> Predictor:
    return LightGBMPredictor(load(path, flavor_conf))


def load_bare(file: Path) -> Any:
    """A LightGBM text model file."""
    import lightgbm as lgb

    return lgb.Booster(model_file=str(file))


def wrap(native: Any) -> Predictor:
    return LightGBMPredictor(native)


def requirements(flavor_conf: dict[str, Any]) -> list[str]:
    if flavor_conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        return ["lightgbm"]
    return ["lightgbm", "scikit-learn", "cloudpickle"]
