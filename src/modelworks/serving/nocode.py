"""No-code scoring of a registered model: request bodies → checked model input → predictions.

Accepted bodies (Azure ML's, MLflow's and plain tables)::

    {"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}   Azure ML
    {"input_data": [[...], ...]}  /  {"input_data": [{"age": 41, ...}, ...]}
    {"dataframe_split": {...}}  {"dataframe_records": [...]}  {"instances": [...]}  {"inputs": ...}
    {"data": [[...]]}  /  [{"age": 41, ...}]  /  {"columns": [...], "data": [[...]]}

plus ``"params": {"probabilities": true}`` (or ``?probabilities=true``) to get class
probabilities next to the predictions. The answer is ``{"predictions": [...]}`` (and
``"probabilities"``, ``"classes"`` when asked).

The model's signature is enforced: a missing or unexpected column, or a value of the wrong
type, is an :class:`InputSchemaError` (422) naming it. Two paths do the same checks:

- the fast path, for all-numeric signatures and models that take a numeric matrix (LightGBM,
  scikit-learn): the rows go straight into one float64 numpy array in signature order, and a
  LightGBM model is asked through its Booster with one thread. No DataFrame is built.
- the general path: :func:`modelworks.registry.signature.to_dataframe` and
  :func:`~modelworks.registry.signature.enforce_signature`, then the model's own ``predict``.

Any body the fast path is unsure about (gaps, text, ragged rows) goes the general path, so
the error messages are the general path's. ``MODELWORKS_NO_FAST_PATH=1`` turns the fast path
off (to compare, or should a model need the DataFrame).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError
from modelworks.serving._errors import InputSchemaError

if TYPE_CHECKING:
    import numpy as np

    from modelworks.registry.pyfunc import LoadedModel

__all__ = ["NoCodeScorer", "Prepared"]

_WRAPPERS = ("input_data", "dataframe_split", "dataframe_records", "instances", "inputs", "data")
_NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
_FORMS = (
    'Send {"input_data": {"columns": [...], "data": [[...]]}}, {"dataframe_split": ...}, '
    '{"dataframe_records": [...]}, {"instances": [...]} or {"inputs": ...}.'
)


@dataclasses.dataclass
class Prepared:
    """One request's input: a checked float64 matrix (fast path), a checked DataFrame, or —
    ``deferred`` — the table as sent, checked and made a DataFrame where it is predicted (in
    the model thread, and for a batch once for all its requests). ``key`` says which deferred
    tables can be joined before that: same form, same columns."""

    value: Any
    rows: int
    fast: bool
    want_proba: bool
    deferred: bool = False
    key: Any = None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class _Fast:
    """Predict and predict_proba on a float64 matrix in signature column order."""

    def __init__(
        self,
        predict: Callable[[Any], Any],
        proba: Callable[[Any], tuple[Any, Any]] | None,
        frame_columns: list[str] | None = None,
    ) -> None:
        self.predict = predict
        self.proba = proba
        self.frame_columns = frame_columns


def _lightgbm_fast(native: Any, width: int) -> _Fast | None:
    import lightgbm as lgb
    import numpy as np

    from modelworks.serving._lgbm import direct_predictor

    if isinstance(native, lgb.Booster):
        booster = native
    elif isinstance(native, lgb.LGBMModel) and not callable(getattr(native, "objective", None)):
        booster = native.booster_
    else:
        return None
    if booster.num_feature() != width:
        return None
    raw: Callable[[Any], Any] = direct_predictor(booster, width) or (
        lambda x: booster.predict(x, num_threads=1)
    )
    if isinstance(native, lgb.Booster) or not hasattr(native, "classes_"):
        return _Fast(raw, None)
    classes = native.classes_

    def proba(x: Any) -> tuple[Any, Any]:
        p: Any = raw(x)
        if p.ndim == 1:
            p = np.column_stack([1.0 - p, p])
        return p, classes

    def predict(x: Any) -> Any:
        # what LGBMClassifier.predict does: argmax of predict_proba; for two classes that
        # is column 1 exactly when p > 1 - p
        p: Any = raw(x)
        if p.ndim == 1:
            return classes[(p > 1.0 - p).astype(np.intp)]
        return classes[np.argmax(p, axis=1)]

    return _Fast(predict, proba)


def _fast_for(model: LoadedModel, columns: list[str]) -> _Fast | None:
    """A fast predictor for the native model, or None when it needs a DataFrame."""
    native = model.unwrap()
    if model.flavor == "lightgbm":
        return _lightgbm_fast(native, len(columns))
    if model.flavor != "sklearn":
        return None
    pyfunc = (model.metadata.get("flavors") or {}).get("python_function") or {}
    if str(pyfunc.get("predict_fn") or "predict") != "predict":
        return None
    if not callable(getattr(native, "predict", None)):
        return None
    frame = columns if hasattr(native, "feature_names_in_") else None
    proba = None
    if callable(getattr(native, "predict_proba", None)):
        classes = getattr(native, "classes_", None)

        def proba(x: Any) -> tuple[Any, Any]:
            return native.predict_proba(x), classes

    return _Fast(native.predict, proba, frame)


def _split(inner: Any) -> tuple[list[Any], list[str] | None] | None:
    """(rows, columns) of a split dict, a list of rows or a list of records; else None."""
    if isinstance(inner, dict):
        data, columns = inner.get("data"), inner.get("columns")
        if not isinstance(data, list) or not set(inner) <= {"data", "columns", "index"}:
            return None
        if columns is None:
            return _split(data)
        if not isinstance(columns, list) or not columns:
            return None
        return data, columns  # names not checked here: see _fast_matrix and prepare
    if isinstance(inner, list) and inner:
        first = inner[0]
        if isinstance(first, list):
            return inner, None
        if isinstance(first, dict):
            return inner, []  # records: [] marks "columns from the keys"
    return None


class NoCodeScorer:
    """Scores one loaded model for the no-code protocols (``/score``, ``/invocations``)."""

    kind = "model"

    def __init__(self, model: LoadedModel, *, name: str = "model", version: str = "1") -> None:
        self.model = model
        self.name = name
        self.version = str(version)
        self.signature = model.signature
        specs = (self.signature or {}).get("inputs") or []
        named = bool(specs) and all(
            s.get("name") is not None and "tensor-spec" not in s for s in specs
        )
        self.columns: list[str] | None = [str(s["name"]) for s in specs] if named else None
        self._column_set = set(self.columns or [])
        self._fast: _Fast | None = None
        numeric = named and all(
            s.get("type") in _NUMERIC and s.get("required", True) for s in specs
        )
        if numeric and self.columns and not os.environ.get("MODELWORKS_NO_FAST_PATH"):
            self._int_cols = [i for i, s in enumerate(specs) if s["type"] in ("long", "integer")]
            self._f32_cols = [i for i, s in enumerate(specs) if s["type"] == "float"]
            try:
                self._fast = _fast_for(model, self.columns)
            except (ImportError, AttributeError):  # a model without the expected attributes
                self._fast = None

    def warm_up(self) -> bool:
        """Score the model's saved request example once, through the path requests take, so
        that lazy imports and first-call set-up happen before the worker reports ready
        rather than in the first request. False when there is no example or it failed."""
        import json

        path = self.model.path / "serving_input_example.json"
        if not path.is_file():
            return False
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            self.predict(self.prepare(payload, want_proba=self.has_proba))
            self.predict(self.prepare(payload, defer=True))
        except Exception as e:  # noqa: BLE001 - a stale example must not stop the worker
            import logging

            logging.getLogger("modelworks.serving").info("Warm-up prediction failed: %s", e)
            return False
        return True

    @property
    def fast_path(self) -> bool:
        """Whether numeric requests skip the DataFrame."""
        return self._fast is not None

    @property
    def has_proba(self) -> bool:
        return self.model.has_predict_proba

    # -- preparing --------------------------------------------------------------------------
    def prepare(self, payload: Any, *, want_proba: bool = False, defer: bool = False) -> Prepared:
        """Check one request body (parsed JSON) against the signature.

        With ``defer``, a body the fast path does not take is only unwrapped here; building
        and checking its DataFrame happens in :meth:`predict` / :meth:`predict_many`, which
        raise the same errors.
        """
        if isinstance(payload, dict) and "params" in payload:
            params = payload.get("params")
            payload = {k: v for k, v in payload.items() if k != "params"}
            if isinstance(params, dict) and _truthy(params.get("probabilities", False)):
                want_proba = True
        if isinstance(payload, dict) and len(payload) == 1:
            key = next(iter(payload))
            if key in _WRAPPERS:
                payload = payload[key]
        if want_proba and not self.has_proba:
            raise InvalidInputError(
                f"Model {self.name}:{self.version} ({self.model.flavor}) has no class "
                "probabilities; it is not a probabilistic classifier. Leave out 'probabilities'."
            )
        if payload is None or payload == [] or payload == {}:
            raise InvalidInputError(f"The request has no rows to score. {_FORMS}")
        if self._fast is not None:
            matrix = self._fast_matrix(payload)
            if matrix is not None:
                return Prepared(matrix, int(matrix.shape[0]), True, want_proba)
        found = _split(payload) if defer else None
        if defer and (found is None or found[0]):
            if found is None:
                return Prepared(payload, 1, False, want_proba, deferred=True)
            rows, columns = found
            if columns and not all(isinstance(c, str) for c in columns):
                return Prepared(payload, 1, False, want_proba, deferred=True)
            key = ("split", tuple(columns)) if columns else ("records" if columns == [] else "rows")
            return Prepared((rows, columns), len(rows), False, want_proba, deferred=True, key=key)
        frame = self._frame(payload)
        return Prepared(frame, len(frame), False, want_proba)

    def _materialise(self, items: Sequence[Prepared]) -> Any:
        """One checked DataFrame of several deferred requests of the same ``key``."""
        first = items[0]
        if first.key is None:
            return self._frame(first.value)
        rows: list[Any] = []
        for item in items:
            rows.extend(item.value[0])
        columns = first.value[1]
        return self._frame({"columns": columns, "data": rows} if columns else rows)

    def _fast_matrix(self, payload: Any) -> np.ndarray | None:
        import numpy as np

        found = _split(payload)
        if found is None:
            return None
        rows, given = found
        names = self.columns or []
        if given == []:  # records
            if not all(isinstance(r, dict) and len(r) == len(names) for r in rows):
                return None
            try:
                rows = [[r[c] for c in names] for r in rows]
            except KeyError:
                return None
            given = None
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            return None
        if matrix.ndim != 2 or matrix.shape[1] != len(names) or matrix.shape[0] == 0:
            return None
        if given is not None and given != names:
            if (
                len(given) != len(names)
                or not all(isinstance(c, str) for c in given)
                or set(given) != self._column_set
            ):
                return None
            matrix = matrix[:, [given.index(c) for c in names]]
        if not np.isfinite(matrix).all():
            return None
        if self._int_cols and (matrix[:, self._int_cols] % 1 != 0).any():
            return None
        if self._f32_cols:
            matrix[:, self._f32_cols] = matrix[:, self._f32_cols].astype(np.float32)
        return matrix

    def _frame(self, payload: Any) -> Any:
        from modelworks.registry.signature import enforce_signature, to_dataframe

        try:
            frame = to_dataframe(payload, self.signature)
        except InvalidInputError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
            raise InvalidInputError(
                f"Cannot read a table from the request body: {str(e).rstrip('.')}. {_FORMS}"
            ) from e
        if self.columns is not None:
            extra = [str(c) for c in frame.columns if str(c) not in self._column_set]
            missing = [
                s["name"]
                for s in (self.signature or {}).get("inputs") or []
                if s.get("required", True) and s["name"] not in {str(c) for c in frame.columns}
            ]
            if extra or missing:
                parts = []
                if missing:
                    parts.append(f"missing required column(s) {', '.join(map(repr, missing))}")
                if extra:
                    parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
                raise InputSchemaError(
                    f"The input has {' and '.join(parts)}. Expected columns: "
                    f"{', '.join(self.columns)}.",
                    missing=missing,
                    unexpected=extra,
                    expected=self.columns,
                )
        if len(frame) == 0:
            raise InvalidInputError(f"The request has no rows to score. {_FORMS}")
        if self.signature is None:
            return frame
        try:
            return enforce_signature(frame, self.signature)
        except InputSchemaError:
            raise
        except InvalidInputError as e:
            raise InputSchemaError(e.message, **e.details) from e
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
            raise InputSchemaError(
                f"The input does not match the model's signature ({e}). Expected columns: "
                f"{', '.join(self.columns or [])}."
            ) from e

    # -- predicting -------------------------------------------------------------------------
    def _predict_value(self, value: Any, fast: bool, want_proba: bool) -> dict[str, Any]:
        if fast:
            assert self._fast is not None
            if self._fast.frame_columns is not None:
                import pandas as pd

                value = pd.DataFrame(value, columns=self._fast.frame_columns, copy=False)
            predictions = self._fast.predict(value)
            if want_proba and self._fast.proba is not None:
                proba, classes = self._fast.proba(value)
                return _result(predictions, proba, classes)
            return {"predictions": predictions}
        predictions = self.model.predict(value)
        if not want_proba:
            return {"predictions": predictions}
        proba = self.model.predict_proba(value)
        return _result(predictions, proba, getattr(self.model.unwrap(), "classes_", None))

    def predict(self, prepared: Prepared) -> dict[str, Any]:
        """The answer for one prepared request."""
        value = self._materialise([prepared]) if prepared.deferred else prepared.value
        return self._predict_value(value, prepared.fast, prepared.want_proba)

    def predict_many(self, batch: Sequence[Prepared]) -> list[dict[str, Any]]:
        """Answers for several prepared requests, predicted together where they allow it:
        one call for the fast-path ones, one per form and columns for deferred tables (one
        DataFrame built for all of them), one for the other DataFrames."""
        if len(batch) == 1:
            return [self.predict(batch[0])]
        groups: dict[Any, list[Prepared]] = {}
        for p in batch:
            if p.fast:
                key: Any = "fast"
            elif p.deferred and p.key is not None:
                key = p.key
            else:
                key = "frames"
            groups.setdefault(key, []).append(p)
        answers: dict[int, dict[str, Any]] = {}
        for key, group in groups.items():
            want = any(p.want_proba for p in group)
            sizes = [p.rows for p in group]
            if key == "fast":
                import numpy as np

                joined: Any = np.concatenate([p.value for p in group])
            elif key == "frames":
                import pandas as pd

                frames = [self._materialise([p]) if p.deferred else p.value for p in group]
                sizes = [len(f) for f in frames]
                joined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            else:
                joined = self._materialise(group)
            result = self._predict_value(joined, key == "fast", want)
            start = 0
            for item, size in zip(group, sizes, strict=True):
                end = start + size
                part: dict[str, Any] = {"predictions": _rows(result["predictions"], start, end)}
                if item.want_proba:
                    part["probabilities"] = _rows(result["probabilities"], start, end)
                    part["classes"] = result.get("classes")
                answers[id(item)] = part
                start = end
        return [answers[id(p)] for p in batch]


def _rows(values: Any, start: int, end: int) -> Any:
    if hasattr(values, "iloc"):
        return values.iloc[start:end]
    return values[start:end]


def _result(predictions: Any, proba: Any, classes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"predictions": predictions, "probabilities": proba}
    if classes is not None:
        out["classes"] = classes
    return out
