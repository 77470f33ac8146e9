"""The one exception hierarchy of modelworks.

Every error carries an HTTP status and a stable machine-readable ``code``; the server maps
them with one handler and the REST client turns them back into the same classes, so a caller
sees the same exception whether the workspace is a local folder or a URL::

    ModelworksError (500, INTERNAL_ERROR)
     ├── InvalidInputError (400, INVALID_PARAMETER_VALUE)
     │    ├── InvalidNameError (400, INVALID_NAME)
     │    ├── InvalidFilterError (400, INVALID_FILTER)
     │    ├── InvalidPathError (400, INVALID_PATH)
     │    └── SpecError (400, INVALID_SPEC)
     ├── UnauthenticatedError (401, UNAUTHENTICATED)
     ├── PermissionDeniedError (403, PERMISSION_DENIED)
     ├── NotFoundError (404, RESOURCE_DOES_NOT_EXIST)
     ├── AlreadyExistsError (409, RESOURCE_ALREADY_EXISTS)
     ├── ConflictError (409, CONFLICT)   e.g. logging to a finished run
     ├── IntegrityError (422, INTEGRITY_ERROR)   e.g. an uploaded blob whose hash differs
     ├── MissingDependencyError (501, MISSING_DEPENDENCY)
     └── StoreUnavailableError (503, STORE_UNAVAILABLE)

Messages say what was wrong, what was expected and what to do next.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "IntegrityError",
    "InvalidFilterError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidPathError",
    "MissingDependencyError",
    "ModelworksError",
    "NotFoundError",
    "PermissionDeniedError",
    "SpecError",
    "StoreUnavailableError",
    "UnauthenticatedError",
    "error_from_payload",
]


class ModelworksError(Exception):
    """Base class of every error modelworks raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_payload(self) -> dict[str, Any]:
        """The JSON body the server sends for this error."""
        body: dict[str, Any] = {"error_code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(ModelworksError):
    status_code = 400
    code = "INVALID_PARAMETER_VALUE"


class InvalidNameError(InvalidInputError):
    code = "INVALID_NAME"


class InvalidFilterError(InvalidInputError):
    code = "INVALID_FILTER"


class InvalidPathError(InvalidInputError):
    code = "INVALID_PATH"


class SpecError(InvalidInputError):
    code = "INVALID_SPEC"


class UnauthenticatedError(ModelworksError):
    status_code = 401
    code = "UNAUTHENTICATED"


class PermissionDeniedError(ModelworksError):
    status_code = 403
    code = "PERMISSION_DENIED"


class NotFoundError(ModelworksError):
    status_code = 404
    code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExistsError(ModelworksError):
    status_code = 409
    code = "RESOURCE_ALREADY_EXISTS"


class ConflictError(ModelworksError):
    status_code = 409
    code = "CONFLICT"


class IntegrityError(ModelworksError):
    status_code = 422
    code = "INTEGRITY_ERROR"


class MissingDependencyError(ModelworksError):
    status_code = 501
    code = "MISSING_DEPENDENCY"


class StoreUnavailableError(ModelworksError):
    status_code = 503
    code = "STORE_UNAVAILABLE"


def _all_subclasses(cls: type[ModelworksError]) -> list[type[ModelworksError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_from_payload(status_code: int, payload: dict[str, Any]) -> ModelworksError:
    """Rebuild the exception a server sent, so REST callers see the same class as local ones."""
    code = str(payload.get("error_code", ""))
    message = str(payload.get("message") or payload.get("detail") or f"HTTP {status_code}")
    details = payload.get("details") or {}
    for cls in _all_subclasses(ModelworksError):
        if cls.code == code and cls.status_code == status_code:
            return cls(message, **details)
    for cls in _all_subclasses(ModelworksError):
        if cls.status_code == status_code:
            return cls(message, **details)
    return ModelworksError(message, **details)
