"""Online endpoints through a ``modelworks server`` (``/api/v1/online-endpoints``).

What ``ws.online_endpoints`` / ``ws.online_deployments`` call when the workspace is a server
URL. The endpoint host runs next to the server (``modelworks up``, or one the server starts
on demand), so every call here is one request the server answers with the same operations a
local workspace uses; errors come back as the same classes. Deployment creation returns at
once with the new generation and the SDK polls the deployment, since building an environment
may take longer than one HTTP request should.

Scoring URLs name the server's host: the endpoint listens on the server's machine (reachable
from elsewhere when the server sets ``MODELWORKS_ENDPOINT_HOST=0.0.0.0``); ``invoke`` goes
through the server, so it works either way.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from modelworks.endpoints.entities import OnlineDeployment, OnlineEndpoint
from modelworks.store.rest._http import Http, query, seg

__all__ = ["RestEndpoints"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "")


class RestEndpoints:
    """The endpoint API of one server (see the module docstring)."""

    def __init__(self, meta: Any, location: str) -> None:
        http = getattr(meta, "_http", None)
        if not isinstance(http, Http):
            raise TypeError(f"{type(meta).__name__} is not a REST metadata store")
        self._http = http
        self._server_host = urlsplit(location).hostname or "127.0.0.1"

    # -- conversions ----------------------------------------------------------------------
    def _endpoint(self, data: dict[str, Any]) -> OnlineEndpoint:
        endpoint = OnlineEndpoint.from_dict(data)
        host = urlsplit(str(data.get("scoring_uri", ""))).hostname or ""
        if host in _LOOPBACK:
            host = self._server_host
        return dataclasses.replace(endpoint, address=host)

    @staticmethod
    def _path(name: str, *rest: str) -> str:
        return "/".join([f"/online-endpoints/{seg(name)}", *rest])

    # -- endpoints ------------------------------------------------------------------------
    def put_endpoint(
        self, spec: dict[str, Any], *, port: int | None, timeout: float
    ) -> OnlineEndpoint:
        body = {"spec": spec, "port": port, "timeout": timeout}
        data = self._http.json("PUT", self._path(str(spec["name"])), body=body)
        return self._endpoint(data)

    def get_endpoint(self, name: str) -> OnlineEndpoint:
        return self._endpoint(self._http.json("GET", self._path(name), idempotent=True))

    def list_endpoints(self) -> list[OnlineEndpoint]:
        data = self._http.json("GET", "/online-endpoints", idempotent=True)
        return [self._endpoint(item) for item in data["items"]]

    def delete_endpoint(self, name: str, *, timeout: float) -> None:
        self._http.request("DELETE", self._path(name), params=query(timeout=timeout))

    def update_traffic(
        self,
        name: str,
        traffic: dict[str, int] | None,
        mirror_traffic: dict[str, int] | None,
        *,
        timeout: float,
    ) -> OnlineEndpoint:
        body = {"traffic": traffic, "mirror_traffic": mirror_traffic, "timeout": timeout}
        return self._endpoint(self._http.json("PUT", self._path(name, "traffic"), body=body))

    def get_keys(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._http.json("POST", self._path(name, "keys"), body={})
        return result

    def get_token(self, name: str, *, ttl_s: float) -> dict[str, Any]:
        result: dict[str, Any] = self._http.json(
            "POST", self._path(name, "token"), body={"ttl_s": ttl_s}
        )
        return result

    def regenerate_keys(self, name: str, *, key_type: str, timeout: float) -> dict[str, str]:
        body = {"key_type": key_type, "timeout": timeout}
        result: dict[str, str] = self._http.json(
            "POST", self._path(name, "regenerate-keys"), body=body
        )
        return result

    def invoke(
        self,
        name: str,
        body: bytes,
        *,
        deployment_name: str | None,
        key: str | None,
        path: str,
        timeout: float,
    ) -> str:
        request = {
            "body": body.decode("utf-8", errors="replace"),
            "deployment_name": deployment_name,
            "key": key,
            "path": path,
            "timeout": timeout,
        }
        return str(self._http.json("POST", self._path(name, "invoke"), body=request)["text"])

    # -- deployments ----------------------------------------------------------------------
    def put_deployment(self, payload: dict[str, Any]) -> int:
        spec = payload["spec"]
        path = self._path(str(spec["endpoint_name"]), "deployments", seg(spec["name"]))
        return int(self._http.json("PUT", path, body=payload)["generation"])

    def get_deployment(self, endpoint: str, name: str) -> OnlineDeployment:
        path = self._path(endpoint, "deployments", seg(name))
        return OnlineDeployment.from_dict(self._http.json("GET", path, idempotent=True))

    def list_deployments(self, endpoint: str | None) -> list[OnlineDeployment]:
        path = "/online-deployments" if endpoint is None else self._path(endpoint, "deployments")
        data = self._http.json("GET", path, idempotent=True)
        return [OnlineDeployment.from_dict(item) for item in data["items"]]

    def delete_deployment(self, endpoint: str, name: str, *, timeout: float) -> None:
        path = self._path(endpoint, "deployments", seg(name))
        self._http.request("DELETE", path, params=query(timeout=timeout))

    def get_logs(self, endpoint: str, name: str, *, lines: int) -> str:
        path = self._path(endpoint, "deployments", seg(name), "logs")
        return str(self._http.json("GET", path, params={"lines": lines}, idempotent=True)["text"])
