"""``ws.compute``: named compute targets (``az ml compute``).

``local`` always exists (worker processes on this machine, at most one job per core unless
registered with another ``max_concurrency``); ``ray`` computes name a cluster address. A job
whose ``compute:`` names an Azure cluster that is not registered here runs on ``local``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from modelworks.entities import now_ms
from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.jobs.queue import ComputeRecord

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobStore

__all__ = ["ComputeOperations", "local_compute"]

TYPES = ("local", "ray")


def local_compute() -> ComputeRecord:
    """The built-in ``local`` compute as it is when not registered."""
    return ComputeRecord(
        name="local",
        type="local",
        created_at=0,
        max_concurrency=os.cpu_count() or 1,
        description="Worker processes on this machine.",
    )


class ComputeOperations:
    """Create, get, list and delete computes."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def create(
        self,
        name: str,
        *,
        type: str = "local",
        address: str | None = None,
        max_concurrency: int | None = None,
        description: str = "",
        config: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> ComputeRecord:
        """Register a compute: ``type="ray"`` needs ``address`` (``host:6379``, ``ray://host:10001``
        or the dashboard's ``http://host:8265``)."""
        if type not in TYPES:
            raise InvalidInputError(
                f"Unknown compute type {type!r}; expected one of {', '.join(TYPES)}."
            )
        if type == "ray" and not address:
            raise InvalidInputError(
                "A ray compute needs --address (e.g. 127.0.0.1:6379 or http://127.0.0.1:8265)."
            )
        if type == "local" and address:
            raise InvalidInputError("A local compute takes no address.")
        if max_concurrency is not None and max_concurrency < 1:
            raise InvalidInputError(f"max_concurrency must be at least 1, got {max_concurrency}.")
        record = ComputeRecord(
            name=name,
            type=type,
            created_at=now_ms(),
            address=address,
            max_concurrency=max_concurrency,
            description=description,
            config=dict(config or {}),
        )
        return self._store.create_compute(record, replace=replace)

    def get(self, name: str) -> ComputeRecord:
        try:
            return self._store.get_compute(name)
        except NotFoundError:
            if name == "local":
                return local_compute()
            raise

    def list(self) -> list[ComputeRecord]:
        found = self._store.list_computes()
        if not any(c.name == "local" for c in found):
            found.insert(0, local_compute())
        return found

    def delete(self, name: str) -> None:
        if name == "local":
            try:
                self._store.delete_compute(name)
            except NotFoundError:
                raise InvalidInputError("The built-in local compute cannot be deleted.") from None
            return
        self._store.delete_compute(name)
