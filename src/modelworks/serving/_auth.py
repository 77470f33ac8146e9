"""Endpoint credentials: random keys (stored as sha256 hashes) and signed, expiring tokens.

Keys are 43 random URL-safe characters; only their sha256 is stored, so a key is shown once.
Tokens (``auth_mode: aml_token``, and what ``modelworks online-endpoint invoke`` sends) are
``mwt.<endpoint>.<expiry>.<signature>``: an HMAC-SHA256 with the endpoint's secret over the
endpoint name and the expiry time, checked without a database round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

__all__ = ["hash_key", "mint_token", "new_key", "new_secret", "verify_token"]

TOKEN_PREFIX = "mwt."


def new_key() -> str:
    """A new random endpoint key."""
    return secrets.token_urlsafe(32)


def new_secret() -> str:
    """A new random token-signing secret."""
    return secrets.token_hex(32)


def hash_key(key: str | bytes) -> str:
    """The sha256 (hex) a key is stored as."""
    data = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(data).hexdigest()


def _signature(endpoint: str, expiry: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"{endpoint}.{expiry}".encode(), hashlib.sha256).hexdigest()


def mint_token(endpoint: str, secret: str, *, ttl_s: float = 3600) -> tuple[str, int]:
    """A token for ``endpoint`` valid ``ttl_s`` seconds: ``(token, expiry unix time)``."""
    expiry = int(time.time() + ttl_s)
    return f"{TOKEN_PREFIX}{endpoint}.{expiry}.{_signature(endpoint, expiry, secret)}", expiry


def verify_token(token: str, endpoint: str, secret: str) -> bool:
    """Whether ``token`` was minted for ``endpoint`` with ``secret`` and has not expired."""
    if not token.startswith(TOKEN_PREFIX):
        return False
    try:
        name, expiry_text, signature = token[len(TOKEN_PREFIX) :].rsplit(".", 2)
        expiry = int(expiry_text)
    except ValueError:
        return False
    if name != endpoint or expiry < time.time():
        return False
    return hmac.compare_digest(signature, _signature(endpoint, expiry, secret))
