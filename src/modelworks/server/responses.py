"""The JSON response class of the API and the page shape of listings.

Metric values may be NaN or ±Infinity (as in MLflow), which strict JSON cannot express, so the
API writes them the way Python's ``json`` module does (``NaN``, ``Infinity``); the REST client
reads them back with ``json.loads``. Other clients see standard JSON for every other value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from modelworks.entities import Record

__all__ = ["JSON", "entity", "page"]


class JSON(Response):
    """``application/json`` written with ``allow_nan=True`` and no extra whitespace."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=True, separators=(",", ":")
        ).encode("utf-8")


def entity(record: Record, *, status_code: int = 200) -> JSON:
    """One entity as its ``to_dict()`` form."""
    return JSON(record.to_dict(), status_code=status_code)


def page(items: Iterable[Any], next_page_token: str | None = None) -> JSON:
    """A listing: ``{"items": [...], "next_page_token": ...}`` (entities as dicts)."""
    return JSON(
        {
            "items": [i.to_dict() if isinstance(i, Record) else i for i in items],
            "next_page_token": next_page_token,
        }
    )
