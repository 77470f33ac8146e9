"""Token authentication and role checks for the API.

Clients send ``Authorization: Bearer <token>`` (or ``Basic`` with the token as the password,
which some tools send). The token is hashed and looked up with
``MetadataStore.get_token_by_hash``; lookups are cached for a few seconds so that logging a
metric batch does not cost a database query for auth. Revoking a token through this server
clears the cache at once; another server process on the same database notices within the TTL.

Which role a request needs (see :func:`required_role`): token routes need ``admin``; reads
(GET, HEAD and the read-only POSTs such as run search) need ``reader``; everything else needs
``writer``.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import Annotated

import anyio.to_thread
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelworks.entities import Token
from modelworks.errors import NotFoundError, PermissionDeniedError, UnauthenticatedError
from modelworks.jobs.queue import JOB_READ_METHODS
from modelworks.server.paths import API_PREFIX
from modelworks.server.tokens import hash_token, role_allows
from modelworks.store.base import MetadataStore

__all__ = ["TokenAuthenticator", "authorize", "required_role"]

#: POST routes that only read (they take a body): the reader role is enough.
READ_ONLY_POSTS = frozenset(
    {f"{API_PREFIX}/runs/search", *(f"{API_PREFIX}/job-store/{m}" for m in JOB_READ_METHODS)}
)

#: Request bodies drained before refusing a request, so the client can read the refusal.
_DRAIN_LIMIT = 64 * 1024 * 1024

_HOW_TO = (
    "Pass a token as `Authorization: Bearer <token>` (SDK: Workspace(url, token=...) or the "
    "MODELWORKS_TOKEN environment variable). An admin creates tokens with "
    "`modelworks token create --name NAME --role reader|writer|admin`."
)


def required_role(method: str, path: str) -> str:
    """The least role allowed to make this request."""
    if path == f"{API_PREFIX}/tokens" or path.startswith(f"{API_PREFIX}/tokens/"):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and path in READ_ONLY_POSTS):
        return "reader"
    return "writer"


def _secret_from_header(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    return None


class TokenAuthenticator:
    """Resolves token secrets to tokens through the store, with a short-lived cache."""

    def __init__(self, meta: MetadataStore, *, ttl_s: float = 5.0, max_entries: int = 4096):
        self.meta = meta
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[Token | None, float]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> tuple[bool, Token | None]:
        """``(hit, token)`` from the cache without touching the store."""
        key = hash_token(secret)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0]
        return False, None

    def lookup(self, secret: str) -> Token | None:
        """The live (not revoked) token with this secret, or None. Blocking on a cache miss."""
        found, token = self.cached(secret)
        if found:
            return token
        key = hash_token(secret)
        try:
            token = self.meta.get_token_by_hash(key)
        except NotFoundError:
            token = None
        if token is not None and token.revoked:
            token = None
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[key] = (token, time.monotonic() + self.ttl_s)
        return token

    def invalidate(self) -> None:
        """Forget every cached lookup (after a token is created or revoked here)."""
        with self._lock:
            self._cache.clear()


async def _drain(request: Request) -> None:
    """Read (and drop) a refused request's body so the client gets to read the answer."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except Exception:  # noqa: BLE001 - best effort: the client may have gone already
        return


#: Declares the scheme in the OpenAPI document (the "Authorize" button of /docs); the header
#: itself is parsed by :func:`authorize`, which also accepts Basic.
bearer_scheme = HTTPBearer(
    auto_error=False, description="An API token (mw_...): `Authorization: Bearer <token>`."
)


async def authorize(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> None:
    """FastAPI dependency on every ``/api/v1`` route: check the token and its role."""
    authenticator: TokenAuthenticator | None = request.app.state.authenticator
    if authenticator is None:
        return
    header = request.headers.get("authorization")
    if not header:
        await _drain(request)
        raise UnauthenticatedError(f"This server requires an API token. {_HOW_TO}")
    secret = _secret_from_header(header)
    if secret is None:
        await _drain(request)
        raise UnauthenticatedError(
            f"Unsupported Authorization header (expected 'Bearer <token>'). {_HOW_TO}"
        )
    found, token = authenticator.cached(secret)
    if not found:
        token = await anyio.to_thread.run_sync(authenticator.lookup, secret)
    if token is None:
        await _drain(request)
        raise UnauthenticatedError(f"The API token is unknown or revoked. {_HOW_TO}")
    needed = required_role(request.method, request.scope["path"])
    if not role_allows(token.role, needed):
        await _drain(request)
        raise PermissionDeniedError(
            f"{request.method} {request.url.path} needs the {needed!r} role; token "
            f"{token.name!r} has role {token.role!r}. Ask an admin for a {needed} token "
            f"(`modelworks token create --role {needed}`).",
            needed_role=needed,
            token_role=token.role,
        )
    request.state.token = token
