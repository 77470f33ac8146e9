"""Autologging for scikit-learn and LightGBM: ``mw.autolog()``.

After :func:`autolog`, every scikit-learn estimator fit (``fit``, ``fit_transform``,
``fit_predict``) and every LightGBM training (``lightgbm.train`` and the ``LGBMModel``
scikit-learn API) logs its params, training metrics and model to the active run, or to a run it
starts and ends itself when none is active. The semantics follow MLflow's sklearn and lightgbm
autologging:

- Only the outermost fit logs. Fits nested inside a Pipeline, a meta-estimator, a search or an
  ``LGBMClassifier.fit`` that calls ``lightgbm.train`` run unlogged. The depth is a ContextVar,
  so concurrent fits in different threads or asyncio tasks each log; fits that joblib runs in
  its thread pool while an outer fit is in progress count as nested.
- The wrappers never break the user's code: an error raised while logging becomes an
  :class:`AutologWarning` and the fit's result is returned unchanged; an error raised by the
  fit itself propagates unchanged (a run autolog started is then ended as Failed).
- Like MLflow, standalone fits of data-preparation classes (``sklearn.preprocessing``,
  ``impute``, ``feature_extraction``, ``feature_selection``, ``ColumnTransformer``) are not
  logged; inside a Pipeline they are part of the Pipeline's params.
- ``autolog(disable=True)`` puts every original method back.

Patches are class and module attributes, so the switch is process-wide: what is patched and the
options live in the one :class:`_Autologger` below, not in the fluent run state.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import functools
import inspect
import logging
import math
import os
import re
import threading
import warnings
from collections.abc import Callable
from numbers import Number
from types import FunctionType
from typing import TYPE_CHECKING, Any

from modelworks._validation import MAX_PARAM_VALUE_LENGTH, validate_key
from modelworks.entities import RunStatus
from modelworks.errors import InvalidInputError
from modelworks.tracking import fluent

if TYPE_CHECKING:
    from modelworks.tracking.client import TrackingClient
    from modelworks.tracking.fluent import ActiveRun
    from modelworks.workspace import Workspace

__all__ = ["AutologWarning", "autolog"]

_log = logging.getLogger(__name__)

AUTOLOG_TAG = "mw.autolog"
INPUT_EXAMPLE_ROWS = 5
_ORIGINAL = "__modelworks_autolog_original__"
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
_EXCLUDED_CLASSES = frozenset({"sklearn.compose._column_transformer.ColumnTransformer"})
_LGB_UNLOGGED = frozenset(
    {"params", "train_set", "valid_sets", "valid_names", "feval", "init_model", "callbacks"}
)
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("modelworks_autolog_depth", default=0)


class AutologWarning(UserWarning):
    """Autologging could not record something; the training itself was not affected."""


class _Unbindable(Exception):
    """The call's arguments do not fit the method's signature: the original call will raise
    the user's TypeError itself, so autolog steps aside without a warning."""


@dataclasses.dataclass(frozen=True)
class _Options:
    log_models: bool = True
    max_tuning_runs: int | None = 5
    silent: bool = False
    workspace: Workspace | None = None


@dataclasses.dataclass(frozen=True)
class _Patch:
    """One replaced attribute; ``had_own`` is False when the class only inherited it."""

    target: Any
    name: str
    original: Any
    had_own: bool

    def restore(self) -> None:
        if self.had_own:
            setattr(self.target, self.name, self.original)
        else:
            delattr(self.target, self.name)


# -- small helpers -------------------------------------------------------------------------------
def _metric_key(key: str) -> str:
    """``key`` with characters metric keys may not hold replaced by '_' (``ndcg@5`` → ``ndcg_5``)."""
    cleaned = _BAD_KEY_CHARS.sub("_", key).lstrip("/")
    cleaned = "/".join("_" if part == ".." else part for part in cleaned.split("/"))
    return cleaned[:250] or "_"


def _param_text(value: Any) -> tuple[str, bool]:
    """The param value as logged, and whether it had to be cut to the length limit."""
    text = str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        return text[:MAX_PARAM_VALUE_LENGTH], True
    return text, False


