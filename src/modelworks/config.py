"""Where a workspace lives and what it is made of.

A workspace is either a local folder or a server URL. A folder holds ``workspace.yaml`` naming
its metadata database and blob store; both default to files inside the folder::

    metadata_uri: sqlite:////abs/path/ws/modelworks.db     # or postgresql+psycopg://...
    artifact_uri: /abs/path/ws/blobs                      # or s3://bucket/prefix

Resolution order for the workspace location: explicit argument, ``MODELWORKS_WORKSPACE``,
``./.modelworks``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from modelworks.errors import InvalidInputError

__all__ = ["WorkspaceConfig", "default_location", "is_url", "load_config"]

CONFIG_FILE = "workspace.yaml"
ENV_WORKSPACE = "MODELWORKS_WORKSPACE"
ENV_TOKEN = "MODELWORKS_TOKEN"
ENV_HEARTBEAT_TIMEOUT = "MODELWORKS_HEARTBEAT_TIMEOUT"


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def default_location() -> str:
    return os.environ.get(ENV_WORKSPACE) or ".modelworks"


@dataclasses.dataclass(frozen=True)
class WorkspaceConfig:
    """The resolved parts of a local workspace."""

    root: Path
    metadata_uri: str
    artifact_uri: str

    def write(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"metadata_uri": self.metadata_uri, "artifact_uri": self.artifact_uri}
        (self.root / CONFIG_FILE).write_text(yaml.safe_dump(data, sort_keys=False))


def load_config(
    location: str | os.PathLike[str],
    *,
    metadata_uri: str | None = None,
    artifact_uri: str | None = None,
    create: bool = True,
) -> WorkspaceConfig:
    """Read (or, with ``create``, initialise) the workspace folder at ``location``."""
    root = Path(location).expanduser().resolve()
    path = root / CONFIG_FILE
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise InvalidInputError(f"{path} is not valid YAML: {e}. Fix or delete it.") from e
        if not isinstance(loaded, dict):
            raise InvalidInputError(f"{path} must be a mapping with metadata_uri and artifact_uri.")
        stored = {str(k): str(v) for k, v in loaded.items()}
    elif not create:
        raise InvalidInputError(
            f"No workspace at {root}: run `modelworks init {location}` or pass create=True."
        )
    config = WorkspaceConfig(
        root=root,
        metadata_uri=metadata_uri
        or stored.get("metadata_uri")
        or f"sqlite:///{root / 'modelworks.db'}",
        artifact_uri=artifact_uri or stored.get("artifact_uri") or str(root / "blobs"),
    )
    if create and (not path.exists() or metadata_uri or artifact_uri):
        config.write()
    return config
