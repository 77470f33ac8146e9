"""API tokens: how they are made, hashed and ranked. No web framework here.

A token is ``mw_`` followed by 43 URL-safe random characters. Only its sha256 (hex) is stored,
so a leaked database does not leak usable tokens; the plain text is shown once, at creation.
Roles are ranked: ``reader`` (GET/HEAD) < ``writer`` (+ writes) < ``admin`` (+ tokens).
"""

from __future__ import annotations

import hashlib
import secrets

from modelworks.errors import InvalidInputError
from modelworks.store.base import MetadataStore

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "create_token",
    "hash_token",
    "new_token",
    "role_allows",
    "validate_role",
]

TOKEN_PREFIX = "mw_"

#: Role name -> rank. A token may do what its role's rank and every lower rank may do.
ROLES: dict[str, int] = {"reader": 0, "writer": 1, "admin": 2}


def new_token() -> str:
    """A fresh random token (``mw_`` + ``secrets.token_urlsafe(32)``)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The sha256 hex digest stored in place of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_role(role: str) -> str:
    """Return ``role`` if it is a known role, else raise InvalidInputError naming the choices."""
    if role not in ROLES:
        raise InvalidInputError(f"Unknown token role {role!r}; expected one of {', '.join(ROLES)}.")
    return role


def role_allows(role: str, needed: str) -> bool:
    """Whether a token with ``role`` may do what needs ``needed``. Unknown roles may do nothing."""
    have = ROLES.get(role)
    return have is not None and have >= ROLES[needed]


def create_token(meta: MetadataStore, name: str, role: str) -> str:
    """Create a token in ``meta`` (local or REST) and return its plain text, shown only now."""
    validate_role(role)
    token = new_token()
    meta.create_token(name=name, role=role, token_hash=hash_token(token))
    return token
