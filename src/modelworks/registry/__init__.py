"""The model registry's model format: save an in-memory model as a folder and load it back.

Folders use MLflow's model format (an ``MLmodel`` file plus flavor files), so MLflow model folders
load here as they are and MLflow loads the scikit-learn, LightGBM, XGBoost and ONNX models written
here. Importing this package is cheap: the ML libraries are imported when a model is saved or
loaded.
"""

from __future__ import annotations

from modelworks.registry._save import ModelInfo, save_model
from modelworks.registry.flavors.python_model import PythonModel
from modelworks.registry.pyfunc import LoadedModel, load_model
from modelworks.registry.signature import infer_signature

__all__ = [
    "LoadedModel",
    "ModelInfo",
    "PythonModel",
    "infer_signature",
    "load_model",
    "save_model",
]
