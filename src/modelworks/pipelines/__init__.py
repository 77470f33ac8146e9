"""Pipelines: components (``ws.components``), pipeline jobs (YAML ``type: pipeline`` and the
``@dsl.pipeline`` DSL), validation, the driver that runs steps as child jobs, step reuse and
``if_else`` conditions.

- :mod:`.components` — :class:`Component`, :func:`load_component`, :func:`command_component`,
  ``ws.components``;
- :mod:`.dsl` — ``@dsl.pipeline``, ``dsl.condition``;
- :mod:`.validate` — the checks before anything runs, and the resolved plan;
- :mod:`.submit` / :mod:`.driver` — queueing the parent job and running its steps;
- :mod:`.reuse` — step fingerprints; :mod:`.store` — the PipelineStore port.
"""

from __future__ import annotations

from modelworks.pipelines import dsl
from modelworks.pipelines.components import Component, command_component, load_component

__all__ = ["Component", "command_component", "dsl", "load_component"]
