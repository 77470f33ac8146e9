"""What Azure scoring scripts import for raw HTTP access, without Flask.

``score.py`` files written for Azure ML import ``rawhttp``, ``AMLRequest`` and ``AMLResponse``
from ``azureml_inference_server_http.api.aml_request`` / ``.aml_response`` or from the older
``azureml.contrib.services.aml_request`` / ``.aml_response``. When those packages are not
installed, :func:`install` registers these stand-ins under the same module names, so the
scripts import unchanged. A ``@rawhttp`` ``run(request)`` then receives an :class:`AMLRequest`
with Flask's request API (``method``, ``headers``, ``args``, ``get_data()``, ``get_json()``,
``full_path``, ...), and may return an :class:`AMLResponse` to choose the status, headers and
body.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["AMLRequest", "AMLResponse", "Headers", "QueryArgs", "install", "is_rawhttp", "rawhttp"]

_RAW_ATTR = "__modelworks_rawhttp__"
_MODULES = (
    ("azureml_inference_server_http.api.aml_request", "request"),
    ("azureml_inference_server_http.api.aml_response", "response"),
    ("azureml.contrib.services.aml_request", "request"),
    ("azureml.contrib.services.aml_response", "response"),
)


def rawhttp(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``run`` as taking the whole HTTP request (Azure's ``@rawhttp``)."""
    setattr(func, _RAW_ATTR, True)
    return func


def is_rawhttp(func: Any) -> bool:
    """Whether ``run`` asked for the raw request, through ours or Azure's own decorator."""
    if getattr(func, _RAW_ATTR, False):
        return True
    for name in (
        "azureml_inference_server_http.api.aml_request",
        "azureml.contrib.services.aml_request",
    ):
        module = sys.modules.get(name)
        if (
            module is not None
            and getattr(module, "_rawHttpRequested", False)
            and not getattr(module, "__modelworks_shim__", False)
        ):
            return True
    return False


class Headers:
    """Case-insensitive request headers, like Werkzeug's ``Headers``."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = list(items)
        self._lower = {k.lower(): v for k, v in self._items}

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        value = self._lower.get(key.lower(), default)
        return type(value) if type is not None and value is not default else value

    def __getitem__(self, key: str) -> str:
        return self._lower[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]

    def to_dict(self) -> dict[str, str]:
        return dict(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class QueryArgs:
    """Query parameters with ``get`` and ``getlist``, like Werkzeug's ``MultiDict``."""

    def __init__(self, query: str) -> None:
        self._pairs = parse_qsl(query, keep_blank_values=True)

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        for k, v in self._pairs:
            if k == key:
                return type(v) if type is not None else v
        return default

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._pairs if k == key]

    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self._pairs))

    def __getitem__(self, key: str) -> str:
        for k, v in self._pairs:
            if k == key:
                return v
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._pairs)

    def __iter__(self) -> Any:
        return iter(self.keys())

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        if flat:
            return {k: self.get(k) for k in self.keys()}
        return {k: self.getlist(k) for k in self.keys()}


class AMLRequest:
    """The request a ``@rawhttp`` run() receives (the parts of Flask's request scripts use)."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        query_string: bytes,
        headers: list[tuple[str, str]],
        body: bytes,
        host: str = "127.0.0.1",
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = Headers(headers)
        self.args = QueryArgs(query_string.decode("latin-1"))
        self.data = body
        self.host = host

    @property
    def full_path(self) -> str:
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def url(self) -> str:
        query = f"?{self.query_string.decode('latin-1')}" if self.query_string else ""
        return f"http://{self.host}{self.path}{query}"

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        return str(value) if value is not None else None

    @property
    def mimetype(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        kind = self.mimetype
        return kind == "application/json" or (
            kind.startswith("application/") and kind.endswith("+json")
        )

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        return self.data.decode("utf-8", errors="replace") if as_text else self.data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if not (force or self.is_json):
            if silent:
                return None
            raise ValueError("The request's Content-Type is not application/json.")
        try:
            return json.loads(self.data)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Any:
        return self.get_json(silent=True)

    def __repr__(self) -> str:
        return f"<AMLRequest {self.method} {self.full_path}>"


class AMLResponse:
    """A response chosen by run(): ``AMLResponse(message, status_code, response_headers, json_str)``."""

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: dict[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        headers = dict(response_headers or {})
        if message is None:
            body, kind = b"{}", "application/json"
        elif json_str:
            body, kind = json.dumps(message).encode(), "application/json"
        else:
            body = message if isinstance(message, bytes) else str(message).encode()
            kind = "text/html; charset=utf-8"
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = kind
        headers["x-ms-run-function-failed"] = str(bool(run_function_failed))
        self.status_code = int(status_code)
        self.headers = headers
        self.body = body

    def get_data(self, as_text: bool = False) -> Any:
        return self.body.decode() if as_text else self.body


def _module(name: str, kind: str) -> types.ModuleType:
    module = types.ModuleType(name, f"modelworks stand-in for Azure's {name}")
    module.__modelworks_shim__ = True  # type: ignore[attr-defined]
    if kind == "request":
        module.rawhttp = rawhttp  # type: ignore[attr-defined]
        module.AMLRequest = AMLRequest  # type: ignore[attr-defined]
        module._rawHttpRequested = False  # type: ignore[attr-defined]
    else:
        module.AMLResponse = AMLResponse  # type: ignore[attr-defined]
    return module


def _missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def install() -> None:
    """Register the stand-in modules for every Azure module name that is not installed."""
    for name, kind in _MODULES:
        if name in sys.modules or not _missing(name):
            continue
        parts = name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent not in sys.modules and _missing(parent):
                package = types.ModuleType(parent)
                package.__path__ = []
                sys.modules[parent] = package
        module = _module(name, kind)
        sys.modules[name] = module
        parent_module = sys.modules.get(".".join(parts[:-1]))
        if parent_module is not None:
            setattr(parent_module, parts[-1], module)
