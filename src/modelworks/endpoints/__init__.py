"""Online endpoints: scoring URLs with keys, traffic split, mirror traffic and rollout.

- :mod:`~modelworks.endpoints.operations`: ``ws.online_endpoints`` / ``ws.online_deployments``
  (what the SDK and the CLI call; desired state goes to the database).
- :mod:`~modelworks.endpoints.host`: the process that makes it so — a gateway per endpoint and
  supervised worker processes per deployment (:func:`~modelworks.endpoints.host.start_all`
  for ``modelworks up``; a detached host otherwise).
- :mod:`~modelworks.endpoints.packaging`: a container build context for a deployment.

The scoring runtime itself (gateway, worker app, protocols) is :mod:`modelworks.serving`.
"""

from modelworks.endpoints.entities import OnlineDeployment, OnlineEndpoint

__all__ = ["OnlineDeployment", "OnlineEndpoint"]
