"""Path segments that may hold any string, including '/', '%', '.' or nothing at all.

The REST adapter must pass names, versions and ids to the store exactly as the caller gave
them, so that a strange name gets the same error from a server as from a local workspace. The
client percent-encodes every segment (``quote(s, safe="")``, and ``.``/``..`` as ``%2E``).
Servers normally decode ``%2F`` into '/' *before* routing, which would split such a segment;
:class:`RawPathMiddleware` therefore routes ``/api/v1`` requests on the still-encoded path, and
the ``seg`` convertor decodes each parameter after matching. Routes use ``{name:seg}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["API_PREFIX", "RawPathMiddleware", "SegmentConvertor"]

API_PREFIX = "/api/v1"


class SegmentConvertor(Convertor[str]):
    """One percent-encoded path segment (possibly empty), decoded after routing."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        from urllib.parse import quote

        return quote(value, safe="")


register_url_convertor("seg", SegmentConvertor())


class RawPathMiddleware:
    """Route ``/api/v1/...`` requests on the raw (still percent-encoded) path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            raw: Any = scope.get("raw_path")
            if isinstance(raw, bytes | bytearray):
                raw_path = bytes(raw).split(b"?", 1)[0].decode("latin-1")
                if raw_path.startswith(API_PREFIX):
                    scope = dict(scope)
                    scope["path"] = raw_path
        await self.app(scope, receive, send)
