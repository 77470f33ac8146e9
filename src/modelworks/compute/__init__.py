"""Compute targets: where a job's command runs. ``local`` (child processes of a worker on
this machine) or ``ray`` (a Ray cluster at an address). :func:`open_executor` picks the
adapter for a compute record in one place; Ray is imported only when a Ray compute is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelworks.compute.base import Execution, Executor, ProcessSpec

if TYPE_CHECKING:
    from modelworks.jobs.queue import ComputeRecord

__all__ = ["LOCAL", "Execution", "Executor", "ProcessSpec", "open_executor"]

#: The name of the built-in compute: worker processes on this machine.
LOCAL = "local"


def open_executor(compute: ComputeRecord | None) -> Executor:
    """The executor for ``compute`` (None means the built-in local compute)."""
    if compute is None or compute.type == "local":
        from modelworks.compute.local import LocalExecutor

        return LocalExecutor()
    if compute.type == "ray":
        from modelworks.compute.ray import RayExecutor

        return RayExecutor(compute.address or "auto", config=compute.config)
    from modelworks.errors import InvalidInputError

    raise InvalidInputError(f"Compute {compute.name!r} has unknown type {compute.type!r}.")
