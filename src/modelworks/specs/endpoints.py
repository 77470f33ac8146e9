"""Azure ML managed online endpoint and deployment YAML, as pydantic models.

The files users already write for ``az ml online-endpoint create -f`` and
``az ml online-deployment create -f`` load unchanged::

    $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
    name: bank
    auth_mode: key
    traffic: {blue: 90, green: 10}

    $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
    name: blue
    endpoint_name: bank
    model: azureml:bank-clf:1          # or models:/bank-clf@production, or {path: ./model}
    code_configuration: {code: ./onlinescoring, scoring_script: score.py}
    environment: inherit               # the current interpreter (the default)
    instance_count: 2                  # worker processes
    request_settings: {request_timeout_ms: 5000, max_concurrent_requests_per_instance: 4}

Keys that only mean something in Azure (``instance_type``, ``identity``, ``scale_settings``,
...) are accepted with a :class:`~modelworks.specs.SpecWarning` saying they are ignored, so a
file keeps working in both places. ``micro_batching`` is a modelworks extension.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelworks.specs._loading import (
    SpecPath,
    SpecWarning,
    load_yaml_file,
    resolve_spec_path,
    validate_spec,
)

__all__ = [
    "AZURE_ONLY_DEPLOYMENT_KEYS",
    "AZURE_ONLY_ENDPOINT_KEYS",
    "CodeConfiguration",
    "MicroBatching",
    "OnlineDeploymentSpec",
    "OnlineEndpointSpec",
    "ProbeSettings",
    "RequestSettings",
    "load_deployment_spec",
    "load_endpoint_spec",
    "validate_endpoint_name",
]

ENDPOINT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
DEPLOYMENT_SCHEMA = (
    "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json"
)

#: Endpoint and deployment names, as Azure ML allows them: 3-32 characters, letters, digits and
#: '-', starting with a letter and not ending with '-'.
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-]{1,30}[A-Za-z0-9]$")

AZURE_ONLY_ENDPOINT_KEYS = ("identity", "public_network_access", "kind", "compute", "properties")
AZURE_ONLY_DEPLOYMENT_KEYS = (
    "instance_type",
    "scale_settings",
    "app_insights_enabled",
    "egress_public_network_access",
    "private_network_connection",
    "type",
    "properties",
    "with_package",
)


def validate_endpoint_name(kind: str, value: str) -> str:
    """Endpoint/deployment names follow Azure's rule; the message says what it is."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"invalid {kind} name {value!r}: use 3-32 characters (letters, digits, '-'), "
            "starting with a letter and not ending with '-'"
        )
    return value


def _warn_ignored(data: Any, keys: tuple[str, ...], kind: str) -> None:
    if not isinstance(data, dict):
        return
    for key in keys:
        if key in data and data[key] is not None:
            warnings.warn(
                f"{kind} key {key!r} is Azure-only and is ignored here "
                f"({'each instance is a worker process' if key == 'instance_type' else 'no effect locally'}).",
                SpecWarning,
                stacklevel=3,
            )


def _weights(kind: str, value: Any) -> Any:
    """``{blue: 90, green: 10}`` checked: whole percentages 0-100."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return value
    out: dict[str, int] = {}
    for name, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float | str):
            raise ValueError(f"{kind} of {name!r} must be a whole percentage, got {weight!r}")
        try:
            number = float(weight)
        except ValueError as e:
            raise ValueError(
                f"{kind} of {name!r} must be a whole percentage, got {weight!r}"
            ) from e
        if not number.is_integer() or not 0 <= number <= 100:
            raise ValueError(f"{kind} of {name!r} must be a whole number 0-100, got {weight!r}")
        out[str(name)] = int(number)
    return out


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class OnlineEndpointSpec(_Spec):
    """An Azure ML managed online endpoint (``managedOnlineEndpoint.schema.json``)."""

    spec_kind: ClassVar[str] = "online endpoint"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str
    auth_mode: Literal["key", "aml_token"] = "key"
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    identity: Any = None
    public_network_access: Any = None
    kind: Any = None
    compute: Any = None
    properties: Any = None

    @model_validator(mode="before")
    @classmethod
    def _azure_only(cls, data: Any) -> Any:
        _warn_ignored(data, AZURE_ONLY_ENDPOINT_KEYS, "Endpoint")
        if isinstance(data, dict) and data.get("auth_mode") == "aad_token":
            raise ValueError(
                "auth_mode 'aad_token' needs Microsoft Entra ID; use 'key' or 'aml_token' here"
            )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_endpoint_name("endpoint", value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return {} if value is None else value
        return {
            str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in value.items()
        }

    @field_validator("traffic", mode="before")
    @classmethod
    def _traffic(cls, value: Any) -> Any:
        return _weights("traffic", value)

    @field_validator("mirror_traffic", mode="before")
    @classmethod
    def _mirror(cls, value: Any) -> Any:
        return _weights("mirror_traffic", value)

    @model_validator(mode="after")
    def _sums(self) -> OnlineEndpointSpec:
        total = sum(self.traffic.values())
        if self.traffic and total not in (0, 100):
            raise ValueError(f"traffic weights must add up to 100 (or 0), got {total}")
        if sum(self.mirror_traffic.values()) > 50:
            raise ValueError("mirror_traffic may copy at most 50% of the requests in total")
        return self


class CodeConfiguration(_Spec):
    """``code_configuration``: the folder holding the scoring script, and the script's path."""

    code: SpecPath
    scoring_script: str

    @field_validator("scoring_script")
    @classmethod
    def _script(cls, value: str) -> str:
        if not value.strip() or value.startswith(("/", "\\")) or ".." in value.split("/"):
            raise ValueError(
                f"scoring_script must be a path inside the code folder such as 'score.py', "
                f"got {value!r}"
            )
        return value


