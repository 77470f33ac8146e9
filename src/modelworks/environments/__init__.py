"""Environments: named, versioned Python environment specs (pip requirements, conda files,
images), materialised on workers as cached virtualenvs keyed by the spec's hash.

- :mod:`.resolve` turns a job's ``environment:`` value into a resolved mapping;
- :mod:`.builder` builds and caches the virtualenv (uv, or venv + pip);
- :mod:`.conda` maps conda files to pip requirements;
- :mod:`.operations` is ``ws.environments``.
"""

from __future__ import annotations

from modelworks.specs.environment import EnvironmentSpec

__all__ = ["Environment"]


class Environment(EnvironmentSpec):
    """An environment spec in Python: ``Environment(name="sk", pip_requirements=["scikit-learn"])``
    or ``Environment(image="...", conda_file="conda.yml")``."""
