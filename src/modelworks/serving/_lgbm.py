"""LightGBM predictions through its C API directly, for the no-code fast path.

``Booster.predict`` spends about 20 µs of Python per call before LightGBM's C code runs: it
builds a new predictor object, deep-copies and re-serialises the parameters, checks and
converts the array. For one row of a 200-tree model that is more than the prediction itself,
and an endpoint pays it on every request. :class:`DirectPredictor` makes the same C calls
``Booster.predict`` makes, with everything that does not change between calls prepared once:
one row goes through ``LGBM_BoosterPredictForMatSingleRowFast`` (its configuration kept per
thread, as LightGBM requires), several rows through ``LGBM_BoosterPredictForMat``, one thread.

It relies on ``lightgbm.basic._LIB`` (the loaded library, not public API), so
:func:`direct_predictor` only returns one after checking that it answers exactly what
``Booster.predict`` answers on sample rows; anything unexpected returns None and the caller
keeps ``Booster.predict``.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

__all__ = ["DirectPredictor", "direct_predictor"]

log = logging.getLogger("modelworks.serving")

_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_ROW_MAJOR = 1
_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL
_PARAMS = b"num_threads=1"


class DirectPredictor:
    """``booster.predict(x, num_threads=1)`` for a float64 matrix ``x`` of ``width`` columns."""

    def __init__(self, booster: Any, width: int) -> None:
        from lightgbm.basic import _LIB

        self._lib = _LIB
        self._booster = booster  # keeps the handle alive
        self._handle = booster._handle
        self.width = width
        best = int(getattr(booster, "best_iteration", -1) or -1)
        self._num_iteration = best if best > 0 else -1
        count = ctypes.c_int64(0)
        self._check(
            _LIB.LGBM_BoosterCalcNumPredict(
                self._handle,
                ctypes.c_int(1),
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(self._num_iteration),
                ctypes.byref(count),
            )
        )
        self.per_row = int(count.value)
        self._local = threading.local()
        self._configs: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()

    def _check(self, code: int) -> None:
        if code != 0:
            from lightgbm.basic import LightGBMError

            raise LightGBMError(self._lib.LGBM_GetLastError().decode("utf-8", "replace"))

    def _fast_config(self) -> ctypes.c_void_p:
        config = getattr(self._local, "config", None)
        if config is None:
            config = ctypes.c_void_p()
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self._handle,
                    ctypes.c_int(_PREDICT_NORMAL),
                    ctypes.c_int(0),
                    ctypes.c_int(self._num_iteration),
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(self.width),
                    ctypes.c_char_p(_PARAMS),
                    ctypes.byref(config),
                )
            )
            self._local.config = config
            with self._lock:
                self._configs.append(config)
        return config

    def __call__(self, x: Any) -> Any:
        import numpy as np

        if x.dtype != np.float64 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float64)
        rows = int(x.shape[0])
        out = np.empty(rows * self.per_row, dtype=np.float64)
        written = ctypes.c_int64(0)
        if rows == 1:
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    self._fast_config(),
                    ctypes.c_void_p(x.ctypes.data),
                    ctypes.byref(written),
                    ctypes.c_void_p(out.ctypes.data),
                )
            )
        else:
            self._check(
                self._lib.LGBM_BoosterPredictForMat(
                    self._handle,
                    ctypes.c_void_p(x.ctypes.data),
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(rows),
                    ctypes.c_int32(self.width),
                    ctypes.c_int(_ROW_MAJOR),
                    ctypes.c_int(_PREDICT_NORMAL),
                    ctypes.c_int(0),
                    ctypes.c_int(self._num_iteration),
                    ctypes.c_char_p(_PARAMS),
                    ctypes.byref(written),
                    ctypes.c_void_p(out.ctypes.data),
                )
            )
        if written.value != out.size:
            from lightgbm.basic import LightGBMError

            raise LightGBMError(f"LightGBM wrote {written.value} predictions, not {out.size}.")
        return out if self.per_row == 1 else out.reshape(rows, self.per_row)

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        for config in getattr(self, "_configs", []):
            if lib is not None:
                lib.LGBM_FastConfigFree(config)


def direct_predictor(booster: Any, width: int) -> DirectPredictor | None:
    """A :class:`DirectPredictor` that answers exactly as ``booster.predict`` on sample
    rows, or None (LightGBM internals not as expected, or a model it does not fit)."""
    try:
        import numpy as np

        predictor = DirectPredictor(booster, width)
        samples = np.random.default_rng(0).normal(size=(7, width)) * 3
        for rows in (samples[:1], samples):
            expected = booster.predict(rows, num_threads=1)
            if not np.array_equal(predictor(rows), expected):
                log.info("LightGBM direct predictions differ from Booster.predict; not used.")
                return None
        return predictor
    except Exception as e:  # noqa: BLE001 - any surprise: keep Booster.predict
        log.info("LightGBM direct predictions unavailable (%s); using Booster.predict.", e)
        return None
