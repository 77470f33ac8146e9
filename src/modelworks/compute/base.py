"""The Executor port: run one prepared job's command somewhere and report on it.

The jobs service prepares everything a job needs on the worker (code snapshot, inputs,
environment, variables) and hands an executor a :class:`ProcessSpec`; the executor starts
the command and returns an :class:`Execution` the service polls. Adapters: ``compute.local``
(a child process on this machine) and ``compute.ray`` (a Ray job on a cluster).

Contract of every executor (checked by the same tests for each, ``tests/compute``):

- :meth:`Executor.start` returns once the command has been started (or raises
  :class:`~modelworks.errors.ModelworksError` saying why it could not be); it never blocks
  until the command ends.
- :meth:`Execution.read` returns output produced since the previous call, as
  ``(stream, text)`` pairs in the order it arrived (``stream`` is ``"stdout"`` or
  ``"stderr"``; executors that cannot tell the two apart report ``"stdout"``). After
  :meth:`Execution.wait` has returned an exit code, one more ``read`` returns the rest.
- :meth:`Execution.wait` returns the exit code, or None if the command is still running
  after ``timeout`` seconds. A command killed by a signal reports a negative code.
- :meth:`Execution.cancel` stops the command and everything it started (the process tree),
  waiting up to ``grace_s`` for a clean exit before killing; calling it twice is harmless.
- Methods of one execution are called from one thread at a time; executors are
  thread-safe across executions.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

__all__ = ["Execution", "Executor", "ProcessSpec"]


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    """What to run: a shell command line, in a folder, with an environment.

    ``env`` is the whole environment for a process on this machine; remote executors send
    only the job's own variables (``job_vars``, plus the ``MODELWORKS_*`` / ``MLFLOW_*``
    ones) and put ``path_prefix`` (the environment's ``bin`` folder) first on PATH.
    """

    command: str
    cwd: str
    env: dict[str, str]
    name: str = ""
    job_vars: frozenset[str] = frozenset()
    path_prefix: str = ""


class Execution(abc.ABC):
    """One started command."""

    @abc.abstractmethod
    def read(self) -> list[tuple[str, str]]:
        """Output since the last call: ``(stream, text)`` pairs in arrival order."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""

    @abc.abstractmethod
    def cancel(self, grace_s: float = 3.0) -> None:
        """Stop the command and its children (terminate, then kill after ``grace_s``)."""

    def describe(self) -> dict[str, Any]:
        """Where it runs (host, pid, cluster job id...), for the job's records."""
        return {}


class Executor(abc.ABC):
    """Starts commands on one kind of compute."""

    kind: str = ""

    @abc.abstractmethod
    def start(self, spec: ProcessSpec) -> Execution:
        """Start ``spec.command``; returns at once with a handle to it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The default does nothing."""
