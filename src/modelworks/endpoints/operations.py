"""``ws.online_endpoints`` and ``ws.online_deployments``: Azure ML's MLClient operations.

Every call writes the desired state to the database and, unless ``wait=False``, waits until
the endpoint host has made it so (starting a detached host when none runs). So::

    ws.online_endpoints.begin_create_or_update("endpoint.yml").result()
    ws.online_deployments.begin_create_or_update("blue.yml", all_traffic=True).result()
    keys = ws.online_endpoints.get_keys("bank")          # shown once
    ws.online_endpoints.invoke("bank", request_file="sample.json")

Keys are random, stored as sha256 hashes, and shown once: the first ``get_keys`` after
creation or regeneration returns them; later calls raise :class:`ConflictError` saying how to
regenerate. ``invoke`` does not need them: it signs a short-lived token with the endpoint's
secret (only whoever can read the workspace database can).

On a workspace opened by server URL (``Workspace("http://host:8080", token=...)``) the same
calls go to the server (:mod:`modelworks.store.rest.endpoints`), which runs them on its own
workspace with the host next to it; the caller's side still reads the YAML, registers an
inline model, uploads the scoring code and reads an inline environment's files. A
deployment's environment is resolved when it is created and built by the host
(:mod:`modelworks.endpoints._environment`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from modelworks.endpoints.entities import OnlineDeployment, OnlineEndpoint, endpoint_address
from modelworks.errors import (
    ConflictError,
    InvalidInputError,
    ModelworksError,
    NotFoundError,
    StoreUnavailableError,
)
from modelworks.serving._auth import hash_key, mint_token, new_key, new_secret
from modelworks.store.sql.endpoints import EndpointStore, open_endpoint_store

if TYPE_CHECKING:
    from modelworks.specs.endpoints import OnlineDeploymentSpec, OnlineEndpointSpec
    from modelworks.store.rest.endpoints import RestEndpoints
    from modelworks.workspace import Workspace

__all__ = [
    "DeploymentFailedError",
    "OnlineDeploymentOperations",
    "OnlineEndpointOperations",
    "Poller",
]

T = TypeVar("T")
SLOTS = ("primary", "secondary")


class DeploymentFailedError(ModelworksError):
    """A deployment's workers did not start (the message has the end of their log)."""

    status_code = 500
    code = "DEPLOYMENT_FAILED"


class Poller(Generic[T]):
    """What ``begin_*`` returns, as in Azure's SDK: ``.result()`` waits and returns the entity."""

    def __init__(self, wait: Callable[[float], T], timeout: float) -> None:
        self._wait = wait
        self._timeout = timeout
        self._result: T | None = None
        self._done = False

    def result(self, timeout: float | None = None) -> T:
        if not self._done:
            self._result = self._wait(self._timeout if timeout is None else timeout)
            self._done = True
        return self._result  # type: ignore[return-value]

    def done(self) -> bool:
        return self._done


def _free_port(used: set[int]) -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((endpoint_address(), 0))
            port = int(sock.getsockname()[1])
        if port not in used:
            return port
    raise StoreUnavailableError("Could not find a free TCP port for the endpoint.")


def _coerce_spec(value: Any, loader: Callable[..., Any], cls: Any, **overrides: Any) -> Any:
    if isinstance(value, cls):
        return value.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if isinstance(value, (str, os.PathLike)):
        return loader(os.fspath(value), **overrides)
    if isinstance(value, dict):
        from modelworks.specs import validate_spec

        merged = {**value, **{k: v for k, v in overrides.items() if v is not None}}
        return validate_spec(cls, merged, source="<dict>", base_dir=os.getcwd())
    raise InvalidInputError(
        f"Expected a {cls.__name__}, a YAML file path or a dict; got {type(value).__name__}."
    )


