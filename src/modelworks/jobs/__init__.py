"""Jobs: Azure-ML-style command and sweep jobs run by workers on a compute.

- :mod:`.entities` — the SDK objects (:func:`command`, :func:`sweep`, :class:`Input`,
  :class:`Output`, :class:`Job`);
- :mod:`.operations` — ``ws.jobs`` (create, get, list, stream, cancel, download);
- :mod:`.queue` — the JobStore port (queue with leases, live logs, workers, environments,
  computes); ``store.sql.jobs`` implements it;
- :mod:`.runner` / :mod:`.worker` — preparing, running and finalising claimed jobs.
"""

from __future__ import annotations

from modelworks.jobs.entities import CommandJob, Input, Job, Output, SweepJob, command, sweep

__all__ = ["CommandJob", "Input", "Job", "Output", "SweepJob", "command", "sweep"]
