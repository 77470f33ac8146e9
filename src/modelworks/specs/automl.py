"""The Azure ML ``type: automl`` job YAML, as pydantic models.

An Azure AutoML job spec loads unchanged::

    $schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
    type: automl
    experiment_name: bank-automl
    task: classification
    primary_metric: AUC_weighted
    target_column_name: y
    training_data: {type: mltable, path: azureml:bank@latest}
    n_cross_validations: 5
    limits: {timeout_minutes: 1, max_trials: 40, max_concurrent_trials: 2}
    training: {enable_stack_ensemble: false, blocked_training_algorithms: [KNN]}

Keys Azure accepts that have no meaning on one machine (``compute``, ``max_nodes``,
``enable_dnn_training``, ...) are accepted and ignored; unknown keys inside a section are
errors, so a typo (``limits.timeout_minute``) is caught before anything runs. modelworks adds
``limits.timeout_seconds`` (finer than minutes) and ``model_name`` (the registered model).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelworks.specs._loading import SpecPath, load_yaml_file, validate_spec

__all__ = [
    "AutoMLJobSpec",
    "AutoMLLimits",
    "DataInput",
    "FeaturizationSpec",
    "ForecastingSpec",
    "TrainingSpec",
    "load_automl_spec",
]

AUTOML_SCHEMA = "https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class DataInput(_Section):
    """``training_data`` / ``validation_data`` / ``test_data``: a table by path or asset."""

    type: Literal["mltable", "uri_file", "uri_folder"] = "mltable"
    path: SpecPath
    mode: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a file, a folder or a data asset such as azureml:bank@latest")
        return value


class AutoMLLimits(_Section):
    """``limits``: how long and how many trials."""

    timeout_minutes: float | None = Field(default=None, gt=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    trial_timeout_minutes: float | None = Field(default=None, gt=0)
    max_trials: int | None = Field(default=None, ge=1)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    max_cores_per_trial: int | None = None
    max_nodes: int | None = None
    enable_early_termination: bool = True
    exit_score: float | None = None

    @property
    def time_budget_s(self) -> float:
        if self.timeout_seconds is not None:
            return float(self.timeout_seconds)
        if self.timeout_minutes is not None:
            return float(self.timeout_minutes) * 60.0
        return 60.0 * 60.0 * 6  # Azure's default: 6 hours


_PURPOSES = ("Numeric", "Categorical", "CategoricalHash", "DateTime", "Text", "Ignore")


class FeaturizationSpec(_Section):
    """``featurization``: ``mode`` auto/off/custom, column purposes, blocked transformers."""

    mode: Literal["auto", "off", "custom"] = "auto"
    column_name_and_types: dict[str, str] = Field(default_factory=dict)
    blocked_transformers: list[str] = Field(default_factory=list)
    drop_columns: list[str] = Field(default_factory=list)
    transformer_params: dict[str, Any] | None = None
    dataset_language: str | None = None

    @field_validator("column_name_and_types")
    @classmethod
    def _purposes(cls, value: dict[str, str]) -> dict[str, str]:
        lookup = {p.lower(): p for p in _PURPOSES}
        out = {}
        for column, purpose in value.items():
            found = lookup.get(str(purpose).lower())
            if found is None:
                raise ValueError(
                    f"column {column!r}: purpose {purpose!r} is not one of {', '.join(_PURPOSES)}"
                )
            out[str(column)] = found
        return out


class TrainingSpec(_Section):
    """``training``: which algorithms, which ensembles, ONNX-compatible models."""

    allowed_training_algorithms: list[str] | None = None
    blocked_training_algorithms: list[str] | None = None
    enable_vote_ensemble: bool = True
    enable_stack_ensemble: bool = False
    enable_onnx_compatible_models: bool = False
    enable_model_explainability: bool = True
    enable_dnn_training: bool | None = None
    training_mode: str | None = None
    stack_ensemble_settings: dict[str, Any] | None = None
    ensemble_model_download_timeout_minutes: float | None = None

    @model_validator(mode="after")
    def _names(self) -> TrainingSpec:
        from modelworks.automl.learners import LEARNERS, resolve_learner_names
        from modelworks.errors import InvalidInputError

        forecast = {
            "seasonalnaive",
            "naive",
            "exponentialsmoothing",
            "arima",
            "autoarima",
            "ets",
            "arimax",
        }
        for field in ("allowed_training_algorithms", "blocked_training_algorithms"):
            names = getattr(self, field) or []
            plain = [n for n in names if str(n).lower() not in forecast]
            try:
                resolve_learner_names(plain, what=field)
            except InvalidInputError as e:
                raise ValueError(
                    f"{field}: {e.message.split(' in ')[0]}; known: {', '.join(LEARNERS)}, "
                    "SeasonalNaive, Naive, ExponentialSmoothing, Arima"
                ) from e
        return self


class ForecastingSpec(_Section):
    """``forecasting``: the time column, the horizon, the series ids and the features."""

    time_column_name: str
    forecast_horizon: int | Literal["auto"] = 1
    time_series_id_column_names: list[str] | str | None = None
    target_lags: list[int] | int | Literal["auto"] | None = "auto"
    target_rolling_window_size: int | Literal["auto"] | None = "auto"
    frequency: str | None = None
    country_or_region_for_holidays: str | None = None
    seasonality: int | Literal["auto"] | None = "auto"
    feature_lags: str | None = None
    short_series_handling_config: str | None = None
    target_aggregate_function: str | None = None
    use_stl: str | None = None
    cv_step_size: int | Literal["auto"] | None = None
    quantiles: list[float] | None = None

    @field_validator("time_series_id_column_names", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("cv_step_size")
    @classmethod
    def _step(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 1:
            raise ValueError(
                f"must be an int >= 1 (time steps between origins) or 'auto', got {value}"
            )
        return value

    @field_validator("forecast_horizon")
    @classmethod
    def _horizon(cls, value: Any) -> Any:
        if value == "auto":
            return 1
        if value < 1:
            raise ValueError(f"must be an int >= 1, got {value}")
        return value


class AutoMLJobSpec(BaseModel):
    """An Azure ML AutoML job (``type: automl``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    spec_kind: ClassVar[str] = "automl job"

    schema_: str | None = Field(default=None, alias="$schema")
    type: Literal["automl"] = "automl"
    name: str | None = None
    display_name: str | None = None
    experiment_name: str = "automl"
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    task: Literal["classification", "regression", "forecasting"]
    primary_metric: str | None = None
    target_column_name: str
    training_data: DataInput
    validation_data: DataInput | None = None
    test_data: DataInput | None = None
    validation_data_size: float | None = Field(default=None, gt=0, lt=1)
    n_cross_validations: int | Literal["auto"] | None = "auto"
    weight_column_name: str | None = None
    log_verbosity: str | None = None
    limits: AutoMLLimits = Field(default_factory=AutoMLLimits)
    featurization: FeaturizationSpec = Field(default_factory=FeaturizationSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    forecasting: ForecastingSpec | None = None
    model_name: str | None = None
    outputs: dict[str, Any] | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {k: str(v) for k, v in (value or {}).items()}

    @field_validator("n_cross_validations")
    @classmethod
    def _cv(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 2:
            raise ValueError(f"must be 'auto' or an int >= 2, got {value}")
        return value

    @model_validator(mode="after")
    def _task_fields(self) -> AutoMLJobSpec:
        from modelworks.automl.metrics import get_metric
        from modelworks.errors import InvalidInputError

        if self.task == "forecasting" and self.forecasting is None:
            raise ValueError(
                "a forecasting job needs a 'forecasting' section with at least time_column_name"
            )
        if self.primary_metric:
            try:
                get_metric(self.primary_metric, self.task)
            except InvalidInputError as e:
                raise ValueError(f"primary_metric: {e.message}") from e
        return self


def load_automl_spec(path: str | os.PathLike[str]) -> AutoMLJobSpec:
    """Load and validate an AutoML job YAML file (nothing runs yet)."""
    source = os.fspath(path)
    return validate_spec(AutoMLJobSpec, load_yaml_file(source), source=source)