class _Base:
    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._store_cache: EndpointStore | None = None
        self._rest_cache: RestEndpoints | None = None

    @property
    def _rest(self) -> RestEndpoints | None:
        """The server's endpoint API when the workspace is a server URL (else None)."""
        if not self._ws.is_remote:
            return None
        if self._rest_cache is None:
            from modelworks.store.rest.endpoints import RestEndpoints

            self._rest_cache = RestEndpoints(self._ws.meta, self._ws.location)
        return self._rest_cache

    @property
    def _store(self) -> EndpointStore:
        if self._store_cache is None:
            self._store_cache = open_endpoint_store(self._ws)
        return self._store_cache

    def _host(self) -> None:
        from modelworks.endpoints.host import ensure_host

        ensure_host(self._ws, store=self._store)

    def _ring(self) -> None:
        """Tell a host on this machine to look at the desired state now (see _doorbell)."""
        from modelworks.endpoints._doorbell import bell_path, ring
        from modelworks.endpoints._workers import socket_dir
        from modelworks.endpoints.host import runtime_dir

        ring(bell_path(runtime_dir(self._ws), socket_dir()))

    def _wait_applied(self, revision: int, timeout: float) -> None:
        """Wait until the live host has applied ``revision`` (no-op when no host runs)."""
        from modelworks.endpoints.host import live_host

        self._ring()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            host = live_host(self._ws, store=self._store)
            if host is None or host.applied_revision >= revision:
                return
            time.sleep(0.05)
        raise StoreUnavailableError(
            f"The endpoint host did not apply the change within {timeout:.0f} s; see "
            "<workspace>/endpoints/host.log."
        )


