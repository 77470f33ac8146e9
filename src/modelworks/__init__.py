"""modelworks: a self-hosted machine-learning platform in one ``pip install``.

::

    import modelworks as mw

    ws = mw.Workspace("./ws")
    with mw.start_run(experiment="bank", workspace=ws) as run:
        mw.log_param("C", 1.0)
        mw.log_metric("auc", 0.93, step=1)
        mw.log_model(model, "model", input_example=X.head())
    ws.models.register(f"runs:/{run.id}/model", name="bank-clf")
"""

from modelworks.entities import (
    DataVersion,
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
)
from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    IntegrityError,
    InvalidFilterError,
    InvalidInputError,
    InvalidNameError,
    InvalidPathError,
    MissingDependencyError,
    ModelworksError,
    NotFoundError,
    PermissionDeniedError,
    SpecError,
    StoreUnavailableError,
    UnauthenticatedError,
)
from modelworks.tracking.fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    log_text,
    set_tag,
    set_tags,
    start_run,
)
from modelworks.workspace import Workspace

__version__ = "0.1.0"


def autolog(
    *,
    log_models: bool = True,
    disable: bool = False,
    max_tuning_runs: int = 5,
    silent: bool = False,
    workspace: Workspace | None = None,
) -> None:
    """Log params, training metrics and the model of every scikit-learn / LightGBM fit.

    ``disable=True`` restores the original methods. See docs/tracking.md.
    """
    from modelworks.tracking.autolog import autolog as _autolog

    _autolog(
        log_models=log_models,
        disable=disable,
        max_tuning_runs=max_tuning_runs,
        silent=silent,
        workspace=workspace,
    )


__all__ = [
    "ActiveRun",
    "AlreadyExistsError",
    "ConflictError",
    "DataVersion",
    "Experiment",
    "IntegrityError",
    "InvalidFilterError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidPathError",
    "Metric",
    "MissingDependencyError",
    "ModelVersion",
    "ModelworksError",
    "NotFoundError",
    "PermissionDeniedError",
    "RegisteredModel",
    "Run",
    "RunStatus",
    "SpecError",
    "StoreUnavailableError",
    "UnauthenticatedError",
    "Workspace",
    "__version__",
    "active_run",
    "autolog",
    "end_run",
    "flush",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
]

# -- jobs (issue 4): imported on first use, so that `import modelworks` in a job stays cheap --
import importlib as _importlib  # noqa: E402
import typing as _typing  # noqa: E402

if _typing.TYPE_CHECKING:
    from modelworks.environments import Environment as Environment
    from modelworks.jobs.entities import Input as Input
    from modelworks.jobs.entities import Output as Output
    from modelworks.jobs.entities import command as command
    from modelworks.jobs.entities import sweep as sweep
    from modelworks.pipelines import command_component as command_component
    from modelworks.pipelines import dsl as dsl
    from modelworks.pipelines import load_component as load_component

_LAZY_JOBS = {
    "Environment": "modelworks.environments",
    "Input": "modelworks.jobs.entities",
    "Output": "modelworks.jobs.entities",
    "command": "modelworks.jobs.entities",
    "sweep": "modelworks.jobs.entities",
    # AutoML (issue 5)
    "AutoMLClassifier": "modelworks.automl.estimators",
    "AutoMLForecaster": "modelworks.automl.forecasting",
    "AutoMLRegressor": "modelworks.automl.estimators",
    # Pipelines (issue 7)
    "command_component": "modelworks.pipelines",
    "dsl": "modelworks.pipelines",
    "load_component": "modelworks.pipelines",
}
__all__ += sorted(_LAZY_JOBS)


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY_JOBS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelworks' has no attribute {name!r}")
    return getattr(_importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_JOBS))
