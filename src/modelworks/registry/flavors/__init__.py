"""The flavors modelworks writes and reads, and how one is chosen.

Each flavor is a module with the interface described in :mod:`._base`. Detection by type tries
them in :data:`SAVE_ORDER`: LightGBM and XGBoost before scikit-learn, since their scikit-learn
wrappers are scikit-learn estimators too.
"""

from __future__ import annotations

from typing import Any

from modelworks.errors import InvalidInputError
from modelworks.registry.flavors import lightgbm, onnx, python_model, sklearn, xgboost
from modelworks.registry.flavors._base import FlavorModule, Predictor

__all__ = [
    "NATIVE_FLAVORS",
    "SAVE_ORDER",
    "FlavorModule",
    "Predictor",
    "detect_flavor",
    "flavor_for_loader",
    "flavor_for_suffix",
    "get_flavor",
    "supported_types",
]

SAVE_ORDER: tuple[FlavorModule, ...] = (python_model, lightgbm, xgboost, onnx, sklearn)
NATIVE_FLAVORS: dict[str, FlavorModule] = {
    m.FLAVOR_NAME: m for m in (sklearn, lightgbm, xgboost, onnx)
}
_BY_NAME: dict[str, FlavorModule] = {
    **NATIVE_FLAVORS,
    "python_model": python_model,
    "python_function": python_model,
    "pyfunc": python_model,
}


def supported_types() -> str:
    """One line per flavor naming the model types it saves (for error messages)."""
    return "; ".join(f"{m.SUPPORTED_TYPES} ({_name(m)})" for m in SAVE_ORDER)


def _name(module: FlavorModule) -> str:
    return "python_model" if module is python_model else module.FLAVOR_NAME


def get_flavor(name: str) -> FlavorModule:
    """The flavor module called ``name`` (``sklearn``, ``lightgbm``, ``xgboost``, ``onnx``, ...)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted({_name(m) for m in SAVE_ORDER}))
        raise InvalidInputError(f"Unknown flavor {name!r}; modelworks writes {known}.") from None


def detect_flavor(model: Any) -> FlavorModule | None:
    """The first flavor that can save ``model``, or None."""
    return next((m for m in SAVE_ORDER if m.can_save(model)), None)


def flavor_for_loader(loader_module: Any) -> FlavorModule | None:
    """The flavor standing in for an MLmodel python_function ``loader_module``, or None."""
    return next((m for m in SAVE_ORDER if loader_module in m.LOADER_MODULES), None)


def flavor_for_suffix(suffix: str) -> FlavorModule | None:
    """The flavor that reads a lone model file with this suffix (``.pkl``, ``.onnx``, ...)."""
    return next((m for m in SAVE_ORDER if suffix.lower() in m.BARE_SUFFIXES), None)