class OnlineEndpointOperations(_Base):
    """``ws.online_endpoints`` (``az ml online-endpoint``)."""

    def begin_create_or_update(
        self,
        endpoint: OnlineEndpointSpec | str | os.PathLike[str] | dict[str, Any],
        *,
        port: int | None = None,
        timeout: float = 60.0,
    ) -> Poller[OnlineEndpoint]:
        """Create the endpoint (new keys, a port) or update its description, tags, traffic."""
        from modelworks.specs.endpoints import OnlineEndpointSpec, load_endpoint_spec

        spec = _coerce_spec(endpoint, load_endpoint_spec, OnlineEndpointSpec)
        rest = self._rest
        if rest is not None:
            body = spec.model_dump(mode="json", exclude_unset=True, exclude={"schema_"})
            return Poller(lambda limit: rest.put_endpoint(body, port=port, timeout=limit), timeout)
        store = self._store
        try:
            existing: OnlineEndpoint | None = store.get_endpoint(spec.name)
        except NotFoundError:
            existing = None
        if existing is None:
            self._check_weights(spec.name, spec.traffic, spec.mirror_traffic, known=set())
            keys = {slot: new_key() for slot in SLOTS}
            revision = store.create_endpoint(
                name=spec.name,
                auth_mode=spec.auth_mode,
                description=spec.description,
                tags=dict(spec.tags),
                traffic=dict(spec.traffic),
                mirror_traffic=dict(spec.mirror_traffic),
                port=port or _free_port(store.used_ports()),
                token_secret=new_secret(),
                keys={slot: (hash_key(key), key) for slot, key in keys.items()},
            )
        else:
            fields: dict[str, Any] = {"description": spec.description, "tags": dict(spec.tags)}
            names = {d.name for d in store.list_deployments(spec.name)}
            if "traffic" in spec.model_fields_set:
                self._check_weights(spec.name, spec.traffic, None, known=names)
                fields["traffic"] = dict(spec.traffic)
            if "mirror_traffic" in spec.model_fields_set:
                self._check_weights(spec.name, None, spec.mirror_traffic, known=names)
                fields["mirror_traffic"] = dict(spec.mirror_traffic)
            if spec.auth_mode != existing.auth_mode:
                fields["auth_mode"] = spec.auth_mode
            revision = store.update_endpoint(spec.name, **fields)
        name = spec.name

        def wait(limit: float) -> OnlineEndpoint:
            self._host()
            self._wait_applied(revision, limit)
            found = self.get(name)
            if found.provisioning_state == "Failed":
                raise ConflictError(f"Endpoint {name!r} failed: {found.error}")
            return found

        return Poller(wait, timeout)

    def create_or_update(self, endpoint: Any, **kwargs: Any) -> OnlineEndpoint:
        """:meth:`begin_create_or_update` and wait for it."""
        return self.begin_create_or_update(endpoint, **kwargs).result()

    @staticmethod
    def _check_weights(
        name: str,
        traffic: dict[str, int] | None,
        mirror: dict[str, int] | None,
        *,
        known: set[str],
    ) -> None:
        for kind, weights in (("traffic", traffic), ("mirror_traffic", mirror)):
            if not weights:
                continue
            unknown = sorted(set(weights) - known)
            if unknown and any(weights[u] > 0 for u in unknown):
                have = ", ".join(sorted(known)) or "none yet"
                raise InvalidInputError(
                    f"{kind} of endpoint {name!r} names deployment(s) {', '.join(unknown)} that "
                    f"do not exist (its deployments: {have}). Create them first."
                )
        if traffic:
            total = sum(traffic.values())
            if total not in (0, 100):
                raise InvalidInputError(
                    f"The traffic of endpoint {name!r} must add up to 100 (or 0); "
                    f"{', '.join(f'{k}={v}' for k, v in traffic.items())} adds up to {total}."
                )
        if traffic and mirror:
            both = [d for d in mirror if mirror[d] > 0 and traffic.get(d, 0) > 0]
            if both:
                raise InvalidInputError(
                    f"Deployment(s) {', '.join(both)} cannot take live and mirror traffic at once."
                )

    def get(self, name: str) -> OnlineEndpoint:
        rest = self._rest
        return rest.get_endpoint(name) if rest is not None else self._store.get_endpoint(name)

    def list(self) -> list[OnlineEndpoint]:
        rest = self._rest
        return rest.list_endpoints() if rest is not None else self._store.list_endpoints()

    def update_traffic(
        self,
        name: str,
        traffic: dict[str, int] | None = None,
        *,
        mirror_traffic: dict[str, int] | None = None,
        timeout: float = 60.0,
    ) -> OnlineEndpoint:
        """Change the split (``{"blue": 90, "green": 10}``); applied at once, without downtime."""
        rest = self._rest
        if rest is not None:
            return rest.update_traffic(name, traffic, mirror_traffic, timeout=timeout)
        endpoint = self.get(name)
        names = {d.name for d in self._store.list_deployments(name)}
        new_traffic = dict(endpoint.traffic if traffic is None else traffic)
        new_mirror = dict(endpoint.mirror_traffic if mirror_traffic is None else mirror_traffic)
        self._check_weights(name, new_traffic, new_mirror, known=names)
        not_ready = [
            d.name
            for d in self._store.list_deployments(name)
            if new_traffic.get(d.name, 0) > 0 and d.provisioning_state == "Failed"
        ]
        if not_ready:
            raise ConflictError(
                f"Deployment(s) {', '.join(not_ready)} of {name!r} failed to start; fix and "
                "update them before giving them traffic."
            )
        revision = self._store.update_endpoint(name, traffic=new_traffic, mirror_traffic=new_mirror)
        self._host()
        self._wait_applied(revision, timeout)
        return self.get(name)

    def get_keys(self, name: str) -> dict[str, Any]:
        """``{"primaryKey", "secondaryKey"}`` the first time (key mode); a new
        ``{"accessToken", "expiryTimeUtc", "tokenType"}`` each time (aml_token mode)."""
        rest = self._rest
        if rest is not None:
            return rest.get_keys(name)
        endpoint = self.get(name)
        if endpoint.auth_mode == "aml_token":
            return self.get_token(name)
        revealed = self._store.reveal_keys(name)
        shown = {s: k for s, k in revealed.items() if k}
        if not shown:
            raise ConflictError(
                f"The keys of endpoint {name!r} were already shown once; they are stored only as "
                "hashes and cannot be shown again. Make a new one with: modelworks "
                f"online-endpoint regenerate-keys -n {name} --key-type primary"
            )
        return {f"{slot}Key": shown.get(slot) for slot in SLOTS}

    def get_token(self, name: str, *, ttl_s: float = 3600) -> dict[str, Any]:
        """A signed token for the endpoint (valid ``ttl_s`` seconds), in Azure's shape."""
        rest = self._rest
        if rest is not None:
            return rest.get_token(name, ttl_s=ttl_s)
        _, secret, _ = self._store.auth_material(name)
        token, expiry = mint_token(name, secret, ttl_s=ttl_s)
        return {"accessToken": token, "expiryTimeUtc": expiry, "tokenType": "Bearer"}

    def regenerate_keys(
        self, name: str, *, key_type: str = "primary", timeout: float = 60.0
    ) -> dict[str, str]:
        """Replace one key (the old one stops working at once); returns the new key (once)."""
        if key_type not in SLOTS:
            raise InvalidInputError(f"key_type must be 'primary' or 'secondary', got {key_type!r}.")
        rest = self._rest
        if rest is not None:
            return rest.regenerate_keys(name, key_type=key_type, timeout=timeout)
        endpoint = self.get(name)
        if endpoint.auth_mode != "key":
            raise InvalidInputError(
                f"Endpoint {name!r} uses auth_mode {endpoint.auth_mode!r}; only key endpoints have "
                "keys. Get a token with get_keys / get-credentials."
            )
        key = new_key()
        revision = self._store.set_key(name, key_type, hash_key(key), None)
        self._wait_applied(revision, timeout)
        return {f"{key_type}Key": key}

    def begin_delete(self, name: str, *, timeout: float = 120.0) -> Poller[None]:
        """Delete the endpoint and all its deployments (their workers stop)."""
        rest = self._rest
        if rest is not None:
            return Poller(lambda limit: rest.delete_endpoint(name, timeout=limit), timeout)
        revision = self._store.delete_endpoint(name)

        def wait(limit: float) -> None:
            self._wait_applied(revision, limit)

        return Poller(wait, timeout)

    def delete(self, name: str) -> None:
        self.begin_delete(name).result()

    def invoke(
        self,
        endpoint_name: str,
        request_file: str | os.PathLike[str] | None = None,
        *,
        data: Any = None,
        deployment_name: str | None = None,
        key: str | None = None,
        path: str = "/score",
        timeout: float = 60.0,
    ) -> str:
        """Score a request through the endpoint's URL; returns the answer's text.

        Without ``key``, a short-lived token signed with the endpoint's secret is sent.
        Raises the matching error for 4xx/5xx answers (401 UnauthenticatedError, ...).
        """
        import json

        from modelworks.store.rest.scoring import post_scoring_request

        if (request_file is None) == (data is None):
            raise InvalidInputError("Give exactly one of request_file or data.")
        if request_file is not None:
            body = Path(request_file).read_bytes()
        else:
            body = data if isinstance(data, bytes) else json.dumps(data).encode()
        rest = self._rest
        if rest is not None:  # the server calls the endpoint from its machine
            return rest.invoke(
                endpoint_name,
                body,
                deployment_name=deployment_name,
                key=key,
                path=path,
                timeout=timeout,
            )
        endpoint = self.get(endpoint_name)
        credential = key or self.get_token(endpoint_name, ttl_s=300)["accessToken"]
        return post_scoring_request(
            endpoint.scoring_uri.rsplit("/", 1)[0] + path,
            body,
            credential=credential,
            endpoint_name=endpoint_name,
            deployment_name=deployment_name,
            timeout=timeout,
        )


