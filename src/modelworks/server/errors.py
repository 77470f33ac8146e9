"""One place that turns exceptions into HTTP responses.

Every :class:`~modelworks.errors.ModelworksError` becomes its ``status_code`` with the body
``{"error_code", "message", "details"}`` (``ModelworksError.to_payload``), which the REST
client turns back into the same class with ``error_from_payload``. Request-validation errors
become ``INVALID_PARAMETER_VALUE`` (400) naming the field; unknown routes become
``RESOURCE_DOES_NOT_EXIST`` (404); anything unexpected becomes ``INTERNAL_ERROR`` (500) with
the traceback in the server log.

HEAD responses have no body, so the code and message also travel in the
``X-Modelworks-Error-Code`` / ``X-Modelworks-Error-Message`` headers (percent-encoded).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from modelworks.errors import InvalidInputError, ModelworksError, NotFoundError
from modelworks.server.responses import JSON

__all__ = ["ERROR_CODE_HEADER", "ERROR_MESSAGE_HEADER", "error_response", "install_error_handlers"]

logger = logging.getLogger("modelworks.server")

ERROR_CODE_HEADER = "X-Modelworks-Error-Code"
ERROR_MESSAGE_HEADER = "X-Modelworks-Error-Message"


def error_response(request: Request, status_code: int, payload: dict[str, Any]) -> Response:
    """The response for an error payload, with headers that survive a HEAD request."""
    headers = {
        ERROR_CODE_HEADER: str(payload.get("error_code", "")),
        ERROR_MESSAGE_HEADER: quote(str(payload.get("message", "")), safe=" :;,.'\"()[]{}<>=/@"),
    }
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="modelworks"'
    if request.method == "HEAD":
        return Response(status_code=status_code, headers=headers)
    return JSON(payload, status_code=status_code, headers=headers)


def _field_path(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


async def _modelworks_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelworksError)
    if exc.status_code >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(request, exc.status_code, exc.to_payload())


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_field_path(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    error = InvalidInputError(
        f"Invalid request to {request.method} {request.url.path}: {'; '.join(problems)}. "
        "See /docs for the expected parameters."
    )
    return error_response(request, error.status_code, error.to_payload())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        payload = NotFoundError(
            f"No API route {request.method} {request.url.path}; see /docs for the routes."
        ).to_payload()
    elif exc.status_code == 405:
        payload = {
            "error_code": "METHOD_NOT_ALLOWED",
            "message": f"{request.method} is not allowed on {request.url.path}; see /docs.",
        }
    else:
        payload = {"error_code": f"HTTP_{exc.status_code}", "message": str(exc.detail)}
    return error_response(request, exc.status_code, payload)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s raised an unexpected error", request.method, request.url.path)
    payload = {
        "error_code": ModelworksError.code,
        "message": f"Internal server error ({type(exc).__name__}: {exc}); see the server log.",
    }
    return error_response(request, 500, payload)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(ModelworksError, _modelworks_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
