"""Parsing of asset references in the forms Azure ML and MLflow users already write.

- ``azureml:<name>:<version>``, ``azureml:<name>@latest``, ``<name>:<version>``, ``<name>@<label>``
- ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/latest``
- ``runs:/<run_id>/<path>``
- ``data:/<name>/<version>``, ``data:/<name>@latest``
"""

from __future__ import annotations

import dataclasses
import re

from modelworks.errors import InvalidInputError

__all__ = ["AssetRef", "RunArtifactRef", "parse_asset_ref", "parse_runs_uri"]


@dataclasses.dataclass(frozen=True)
class AssetRef:
    """A named asset at a version ('latest' allowed) or at an alias (``label``)."""

    name: str
    version: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.label}" if self.label else f"{self.name}:{self.version}"


@dataclasses.dataclass(frozen=True)
class RunArtifactRef:
    run_id: str
    path: str


_AZUREML_REGISTRY = re.compile(r"^azureml://.*?/(?P<kind>models|data|environments)/(?P<rest>.+)$")


def parse_asset_ref(ref: str, *, scheme: str = "models") -> AssetRef:
    """Parse a model or data reference; ``scheme`` is the short-URI scheme accepted besides azureml:.

    A bare name means its latest version.
    """
    text = ref.strip()
    if not text:
        raise InvalidInputError("Empty asset reference; expected e.g. 'name@latest' or 'name:3'.")
    match = _AZUREML_REGISTRY.match(text)
    if match:
        rest = match.group("rest")
        parts = rest.split("/")
        if len(parts) == 3 and parts[1] == "versions":
            return AssetRef(parts[0], version=parts[2])
        if len(parts) == 3 and parts[1] == "labels":
            return _label_ref(parts[0], parts[2])
        return AssetRef(parts[0], version="latest")
    if text.startswith("azureml:"):
        text = text[len("azureml:") :]
    elif text.startswith(f"{scheme}:/"):
        body = text[len(scheme) + 2 :].lstrip("/")
        if "@" in body:
            name, _, label = body.partition("@")
            return _label_ref(name, label)
        name, _, version = body.partition("/")
        if not name:
            raise InvalidInputError(
                f"Reference {ref!r} has no name; expected {scheme}:/<name>/<version>."
            )
        return AssetRef(name, version=version or "latest")
    if "@" in text:
        name, _, label = text.partition("@")
        return _label_ref(name, label)
    if ":" in text:
        name, _, version = text.rpartition(":")
        return AssetRef(name, version=version)
    return AssetRef(text, version="latest")


def _label_ref(name: str, label: str) -> AssetRef:
    if not name or not label:
        raise InvalidInputError(f"Reference '{name}@{label}' needs both a name and a label.")
    if label == "latest":
        return AssetRef(name, version="latest")
    return AssetRef(name, label=label)


def parse_runs_uri(uri: str) -> RunArtifactRef:
    """``runs:/<run_id>/<path>`` → run id and artifact path (path may be empty)."""
    if not uri.startswith("runs:/"):
        raise InvalidInputError(f"{uri!r} is not a runs:/ URI; expected runs:/<run_id>/<path>.")
    body = uri[len("runs:/") :].lstrip("/")
    run_id, _, path = body.partition("/")
    if not run_id:
        raise InvalidInputError(f"{uri!r} has no run id; expected runs:/<run_id>/<path>.")
    return RunArtifactRef(run_id, path.strip("/"))