class OnlineDeploymentOperations(_Base):
    """``ws.online_deployments`` (``az ml online-deployment``)."""

    def begin_create_or_update(
        self,
        deployment: OnlineDeploymentSpec | str | os.PathLike[str] | dict[str, Any],
        *,
        all_traffic: bool = False,
        timeout: float = 600.0,
        **overrides: Any,
    ) -> Poller[OnlineDeployment]:
        """Create a deployment or roll out a new version of it (zero downtime).

        ``.result()`` waits until its workers are ready (then ``all_traffic`` gives it 100% of
        the traffic) and raises :class:`DeploymentFailedError` when they did not start (an
        environment that did not build, a scoring script that raised in ``init()``, ...).
        """
        from modelworks.specs.endpoints import OnlineDeploymentSpec, load_deployment_spec

        spec = _coerce_spec(deployment, load_deployment_spec, OnlineDeploymentSpec, **overrides)
        if isinstance(deployment, (str, os.PathLike)):
            base_dir = os.path.dirname(os.path.abspath(os.fspath(deployment)))
        else:
            base_dir = os.getcwd()
        self._ws.online_endpoints.get(spec.endpoint_name)  # fail before registering
        payload = self._payload(spec, base_dir)
        generation = self.submit(payload)
        endpoint_name, name = spec.endpoint_name, spec.name

        def wait(limit: float) -> OnlineDeployment:
            deadline = time.monotonic() + limit
            while True:
                found = self.get(name, endpoint_name)
                if found.generation != generation:
                    raise ConflictError(
                        f"Deployment {name!r} was updated again while this update started "
                        f"(now generation {found.generation})."
                    )
                if found.provisioning_state == "Succeeded":
                    break
                if found.provisioning_state == "Failed":
                    raise DeploymentFailedError(
                        f"Deployment {name!r} of endpoint {endpoint_name!r} failed to start: "
                        f"{found.error}"
                    )
                if time.monotonic() > deadline:
                    raise StoreUnavailableError(
                        f"Deployment {name!r} was not ready within {limit:.0f} s; see "
                        f"modelworks online-deployment get-logs -n {name} -e {endpoint_name}."
                    )
                time.sleep(0.02 if self._rest is None else 0.1)
            if all_traffic:
                self._ws.online_endpoints.update_traffic(endpoint_name, {name: 100})
            return self.get(name, endpoint_name)

        return Poller(wait, timeout)

    def create_or_update(self, deployment: Any, **kwargs: Any) -> OnlineDeployment:
        """:meth:`begin_create_or_update` and wait for it."""
        return self.begin_create_or_update(deployment, **kwargs).result()

    def _payload(self, spec: OnlineDeploymentSpec, base_dir: str) -> dict[str, Any]:
        """What the caller's side resolves: the model, the code snapshot and an inline
        environment (its files are read here, relative to the deployment YAML)."""
        from modelworks.endpoints._environment import RESOLVED_KEY, resolve_inline

        model_name, model_version = self._resolve_model(spec)
        code_owner = self._snapshot_code(spec)
        stored = spec.model_dump(
            mode="json", exclude_none=True, by_alias=False, exclude={"schema_"}
        )
        if isinstance(spec.environment, dict):
            label = f"{spec.endpoint_name}/{spec.name}"
            stored[RESOLVED_KEY] = resolve_inline(spec.environment, base_dir=base_dir, label=label)
        return {
            "spec": stored,
            "model_name": model_name,
            "model_version": model_version,
            "code_owner": code_owner,
        }

    def submit(self, payload: dict[str, Any]) -> int:
        """Store a prepared deployment (see :meth:`_payload`) as the desired state and return
        its generation; a named environment is resolved here, where the workspace is. The
        host is told at once. (The server's ``PUT .../deployments/{name}`` calls this.)"""
        rest = self._rest
        if rest is not None:
            return rest.put_deployment(payload)
        from modelworks.endpoints._environment import RESOLVED_KEY, resolve

        spec = dict(payload["spec"])
        if RESOLVED_KEY not in spec:
            label = f"{spec.get('endpoint_name')}/{spec.get('name')}"
            spec[RESOLVED_KEY] = resolve(self._ws, spec.get("environment"), label=label)
        generation, _ = self._store.put_deployment(
            endpoint=str(spec["endpoint_name"]),
            name=str(spec["name"]),
            spec=spec,
            model_name=payload.get("model_name"),
            model_version=payload.get("model_version"),
            code_owner=payload.get("code_owner"),
        )
        self._host()  # a host runs (started when none does) and looks at the change now
        self._ring()
        return int(generation)

    def _resolve_model(self, spec: OnlineDeploymentSpec) -> tuple[str | None, str | None]:
        if spec.model is None:
            return None, None
        if isinstance(spec.model, dict):
            path = spec.inline_model_path or ""
            record = self._ws.models.register(
                path,
                name=f"{spec.endpoint_name}-{spec.name}",
                description=f"Model of deployment {spec.name} of endpoint {spec.endpoint_name}",
                tags={"modelworks.deployment": f"{spec.endpoint_name}/{spec.name}"},
            )
            return record.name, record.version
        record = self._ws.models.get(spec.model)
        return record.name, record.version

    def _snapshot_code(self, spec: OnlineDeploymentSpec) -> str | None:
        code = spec.code_configuration
        if code is None:
            return None
        from modelworks.artifacts import tree_hash

        folder = Path(code.code)
        if not folder.is_dir():
            raise NotFoundError(
                f"code_configuration.code {code.code!r} of deployment {spec.name!r} is not a "
                "folder; point it at the folder that holds the scoring script."
            )
        if not (folder / code.scoring_script).is_file():
            raise NotFoundError(
                f"The scoring script {code.scoring_script!r} is not in {folder}; "
                "code_configuration.scoring_script is relative to code_configuration.code."
            )
        trees = self._ws.runs.trees
        entries = trees.store_path(folder)
        owner = f"endpoint-code/{tree_hash(entries)[:32]}"
        if not trees.list(owner):
            self._ws.meta.put_artifact_entries(owner, entries)
        return owner

    def get(self, name: str, endpoint_name: str) -> OnlineDeployment:
        rest = self._rest
        if rest is not None:
            return rest.get_deployment(endpoint_name, name)
        return self._store.get_deployment(endpoint_name, name)

    def list(self, endpoint_name: str | None = None) -> list[OnlineDeployment]:
        rest = self._rest
        if rest is not None:
            return rest.list_deployments(endpoint_name)
        return self._store.list_deployments(endpoint_name)

    def begin_delete(
        self, name: str, endpoint_name: str, *, timeout: float = 120.0
    ) -> Poller[None]:
        """Delete a deployment that takes no traffic (its workers drain and stop)."""
        rest = self._rest
        if rest is not None:
            return Poller(
                lambda limit: rest.delete_deployment(endpoint_name, name, timeout=limit), timeout
            )
        endpoint = self._store.get_endpoint(endpoint_name)
        self._store.get_deployment(endpoint_name, name)
        if endpoint.traffic.get(name, 0) > 0 or endpoint.mirror_traffic.get(name, 0) > 0:
            raise ConflictError(
                f"Deployment {name!r} still takes traffic on endpoint {endpoint_name!r} "
                f"({endpoint.traffic}). Move its traffic first: modelworks online-endpoint "
                f'update -n {endpoint_name} --traffic "<other>=100"'
            )
        revision = self._store.delete_deployment(endpoint_name, name)

        def wait(limit: float) -> None:
            self._wait_applied(revision, limit)

        return Poller(wait, timeout)

    def delete(self, name: str, endpoint_name: str) -> None:
        self.begin_delete(name, endpoint_name).result()

    def get_logs(self, name: str, endpoint_name: str, *, lines: int = 50) -> str:
        """The last ``lines`` lines of the deployment's workers' log."""
        rest = self._rest
        if rest is not None:
            return rest.get_logs(endpoint_name, name, lines=lines)
        from modelworks.endpoints._workers import tail
        from modelworks.endpoints.host import runtime_dir

        self._store.get_deployment(endpoint_name, name)
        path = runtime_dir(self._ws) / "logs" / endpoint_name / f"{name}.log"
        if not path.exists():
            return ""
        return tail(path, lines)

    def package(self, name: str, endpoint_name: str, output: str | os.PathLike[str]) -> Path:
        """Write a container build context for the deployment (see docs/endpoints.md)."""
        from modelworks.endpoints.packaging import write_build_context

        return write_build_context(self._ws, self.get(name, endpoint_name), Path(output))
