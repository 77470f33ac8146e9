"""Errors of the scoring runtime, each with the HTTP status the endpoint answers with.

They extend the one hierarchy of :mod:`modelworks.errors`::

    InvalidInputError (400)             malformed JSON, a body of the wrong shape
     └── InputSchemaError (422)         missing, unexpected or mistyped columns
    PayloadTooLargeError (413)          a body over the deployment's limit
    RequestTimeoutError (408)           no answer within request_timeout_ms
    TooManyRequestsError (429)          every instance busy for longer than max_queue_wait_ms
    NoDeploymentError (404)             no deployment takes traffic, or an unknown pinned name
"""

from __future__ import annotations

from modelworks.errors import InvalidInputError, ModelworksError, NotFoundError

__all__ = [
    "InputSchemaError",
    "NoDeploymentError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "TooManyRequestsError",
]


class InputSchemaError(InvalidInputError):
    status_code = 422
    code = "INVALID_INPUT_SCHEMA"


class PayloadTooLargeError(ModelworksError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RequestTimeoutError(ModelworksError):
    status_code = 408
    code = "REQUEST_TIMEOUT"


class TooManyRequestsError(ModelworksError):
    status_code = 429
    code = "TOO_MANY_REQUESTS"


class NoDeploymentError(NotFoundError):
    code = "NO_DEPLOYMENT"
