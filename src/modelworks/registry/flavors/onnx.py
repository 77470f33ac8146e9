"""The ONNX flavor: an ``onnx.ModelProto`` (or a ``.onnx`` file) scored with ONNX Runtime.

Written as ``mlflow.onnx`` writes it (``data: model.onnx``, ``onnx_version``, ``providers``).
Scoring runs an ``onnxruntime.InferenceSession`` on the CPU provider. A frame is fed either
column by column to inputs of the same names, or whole to a single 2-D input.
:func:`to_onnx` converts a scikit-learn model with skl2onnx. All of onnx, onnxruntime and skl2onnx
are the optional extra ``modelworks[onnx]``.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError, MissingDependencyError
from modelworks.registry.flavors._base import (
    Predictor,
    library_version,
    model_file,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BARE_SUFFIXES",
    "FLAVOR_NAME",
    "LOADER_MODULES",
    "SUPPORTED_TYPES",
    "OnnxPredictor",
    "can_save",
    "conf_from_pyfunc",
    "load",
    "load_bare",
    "load_predictor",
    "pyfunc_conf",
    "requirements",
    "save",
    "to_onnx",
    "wrap",
]

FLAVOR_NAME = "onnx"
LOADER_MODULES: tuple[str, ...] = ("mlflow.onnx",)
BARE_SUFFIXES: tuple[str, ...] = (".onnx",)
SUPPORTED_TYPES = "onnx.ModelProto or the path of a .onnx file"
MODEL_FILE = "model.onnx"
_EXTRA_HINT = "Install the ONNX extra: pip install 'modelworks[onnx]'"
_LABEL_OUTPUTS = ("label", "output_label")
_SANITISE = re.compile(r"[^A-Za-z0-9_]")
_PROBA_OUTPUTS = ("probabilities", "output_probability")
_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"ONNX models need the {module!r} package. {_EXTRA_HINT}"
        ) from e


def _columns_by_input_name(df: Any) -> dict[str, Any]:
    """Column labels keyed by their own name and by skl2onnx's sanitised form of it.

    skl2onnx names per-column inputs with every character outside ``[A-Za-z0-9_]`` replaced by
    ``_`` ("mean radius" → "mean_radius"), so both spellings must find the column.
    """
    found: dict[str, Any] = {}
    for column in df.columns:
        found.setdefault(_SANITISE.sub("_", str(column)), column)
    for column in df.columns:
        found[str(column)] = column
    return found


class OnnxPredictor(Predictor):
    """Runs an ``onnxruntime.InferenceSession`` (the ``native`` object) on frames or arrays."""

    flavor = FLAVOR_NAME

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.inputs = list(session.get_inputs())
        self.output_names = [o.name for o in session.get_outputs()]

    def _cast(self, values: Any, ort_type: str) -> np.ndarray:
        import numpy as np

        dtype = _ORT_DTYPES.get(ort_type)
        if dtype is None:
            raise InvalidInputError(f"ONNX input type {ort_type} is not supported by modelworks.")
        if dtype == "str":
            return np.asarray(values).astype(str).astype(object)
        return np.asarray(values).astype(dtype)

    def _feeds(self, data: Any) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        names = [i.name for i in self.inputs]
        if isinstance(data, dict):
            missing = [n for n in names if n not in data]
            if missing:
                raise InvalidInputError(f"The ONNX model needs inputs {names}; missing {missing}.")
            return {i.name: self._cast(data[i.name], i.type) for i in self.inputs}
        if isinstance(data, pd.DataFrame):
            columns = _columns_by_input_name(data)
            if (len(self.inputs) > 1 or names[0] in columns) and set(names) <= set(columns):
                feeds = {}
                for i in self.inputs:
                    column = data[columns[i.name]].to_numpy()
                    if len(i.shape) == 2:
                        column = column.reshape(-1, 1)
                    feeds[i.name] = self._cast(column, i.type)
                return feeds
            if len(self.inputs) > 1:
                raise InvalidInputError(
                    f"The ONNX model has inputs {names}; send columns with these names."
                )
            data = data.to_numpy()
        if len(self.inputs) != 1:
            raise InvalidInputError(
                f"The ONNX model has inputs {names}; send a table with these columns or a dict of "
                "arrays keyed by these names."
            )
        (only,) = self.inputs
        array = self._cast(np.asarray(data), only.type)
        width = only.shape[1] if len(only.shape) == 2 else None
        if isinstance(width, int) and array.ndim == 2 and array.shape[1] != width:
            raise InvalidInputError(
                f"The ONNX model's input {only.name!r} takes {width} features per row; got "
                f"{array.shape[1]}."
            )
        return {only.name: array}

    def _run(self, data: Any) -> dict[str, Any]:
        outputs = self.native.run(None, self._feeds(data))
        return dict(zip(self.output_names, outputs, strict=True))

    def predict(self, data: Any) -> Any:
        """The label output of a classifier, the single output of a regressor, else a dict."""
        outputs = self._run(data)
        name = next((n for n in _LABEL_OUTPUTS if n in outputs), None)
        if name is None and len(outputs) == 1:
            name = self.output_names[0]
        if name is None:
            return outputs
        value = outputs[name]
        if getattr(value, "ndim", 0) == 2 and value.shape[1] == 1:
            return value.reshape(-1)
        return value

    @property
    def has_predict_proba(self) -> bool:
        return any(n in self.output_names for n in _PROBA_OUTPUTS)

    def predict_proba(self, data: Any) -> Any:
        """The probability output as a 2-D array (ZipMap's list of dicts is unfolded)."""
        import numpy as np

        name = next((n for n in _PROBA_OUTPUTS if n in self.output_names), None)
        if name is None:
            raise InvalidInputError(
                f"This ONNX model has no probability output (outputs: {self.output_names}). "
                "Call predict instead."
            )
        value = self._run(data)[name]
        if isinstance(value, list):  # ZipMap: one {class: probability} dict per row
            keys = sorted(value[0]) if value else []
            return np.asarray([[row[k] for k in keys] for row in value])
        return value


def can_save(model: Any) -> bool:
    if isinstance(model, (str, Path)):
        return str(model).lower().endswith(".onnx") and Path(model).is_file()
    if "onnx" not in sys.modules:
        return False
    import onnx

    return isinstance(model, onnx.ModelProto)


def save(model: Any, path: Path, **kwargs: Any) -> dict[str, Any]:
    """Write ``model.onnx`` (a ModelProto serialised, or the given file copied) and check it."""
    onnx = _require("onnx")
    target = path / MODEL_FILE
    if isinstance(model, (str, Path)):
        shutil.copyfile(model, target)
    else:
        onnx.save_model(model, str(target))
    try:
        onnx.checker.check_model(str(target))
    except Exception as e:  # onnx raises ValidationError and others from its C++ checker
        raise InvalidInputError(f"The ONNX model is not valid: {e}") from e
    return {
        "onnx_version": library_version("onnx"),
        "data": MODEL_FILE,
        "providers": ["CPUExecutionProvider"],
        "onnx_session_options": None,
        "code": None,
    }


def pyfunc_conf(flavor_conf: dict[str, Any]) -> dict[str, Any]:
    return {"loader_module": "mlflow.onnx", "data": flavor_conf["data"]}


def conf_from_pyfunc(pyfunc_conf: dict[str, Any]) -> dict[str, Any]:
    return {"data": pyfunc_conf.get("data")}


def load(path: Path, flavor_conf: dict[str, Any]) -> Any:
    """The ``onnx.ModelProto`` in the folder (as ``mlflow.onnx.load_model`` returns)."""
    onnx = _require("onnx")
    return onnx.load(str(model_file(path, flavor_conf.get("data"), FLAVOR_NAME)))


def _session(file: Path) -> Any:
    ort = _require("onnxruntime")
    try:
        return ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise InvalidInputError(f"ONNX Runtime cannot load {file.name}: {e}") from e


def load_predictor(
    path: Path, flavor_conf: dict[str, Any], pyfunc_conf: dict[str, Any] | None
) -> Predictor:
    return OnnxPredictor(_session(model_file(path, flavor_conf.get("data"), FLAVOR_NAME)))


def load_bare(file: Path) -> Any:
    """An inference session over a lone ``.onnx`` file."""
    return _session(file)


def wrap(native: Any) -> Predictor:
    """A predictor over an InferenceSession or a ModelProto."""
    if hasattr(native, "SerializeToString"):
        ort = _require("onnxruntime")
        native = ort.InferenceSession(
            native.SerializeToString(), providers=["CPUExecutionProvider"]
        )
    return OnnxPredictor(native)


def requirements(flavor_conf: dict[str, Any]) -> list[str]:
    return ["onnx", "onnxruntime"]


def to_onnx(sklearn_model: Any, sample_df: Any) -> Any:
    """Convert a fitted scikit-learn model to an ``onnx.ModelProto`` with skl2onnx.

    An all-numeric frame becomes one float input ``input`` of shape ``[None, n_columns]``; a frame
    with text columns becomes one ``[None, 1]`` input per column, named like the column (what a
    ColumnTransformer selecting by name needs; skl2onnx replaces characters outside
    ``[A-Za-z0-9_]`` in those names by ``_``, and scoring matches either spelling). Classifiers output ``label`` and a
    ``probabilities`` tensor (no ZipMap).
    """
    import pandas as pd

    skl2onnx = _require("skl2onnx")
    data_types = _require("skl2onnx.common.data_types")
    from sklearn.base import is_classifier

    if not isinstance(sample_df, pd.DataFrame):
        sample_df = pd.DataFrame(sample_df)
    numeric = all(
        pd.api.types.is_numeric_dtype(sample_df[c]) and not pd.api.types.is_bool_dtype(sample_df[c])
        for c in sample_df.columns
    )
    if numeric:
        initial_types = [("input", data_types.FloatTensorType([None, sample_df.shape[1]]))]
    else:
        initial_types = []
        for column in sample_df.columns:
            series = sample_df[column]
            if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
                tensor = data_types.StringTensorType([None, 1])
            elif pd.api.types.is_integer_dtype(series):
                tensor = data_types.Int64TensorType([None, 1])
            else:
                tensor = data_types.FloatTensorType([None, 1])
            initial_types.append((str(column), tensor))
    options = {"zipmap": False} if is_classifier(sklearn_model) else None
    try:
        return skl2onnx.to_onnx(sklearn_model, initial_types=initial_types, options=options)
    except Exception as e:  # skl2onnx raises many types for unsupported estimators
        raise InvalidInputError(
            f"skl2onnx cannot convert {type(sklearn_model).__name__}: {e}"
        ) from e