def _head(data: Any) -> Any:
    """A copy of the first rows of ``data`` to log as the input example, or None."""
    if data is None or isinstance(data, str | bytes | os.PathLike):
        return None
    try:
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return data.iloc[:INPUT_EXAMPLE_ROWS].copy()
        if isinstance(data, np.ndarray) and data.ndim >= 1:
            return data[:INPUT_EXAMPLE_ROWS].copy()
        if isinstance(data, list):
            return copy.deepcopy(data[:INPUT_EXAMPLE_ROWS])
    except Exception:  # noqa: BLE001 - an odd container only means no input example
        _log.debug("No input example taken from %s", type(data).__name__, exc_info=True)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Number):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _fit_inputs(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``(X, y, sample_weight)`` of a fit call: X and y are the first two arguments after self."""
    signature = inspect.signature(fn)
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError as e:
        raise _Unbindable(str(e)) from e
    positional = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    x = bound.get(positional[1]) if len(positional) > 1 else None
    y = bound.get(positional[2]) if len(positional) > 2 else None
    weight = bound.get("sample_weight")
    if weight is None:
        extra = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
        if extra:
            weight = (bound.get(extra[0]) or {}).get("sample_weight")
    return x, y, weight


def _in_joblib_task() -> bool:
    """True inside a task a ``joblib.Parallel`` call runs: joblib activates its nested
    backend (nesting level 1 or more) around each task."""
    try:
        from joblib.parallel import get_active_backend

        backend, _ = get_active_backend()
    except Exception:  # noqa: BLE001 - no joblib, or a joblib without this API
        return False
    return int(getattr(backend, "nesting_level", 0) or 0) >= 1


def _estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def _is_search(estimator: Any) -> bool:
    try:
        from sklearn.model_selection._search import BaseSearchCV
    except ImportError:  # pragma: no cover - a scikit-learn that moved it
        from sklearn.model_selection import GridSearchCV as BaseSearchCV
    return isinstance(estimator, BaseSearchCV)


def _is_lightgbm_model(estimator: Any) -> bool:
    import sys

    lgb = sys.modules.get("lightgbm")
    return lgb is not None and isinstance(estimator, lgb.LGBMModel)


# -- training metrics ----------------------------------------------------------------------------
def _computed(metrics: dict[str, float], name: str, compute: Callable[[], Any]) -> None:
    """Add ``name`` to ``metrics`` unless it cannot be computed here (e.g. one class only)."""
    try:
        value = float(compute())
    except Exception as e:  # noqa: BLE001 - a metric that does not apply is skipped, not fatal
        _log.info("autolog skipped %s: %s: %s", name, type(e).__name__, e)
        return
    metrics[name] = value


def _classifier_metrics(estimator: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    out: dict[str, float] = {}
    y_pred = estimator.predict(x)
    _computed(
        out, "training_accuracy_score", lambda: m.accuracy_score(y, y_pred, sample_weight=weight)
    )
    for name, fn in (
        ("precision_score", m.precision_score),
        ("recall_score", m.recall_score),
        ("f1_score", m.f1_score),
    ):
        _computed(
            out,
            f"training_{name}",
            functools.partial(
                fn, y, y_pred, average="weighted", sample_weight=weight, zero_division=0
            ),
        )
    if not hasattr(estimator, "predict_proba"):
        return out
    proba = estimator.predict_proba(x)
    labels = getattr(estimator, "classes_", None)
    _computed(
        out,
        "training_log_loss",
        lambda: m.log_loss(y, proba, sample_weight=weight, labels=labels),
    )
    if labels is not None and len(labels) == 2 and np.ndim(proba) == 2:
        positive = np.asarray(y) == labels[1]
        _computed(
            out,
            "training_roc_auc",
            lambda: m.roc_auc_score(positive, proba[:, 1], sample_weight=weight),
        )
    else:
        _computed(
            out,
            "training_roc_auc",
            lambda: m.roc_auc_score(
                y,
                proba,
                multi_class="ovr",
                average="weighted",
                sample_weight=weight,
                labels=labels,
            ),
        )
    return out


def _regressor_metrics(estimator: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics as m

    out: dict[str, float] = {}
    y_pred = estimator.predict(x)
    _computed(
        out,
        "training_mean_squared_error",
        lambda: m.mean_squared_error(y, y_pred, sample_weight=weight),
    )
    if "training_mean_squared_error" in out:
        out["training_root_mean_squared_error"] = math.sqrt(out["training_mean_squared_error"])
    _computed(
        out,
        "training_mean_absolute_error",
        lambda: m.mean_absolute_error(y, y_pred, sample_weight=weight),
    )
    _computed(out, "training_r2_score", lambda: m.r2_score(y, y_pred, sample_weight=weight))
    return out


def _training_metrics(estimator: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    """The training metrics MLflow logs, on the training data, with ``sample_weight``."""
    from sklearn.base import is_classifier, is_regressor

    if x is None or y is None:
        return {}
    out: dict[str, float] = {}
    try:
        if is_classifier(estimator):
            out.update(_classifier_metrics(estimator, x, y, weight))
        elif is_regressor(estimator):
            out.update(_regressor_metrics(estimator, x, y, weight))
    except Exception as e:  # noqa: BLE001 - e.g. predict unavailable (a search with refit=False)
        _log.info("autolog computed no training metrics: %s: %s", type(e).__name__, e)
    if hasattr(estimator, "score"):
        _computed(out, "training_score", lambda: _score(estimator, x, y, weight))
    return out


def _score(estimator: Any, x: Any, y: Any, weight: Any) -> Any:
    if weight is not None and "sample_weight" in inspect.signature(estimator.score).parameters:
        return estimator.score(x, y, sample_weight=weight)
    return estimator.score(x, y)


# -- what one logged call records ----------------------------------------------------------------
class _Session:
    """One outermost training call: what to log before it, how to call it, what to log after.

    Every step goes through ``attempt``, so a logging error never reaches the user.
    """

    flavor = "sklearn"

    def __init__(
        self,
        autologger: _Autologger,
        original: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.autologger = autologger
        self.options = autologger.options
        self.original = original
        self.args = args
        self.kwargs = kwargs

    def attempt(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        return self.autologger.attempt(f"{what} ({self.flavor})", fn, *args)

    def before(self, run: ActiveRun) -> None:
        """Log what is known before training (params, tags)."""

    def call(self, run: ActiveRun) -> Any:
        return self.original(*self.args, **self.kwargs)

    def after(self, run: ActiveRun, result: Any) -> None:
        """Log what training produced (metrics, artifacts, the model)."""

    def log_params(self, client: TrackingClient, run_id: str, params: dict[str, Any]) -> None:
        """Log ``params`` stringified; long values are cut, invalid keys and keys already
        logged with another value are left out, each with a warning."""
        existing = client.get(run_id).params
        clean: dict[str, str] = {}
        cut, invalid, clashing = [], [], []
        for raw_key, value in params.items():
            key = str(raw_key)
            try:
                validate_key("param", key)
            except InvalidInputError:
                invalid.append(key)
                continue
            text, was_cut = _param_text(value)
            if was_cut:
                cut.append(key)
            if key in existing and existing[key] != text:
                clashing.append(key)
            elif key not in existing:
                clean[key] = text
        if clean:
            client.log_params(run_id, clean)
        if cut:
            self.autologger.warn(
                f"Params {', '.join(cut)} are longer than {MAX_PARAM_VALUE_LENGTH} characters; "
                "autolog logged their first characters only."
            )
        if invalid:
            self.autologger.warn(
                f"Params {', '.join(map(repr, invalid))} were not logged: param keys may hold "
                "letters, digits and '_-. /:' only."
            )
        if clashing:
            self.autologger.warn(
                f"Params {', '.join(clashing)} of run {run_id} were already logged with other "
                "values and params cannot change; autolog kept the first values. Start a new "
                "run (mw.start_run) for each model to log each one's params."
            )

    def log_model(self, run: ActiveRun, model: Any, example: Any) -> None:
        """``log_model(model, "model")``, with the input example when it can be used."""
        if not self.options.log_models:
            return
        client = run.workspace.runs
        if example is not None:
            try:
                client.log_model(run.id, model, "model", input_example=example)
                return
            except InvalidInputError as e:
                self.autologger.warn(
                    f"The model's input example could not be used ({e}); logging the model "
                    "without input example and signature."
                )
        client.log_model(run.id, model, "model")


class _SklearnFit(_Session):
    """A fit of a scikit-learn estimator (LightGBM's scikit-learn API included)."""

    def __init__(
        self,
        autologger: _Autologger,
        original: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__(autologger, original, args, kwargs)
        self.estimator = args[0]
        self.flavor = "lightgbm" if _is_lightgbm_model(self.estimator) else "sklearn"
        self.x, self.y, self.weight = _fit_inputs(original, args, kwargs)
        self.example = _head(self.x)

    def before(self, run: ActiveRun) -> None:
        est = self.estimator
        client = run.workspace.runs
        # A search's seed estimator holds untuned values: log the search's own params only.
        self.log_params(client, run.id, est.get_params(deep=not _is_search(est)))
        client.set_tags(run.id, _estimator_tags(est))

    def after(self, run: ActiveRun, result: Any) -> None:
        est = self.estimator
        client = run.workspace.runs
        metrics = self.attempt(
            "compute training metrics", _training_metrics, est, self.x, self.y, self.weight
        )
        if metrics:
            self.attempt("log training metrics", client.log_metrics, run.id, metrics)
        if _is_search(est):
            self.attempt("log the search results", _log_search, self, run, est)
        if self.flavor == "lightgbm":
            self.attempt(
                "log evaluation metrics", lambda: _log_evals_result(run, est.evals_result_)
            )
            self.attempt("log booster details", lambda: _log_booster_details(run, est.booster_))
        self.attempt("log the model", self.log_model, run, est, self.example)


class _LightGBMTrain(_Session):
    """A ``lightgbm.train`` call: params, per-iteration eval metrics, importance, booster."""

    flavor = "lightgbm"

    def __init__(
        self,
        autologger: _Autologger,
        original: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__(autologger, original, args, kwargs)
        try:
            self.bound = inspect.signature(original).bind(*args, **kwargs)
        except TypeError as e:
            raise _Unbindable(str(e)) from e
        train_set = self.bound.arguments.get("train_set")
        # Dataset.data is freed once the Dataset is built, so take the example now.
        self.example = _head(getattr(train_set, "data", None))

    def before(self, run: ActiveRun) -> None:
        everything = copy.copy(self.bound)
        everything.apply_defaults()
        params: dict[str, Any] = dict(everything.arguments.get("params") or {})
        for name, value in everything.arguments.items():
            if name not in _LGB_UNLOGGED and isinstance(value, str | int | float | bool):
                params[name] = value
        self.log_params(run.workspace.runs, run.id, params)

    def call(self, run: ActiveRun) -> Any:
        callbacks = list(self.bound.arguments.get("callbacks") or [])
        bound = copy.copy(self.bound)
        bound.arguments = dict(bound.arguments)
        bound.arguments["callbacks"] = [*callbacks, _EvalRecorder(self, run)]
        return self.original(*bound.args, **bound.kwargs)

    def after(self, run: ActiveRun, result: Any) -> None:
        self.attempt("log booster details", _log_booster_details, run, result)
        self.attempt("log the model", self.log_model, run, result, self.example)


class _EvalRecorder:
    """LightGBM callback logging each iteration's eval results as ``<data>-<metric>``."""

    def __init__(self, session: _Session, run: ActiveRun) -> None:
        self.session = session
        self.run = run
        self.failed = False

    def __call__(self, env: Any) -> None:
        if self.failed or not env.evaluation_result_list:
            return
        metrics = {
            _metric_key(f"{item[0]}-{item[1]}"): item[2] for item in env.evaluation_result_list
        }
        done = self.session.attempt(
            "log evaluation metrics",
            self.run.workspace.runs.log_metrics,
            self.run.id,
            metrics,
            env.iteration,
        )
        self.failed = done is _FAILED


def _log_evals_result(run: ActiveRun, evals: dict[str, dict[str, list[float]]]) -> None:
    """The scikit-learn API's ``evals_result_``: one step per boosting iteration."""
    client = run.workspace.runs
    for data_name, by_metric in (evals or {}).items():
        for metric_name, values in by_metric.items():
            key = _metric_key(f"{data_name}-{metric_name}")
            for step, value in enumerate(values):
                client.log_metric(run.id, key, value, step=step)


def _log_booster_details(run: ActiveRun, booster: Any) -> None:
    """``best_iteration`` (with early stopping) and split/gain feature importance as JSON."""
    client = run.workspace.runs
    if getattr(booster, "best_iteration", 0) > 0:
        client.log_metric(run.id, "best_iteration", booster.best_iteration)
    names = booster.feature_name()
    for kind in ("split", "gain"):
        values = booster.feature_importance(importance_type=kind).tolist()
        client.log_dict(
            run.id, dict(zip(names, values, strict=True)), f"feature_importance_{kind}.json"
        )


def _log_search(session: _Session, run: ActiveRun, search: Any) -> None:
    """best_* params, best_cv_score, cv_results.csv and child runs for the best candidates."""
    client = run.workspace.runs
    best_params = getattr(search, "best_params_", None)
    if best_params:
        session.log_params(client, run.id, {f"best_{k}": v for k, v in best_params.items()})
    best_score = _as_float(getattr(search, "best_score_", None))
    if best_score is not None:
        client.log_metric(run.id, "best_cv_score", best_score)
    results = getattr(search, "cv_results_", None)
    if not results:
        return
    import pandas as pd

    table = pd.DataFrame(results)
    client.log_text(run.id, table.to_csv(index=False), "cv_results.csv")
    session.attempt("create child runs", _log_candidates, session, run, search, table)


def _log_candidates(session: _Session, run: ActiveRun, search: Any, table: Any) -> None:
    client = run.workspace.runs
    ranks = [c for c in table.columns if c == "rank_test_score"] or [
        c for c in table.columns if str(c).startswith("rank_test_")
    ]
    limit = session.options.max_tuning_runs
    if ranks:
        table = table.sort_values(ranks[0], kind="stable")
    if limit is not None:
        table = table.head(limit)
    seed = search.estimator
    base_params = seed.get_params(deep=not _is_search(seed))
    experiment = client.meta.get_experiment(client.get(run.id).experiment_id).name
    tags = {**_estimator_tags(seed), AUTOLOG_TAG: session.flavor}
    for _, row in table.iterrows():
        child = client.create(experiment, parent_id=run.id, tags=tags)
        session.log_params(client, child.id, {**base_params, **row["params"]})
        metrics = {
            str(k): value
            for k, v in row.items()
            if not str(k).startswith(("param", "split")) and (value := _as_float(v)) is not None
        }
        client.log_metrics(child.id, metrics)
        client.end(child.id, RunStatus.COMPLETED)


# -- the switch ----------------------------------------------------------------------------------
class _Failed:
    """Returned by :meth:`_Autologger.attempt` when the step raised."""


_FAILED = _Failed()


class _Autologger:
    """What is patched, the options, and the logged-call machinery (one per process)."""

    def __init__(self) -> None:
        self.enabled = False
        self.options = _Options()
        self._patches: list[_Patch] = []
        self._lock = threading.RLock()
        self._outermost_in_progress = 0
        self._last_workspace: Workspace | None = None
        self._default_workspace: Workspace | None = None
        self._sklearn_classes: list[type] | None = None

    # reporting ----------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        if self.options.silent:
            _log.debug(message)
        else:
            warnings.warn(message, AutologWarning, stacklevel=3)

    def attempt(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; on any error, warn and return ``_FAILED`` (never raise)."""
        try:
            return fn(*args)
        except _Unbindable:
            raise
        except Exception as e:  # noqa: BLE001 - logging must never break the user's training
            self.warn(
                f"modelworks autolog could not {what}: {type(e).__name__}: {e}. "
                "The training itself is not affected."
            )
            return _FAILED

    # switching ----------------------------------------------------------------------------
    def configure(self, options: _Options, *, disable: bool) -> None:
        with self._lock:
            self.options = options
            if disable:
                for patch in reversed(self._patches):
                    patch.restore()
                self._patches.clear()
                self.enabled = False
                self._last_workspace = self._default_workspace = None
            elif not self.enabled:
                self._patch_sklearn()
                self._patch_lightgbm()
                self.enabled = True

    def _patch_sklearn(self) -> None:
        try:
            classes = self._sklearn_estimator_classes()
        except ImportError:
            _log.debug("scikit-learn is not installed; its fits are not autologged")
            return
        seen: set[int] = set()
        for cls in classes:
            for name in _FIT_METHODS:
                self._patch_method(cls, name, _SklearnFit, seen)

    def _sklearn_estimator_classes(self) -> list[type]:
        if self._sklearn_classes is None:
            from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
            from sklearn.pipeline import Pipeline
            from sklearn.utils import all_estimators

            found = {cls for _, cls in all_estimators()}
            found |= {Pipeline, GridSearchCV, RandomizedSearchCV}
            self._sklearn_classes = sorted(
                (
                    cls
                    for cls in found
                    if not cls.__module__.startswith(_EXCLUDED_MODULES)
                    and f"{cls.__module__}.{cls.__name__}" not in _EXCLUDED_CLASSES
                ),
                key=lambda c: f"{c.__module__}.{c.__qualname__}",
            )
        return self._sklearn_classes

    def _patch_lightgbm(self) -> None:
        try:
            import lightgbm
            import lightgbm.engine
            import lightgbm.sklearn
        except ImportError:
            _log.debug("lightgbm is not installed; its training is not autologged")
            return
        train = lightgbm.engine.train
        wrapper = self._wrapper(train, _LightGBMTrain)
        # lightgbm.sklearn calls its own imported name: patched too, so that the nesting rule
        # (not luck) keeps an LGBMClassifier fit from logging twice.
        for module in (lightgbm, lightgbm.engine, lightgbm.sklearn):
            if getattr(module, "train", None) is train:
                self._patches.append(_Patch(module, "train", train, True))
                setattr(module, "train", wrapper)  # noqa: B010 - a module attribute
        seen: set[int] = set()
        base = lightgbm.LGBMModel
        for cls in (base, *base.__subclasses__()):
            if cls.__module__ == "lightgbm.sklearn":
                self._patch_method(cls, "fit", _SklearnFit, seen)

    def _patch_method(self, cls: type, name: str, session: type[_Session], seen: set[int]) -> None:
        """Wrap ``cls.<name>``: a plain function is replaced on ``cls`` itself (so excluded
        classes sharing a base keep the original); an ``available_if`` method has its ``fn``
        replaced, so ``hasattr`` still says whether it is available."""
        raw: Any = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if isinstance(raw, FunctionType):
            original = getattr(raw, _ORIGINAL, raw)
            own = name in cls.__dict__
            self._patches.append(_Patch(cls, name, cls.__dict__.get(name), own))
            setattr(cls, name, self._wrapper(original, session))
        elif isinstance(getattr(raw, "fn", None), FunctionType) and hasattr(raw, "check"):
            if id(raw) in seen:
                return
            seen.add(id(raw))
            self._patches.append(_Patch(raw, "fn", raw.fn, True))
            raw.fn = self._wrapper(raw.fn, session)

    def _wrapper(self, original: Callable[..., Any], session: type[_Session]) -> Callable[..., Any]:
        @functools.wraps(original)
        def autologged(*args: Any, **kwargs: Any) -> Any:
            return self.dispatch(original, session, args, kwargs)

        setattr(autologged, _ORIGINAL, original)
        return autologged

    # calling ------------------------------------------------------------------------------
    def _is_outermost(self) -> bool:
        if not self.enabled or _depth.get() > 0:
            return False
        # joblib's threading backend runs nested fits in pool threads, which do not inherit
        # our ContextVar; a user's own threads are not joblib tasks and log their fits.
        return not (self._outermost_in_progress and _in_joblib_task())

    def dispatch(
        self,
        original: Callable[..., Any],
        session_type: type[_Session],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if not self._is_outermost():
            token = _depth.set(_depth.get() + 1)
            try:
                return original(*args, **kwargs)
            finally:
                _depth.reset(token)
        token = _depth.set(1)
        with self._lock:
            self._outermost_in_progress += 1
        try:
            try:
                session = self.attempt(
                    "prepare logging", session_type, self, original, args, kwargs
                )
            except _Unbindable:
                session = _FAILED
            if session is _FAILED:
                return original(*args, **kwargs)
            return self._logged(session)
        finally:
            with self._lock:
                self._outermost_in_progress -= 1
            _depth.reset(token)

    def _logged(self, session: _Session) -> Any:
        acquired = session.attempt("start a run", self._acquire_run, session.flavor)
        if acquired is _FAILED:
            return session.original(*session.args, **session.kwargs)
        run, owned = acquired
        try:
            session.attempt("log params", session.before, run)
            result = session.call(run)
        except BaseException as exc:
            if owned:
                session.attempt("end the run", run.__exit__, type(exc), exc, exc.__traceback__)
            raise
        session.attempt("log results", session.after, run, result)
        session.attempt("write metrics", run.workspace.runs.flush)
        if owned:
            session.attempt("end the run", lambda: fluent.end_run(RunStatus.COMPLETED, run=run))
        return result

    def _acquire_run(self, flavor: str) -> tuple[ActiveRun, bool]:
        """The active run, or a new one (then also True: autolog ends it after the fit).

        Inside a job (``MODELWORKS_RUN_ID`` set) the job's run is resumed and left active.
        """
        current = fluent.active_run()
        if current is not None:
            self._last_workspace = current.workspace
            return current, False
        workspace = self.options.workspace or self._last_workspace
        if workspace is None:
            if self._default_workspace is None:
                from modelworks.workspace import Workspace

                self._default_workspace = Workspace()
            workspace = self._default_workspace
        in_job = bool(os.environ.get(fluent.ENV_RUN_ID))
        run = fluent.start_run(workspace=workspace, tags={AUTOLOG_TAG: flavor})
        self._last_workspace = workspace
        return run, not in_job


_autologger = _Autologger()


def autolog(
    *,
    log_models: bool = True,
    disable: bool = False,
    max_tuning_runs: int | None = 5,
    silent: bool = False,
    workspace: Workspace | None = None,
) -> None:
    """Log every scikit-learn fit and LightGBM training: params, training metrics, the model.

    Logs go to the active run; without one, each fit gets its own run (experiment from
    ``MODELWORKS_EXPERIMENT_NAME`` or Default) in ``workspace``, else the workspace of the last
    run autolog saw, else the default workspace, ended when the fit returns. Calling it again
    only changes the options; ``disable=True`` restores every original method.

    ``max_tuning_runs`` limits the child runs of a GridSearchCV/RandomizedSearchCV to the best
    candidates (None: all). ``silent`` turns autolog's warnings into debug log records.
    """
    if max_tuning_runs is not None and (
        not isinstance(max_tuning_runs, int)
        or isinstance(max_tuning_runs, bool)
        or max_tuning_runs < 0
    ):
        raise InvalidInputError(
            "The 'max_tuning_runs' parameter of autolog must be a non-negative int or None. "
            f"Got {max_tuning_runs!r} instead."
        )
    options = _Options(
        log_models=bool(log_models),
        max_tuning_runs=max_tuning_runs,
        silent=bool(silent),
        workspace=workspace,
    )
    _autologger.configure(options, disable=disable)
