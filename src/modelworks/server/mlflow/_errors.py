"""MLflow's error shape and codes, and the translation of modelworks errors into them.

MLflow clients read a failed call as ``{"error_code": <name>, "message": <text>}`` and decide
what to do from the code name (``RESOURCE_ALREADY_EXISTS`` makes ``register_model`` add a
version, ``RESOURCE_DOES_NOT_EXIST`` makes ``set_experiment`` create one, 5xx is retried), so
the names and statuses below follow MLflow's own table (``mlflow.exceptions``), not ours:
for instance an existing resource is 400 in MLflow, where modelworks says 409.
"""

from __future__ import annotations

from typing import Any

from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    ModelworksError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
    UnauthenticatedError,
)

__all__ = [
    "MlflowError",
    "batch_limit_error",
    "invalid_value",
    "missing_value",
    "translate",
]

#: MLflow error code name -> HTTP status (the subset we send).
STATUS: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

_API_DOCS = " See the API docs for more information about request parameters."

#: modelworks error class -> MLflow code (most specific first; looked up along the MRO).
_CODES: dict[type[ModelworksError], str] = {
    InvalidInputError: "INVALID_PARAMETER_VALUE",
    UnauthenticatedError: "UNAUTHENTICATED",
    PermissionDeniedError: "PERMISSION_DENIED",
    NotFoundError: "RESOURCE_DOES_NOT_EXIST",
    AlreadyExistsError: "RESOURCE_ALREADY_EXISTS",
    # MLflow reports logging to a deleted run or changing a param as an invalid parameter.
    ConflictError: "INVALID_PARAMETER_VALUE",
    IntegrityError: "INVALID_PARAMETER_VALUE",
    MissingDependencyError: "NOT_IMPLEMENTED",
    StoreUnavailableError: "TEMPORARILY_UNAVAILABLE",
}


class MlflowError(Exception):
    """An error to send in MLflow's shape: ``code`` is an MLflow ``ErrorCode`` name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 500)

    def payload(self) -> dict[str, Any]:
        return {"error_code": self.code, "message": self.message}


def translate(error: ModelworksError) -> MlflowError:
    """The MLflow error a modelworks error becomes (same message, MLflow's code)."""
    for cls in type(error).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return MlflowError(code, error.message)
    return MlflowError("INTERNAL_ERROR", error.message)


def missing_value(field: str) -> MlflowError:
    """MLflow's message for a required request field that is absent or empty."""
    return MlflowError(
        "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{field}'.{_API_DOCS}"
    )


def invalid_value(field: str, value: Any, why: str) -> MlflowError:
    """MLflow's message for a request field of the wrong type or out of range."""
    import json

    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    return MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"Invalid value {shown} for parameter '{field}' supplied: {why}.{_API_DOCS}",
    )


def batch_limit_error(entity_name: str, limit: int, length: int) -> MlflowError:
    """Exactly the message MLflow's server gives for a log-batch over one of its limits."""
    return MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"A batch logging request can contain at most {limit} {entity_name}. "
        f"Got {length} {entity_name}. Please split up {entity_name} across multiple"
        " requests and try again.",
    )
