"""``ws.environments``: register, find and build versioned environments (``az ml environment``).

Registering reads the spec's files (conda file, requirements) once and stores their content
with the version, so a job that uses ``azureml:<name>:<version>`` later gets exactly that.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from modelworks.environments.resolve import normalise_spec
from modelworks.errors import InvalidInputError
from modelworks.references import parse_asset_ref
from modelworks.specs.environment import EnvironmentSpec, load_environment_spec

if TYPE_CHECKING:
    from modelworks.environments.builder import MaterialisedEnvironment
    from modelworks.jobs.queue import EnvironmentRecord, JobStore

__all__ = ["EnvironmentOperations"]


class EnvironmentOperations:
    """Create, get, list and build environments."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def create(
        self,
        environment: EnvironmentSpec | str | os.PathLike[str],
        *,
        name: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
    ) -> EnvironmentRecord:
        """Register ``environment`` (a spec object or the path of an environment YAML).

        A spec identical to an existing version of the name returns that version.
        """
        spec = (
            environment
            if isinstance(environment, EnvironmentSpec)
            else load_environment_spec(os.fspath(environment))
        )
        final_name = name or spec.name
        if not final_name:
            raise InvalidInputError(
                "An environment needs a name: set 'name:' in the YAML or pass name=..."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            resolved = normalise_spec(spec, label=final_name)
        resolved.pop("label", None)
        if resolved["kind"] == "inherit":
            resolved["hash"] = "inherit:" + str(resolved.get("image") or "")
        record, _created = self._store.create_environment(
            final_name,
            spec=resolved,
            spec_hash=str(resolved["hash"]),
            version=str(version) if version is not None else spec.version,
            description=description if description is not None else spec.description,
            tags=dict(spec.tags),
        )
        return record

    def get(self, ref: str, version: str | int | None = None) -> EnvironmentRecord:
        """``ref``: 'name', 'name@latest', 'name:2', 'azureml:name:2'."""
        parsed = parse_asset_ref(ref, scheme="environments")
        if parsed.label is not None:
            raise InvalidInputError(
                f"Environments have no label {parsed.label!r}; use {parsed.name}@latest or "
                f"{parsed.name}:<version>."
            )
        wanted = str(version) if version is not None else parsed.version or "latest"
        return self._store.get_environment(parsed.name, wanted)

    def list(self, name: str | None = None) -> list[EnvironmentRecord]:
        """Versions of ``name`` newest first, or the latest version of each environment."""
        if name is not None:
            self._store.get_environment(name, "latest")
        return self._store.list_environments(name)

    def build(self, ref: str, **kwargs: Any) -> MaterialisedEnvironment:
        """Build (or find cached) the virtualenv of a registered environment now."""
        from modelworks.environments.builder import materialise

        record = self.get(ref)
        return materialise({**record.spec, "label": f"{record.name}:{record.version}"}, **kwargs)

    @staticmethod
    def dockerfile(record: EnvironmentRecord) -> str | None:
        """A Dockerfile that builds the environment on its ``image``, if it names one."""
        return dockerfile_for(record.spec)


def dockerfile_for(resolved: dict[str, Any]) -> str | None:
    """A Dockerfile for a resolved environment with an ``image`` (or its own Dockerfile)."""
    if resolved.get("dockerfile"):
        return str(resolved["dockerfile"])
    image = resolved.get("image")
    if not image:
        return None
    lines = [f"FROM {image}"]
    if resolved.get("requirements"):
        lines += [
            "COPY requirements.txt /tmp/requirements.txt",
            "RUN python -m pip install --no-cache-dir -r /tmp/requirements.txt",
        ]
    return "\n".join(lines) + "\n"