class RequestSettings(_Spec):
    """``request_settings``; defaults are Azure's."""

    request_timeout_ms: int = Field(default=5000, ge=1, le=180_000)
    max_concurrent_requests_per_instance: int = Field(default=1, ge=1, le=1000)
    max_queue_wait_ms: int = Field(default=500, ge=0, le=600_000)
    #: modelworks extension: bodies over this size get 413.
    max_request_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)


class ProbeSettings(_Spec):
    """``liveness_probe`` / ``readiness_probe`` (seconds, as Azure)."""

    initial_delay: float = Field(default=0, ge=0)
    period: float = Field(default=10, gt=0)
    timeout: float = Field(default=2, gt=0)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=30, ge=1)


class MicroBatching(_Spec):
    """modelworks extension: predict concurrent requests of a no-code deployment together."""

    max_batch_size: int = Field(default=32, ge=1, le=100_000)
    max_latency_ms: float = Field(default=2.0, ge=0, le=10_000)


class OnlineDeploymentSpec(_Spec):
    """An Azure ML managed online deployment (``managedOnlineDeployment.schema.json``)."""

    spec_kind: ClassVar[str] = "online deployment"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str
    endpoint_name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    #: ``azureml:name:version``, ``models:/name@alias``, ``name:version`` or an inline model
    #: ``{path: ./model}`` (a local folder or file, registered when the deployment is created).
    model: str | dict[str, Any] | None = None
    code_configuration: CodeConfiguration | None = None
    #: ``inherit`` (the current interpreter), an ``azureml:env:version`` reference, or an inline
    #: environment (``{conda_file, image}``); recorded as given.
    environment: str | dict[str, Any] = "inherit"
    environment_variables: dict[str, str] = Field(default_factory=dict)
    instance_count: int = Field(default=1, ge=1, le=64)
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(
        default_factory=lambda: ProbeSettings(period=10, timeout=10, failure_threshold=30)
    )
    data_collector: dict[str, Any] | None = None
    micro_batching: MicroBatching | None = None
    instance_type: Any = None
    scale_settings: Any = None
    app_insights_enabled: Any = None
    egress_public_network_access: Any = None
    private_network_connection: Any = None
    type: Any = None
    properties: Any = None
    with_package: Any = None

    @model_validator(mode="before")
    @classmethod
    def _azure_only(cls, data: Any) -> Any:
        _warn_ignored(data, AZURE_ONLY_DEPLOYMENT_KEYS, "Deployment")
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_endpoint_name("deployment", value)

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return validate_endpoint_name("endpoint", value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("tags", "environment_variables", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return {} if value is None else value
        return {
            str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in value.items()
        }

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            if not value.get("path"):
                raise ValueError(
                    "an inline model needs 'path' (a local folder or file), e.g. "
                    "model: {path: ./model}"
                )
            context = info.context if isinstance(info.context, dict) else {}
            return {**value, "path": resolve_spec_path(str(value["path"]), context.get("base_dir"))}
        if isinstance(value, str) and not value.strip():
            raise ValueError("must be a model reference such as azureml:bank-clf:1")
        return value

    @model_validator(mode="after")
    def _needs_model_or_code(self) -> OnlineDeploymentSpec:
        if self.model is None and self.code_configuration is None:
            raise ValueError(
                "a deployment needs a model (azureml:name:version, models:/name@alias or "
                "{path: ./model}) and/or a code_configuration with a scoring_script"
            )
        if self.micro_batching is not None and self.code_configuration is not None:
            raise ValueError(
                "micro_batching applies to no-code deployments only (a score.py run() "
                "receives one request at a time); remove one of them"
            )
        return self

    @property
    def inline_model_path(self) -> str | None:
        """The local path of an inline ``model: {path: ...}`` (resolved against the file)."""
        return str(self.model["path"]) if isinstance(self.model, dict) else None


def load_endpoint_spec(path: str, **overrides: Any) -> OnlineEndpointSpec:
    """Load and validate an online endpoint YAML file; ``overrides`` win over the file."""
    raw = load_yaml_file(path)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return validate_spec(OnlineEndpointSpec, raw, source=str(path))


def load_deployment_spec(path: str, **overrides: Any) -> OnlineDeploymentSpec:
    """Load and validate an online deployment YAML file; ``overrides`` win over the file."""
    raw = load_yaml_file(path)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return validate_spec(OnlineDeploymentSpec, raw, source=str(path))
