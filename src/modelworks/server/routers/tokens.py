"""``/api/v1/tokens`` (admin only) and ``/api/v1/auth/whoami`` (any valid token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import JSON, entity, page
from modelworks.server.schemas import TokenCreate

router = APIRouter(tags=["tokens"])


def _forget_cached_tokens(request: Request) -> None:
    authenticator = request.app.state.authenticator
    if authenticator is not None:
        authenticator.invalidate()


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, request: Request, meta: Meta) -> Response:
    """Store a token's sha256; the caller made the token and keeps its plain text."""
    token = meta.create_token(name=body.name, role=body.role, token_hash=body.token_hash)
    _forget_cached_tokens(request)
    return entity(token, status_code=201)


@router.get("/tokens")
def list_tokens(meta: Meta) -> Response:
    """Every token (never their secrets)."""
    return page(meta.list_tokens())


@router.get("/tokens/by-hash/{token_hash:seg}")
def get_token_by_hash(token_hash: str, meta: Meta) -> Response:
    """The token whose sha256 is ``token_hash``."""
    return entity(meta.get_token_by_hash(token_hash))


@router.delete("/tokens/{token_id:seg}", status_code=204)
def revoke_token(token_id: str, request: Request, meta: Meta) -> Response:
    """Revoke a token; it stops working at once on this server."""
    meta.revoke_token(token_id)
    _forget_cached_tokens(request)
    return Response(status_code=204)


@router.get("/auth/whoami")
async def whoami(request: Request) -> Response:
    """The calling token's name and role (``anonymous``/``admin`` when auth is off)."""
    token = getattr(request.state, "token", None)
    if token is None:
        return JSON({"name": "anonymous", "role": "admin", "auth": False})
    return JSON({"name": token.name, "role": token.role, "auth": True})
