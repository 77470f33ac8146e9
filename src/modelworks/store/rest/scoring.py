"""One scoring request to an online endpoint's URL, as a client outside the host sends it.

``ws.online_endpoints.invoke`` on a local workspace calls the endpoint itself (on a server
workspace the server does, through :mod:`modelworks.store.rest.endpoints`); this is the HTTP
part of that call, kept here so httpx stays in ``store/rest``.
"""

from __future__ import annotations

import httpx

from modelworks.errors import StoreUnavailableError, error_from_payload

__all__ = ["post_scoring_request"]


def post_scoring_request(
    url: str,
    body: bytes,
    *,
    credential: str,
    endpoint_name: str,
    deployment_name: str | None = None,
    timeout: float = 60.0,
) -> str:
    """POST ``body`` (JSON) to ``url`` with ``credential`` as the bearer; returns the answer.

    ``deployment_name`` pins the request to one deployment (Azure's
    ``azureml-model-deployment`` header). Raises StoreUnavailableError when nothing answers
    and the matching error (401 UnauthenticatedError, 404 NotFoundError, ...) for a 4xx/5xx.
    """
    headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
    if deployment_name:
        headers["azureml-model-deployment"] = deployment_name
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        raise StoreUnavailableError(
            f"Endpoint {endpoint_name!r} at {url} did not answer: {e}. Is its host running? "
            f"(modelworks online-endpoint show -n {endpoint_name})"
        ) from e
    if response.status_code >= 400:
        try:
            payload = response.json()
        except ValueError:
            payload = {"message": response.text}
        if not isinstance(payload, dict):
            payload = {"message": str(payload)}
        error = error_from_payload(response.status_code, payload)
        raise type(error)(f"{endpoint_name} answered {response.status_code}: {error.message}")
    return response.text
