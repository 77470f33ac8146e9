"""From what a job spec says (``environment: ...``) to what a worker materialises.

A resolved environment is a JSON-safe mapping stored with the job::

    {"kind": "inherit", "label": "inherit"}
    {"kind": "venv", "label": "sklearn-env:2", "python": "3.11",
     "requirements": ["scikit-learn==1.5.*"], "image": None, "hash": "<sha256>"}

- ``inherit`` (or nothing) is the interpreter the worker runs on.
- A registered environment (``azureml:name:version``, ``name@latest``) uses its stored spec.
- An inline spec (``image`` + ``conda_file``, ``pip_requirements``) is normalised here, with
  the files read now, so the job does not depend on them later.
- Azure-only things — curated environments (``AzureML-sklearn-1.5``,
  ``azureml://registries/azureml/...``) and a bare ``image`` — map to the local environment
  named by ``MODELWORKS_CURATED_ENVIRONMENT`` (default ``inherit``) with a one-line warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any

from modelworks.errors import NotFoundError, SpecError
from modelworks.specs import SpecWarning, load_yaml_file
from modelworks.specs.environment import EnvironmentSpec

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobStore

__all__ = [
    "ENV_CURATED",
    "INHERIT",
    "is_curated",
    "normalise_spec",
    "resolve_environment",
]

ENV_CURATED = "MODELWORKS_CURATED_ENVIRONMENT"
INHERIT: dict[str, Any] = {"kind": "inherit", "label": "inherit"}

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments/(?P<name>[^/]+)(?:/(?P<kind>versions|labels)/(?P<v>[^/]+))?/?$"
)


def is_curated(reference: str) -> bool:
    """Azure ML's curated environments: ``AzureML-*`` names and the ``azureml`` registry."""
    text = reference.strip()
    if text.startswith("azureml://registries/"):
        return True
    name = text.removeprefix("azureml:").split("@", 1)[0].split(":", 1)[0]
    return name.lower().startswith("azureml-")


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _requirements_file(path: str, where: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError as e:
        raise SpecError(f"{where}: requirements file {path!r} does not exist.") from e
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        # Relative paths of local wheels/folders resolve against the requirements file.
        if line.startswith(("./", "../")) or (
            line.endswith((".whl", ".tar.gz")) and not os.path.isabs(line) and "://" not in line
        ):
            line = os.path.normpath(os.path.join(base, line))
        for flag in ("--find-links ", "-f "):
            if line.startswith(flag):
                target = line[len(flag) :].strip()
                if "://" not in target and not os.path.isabs(target):
                    line = flag + os.path.normpath(os.path.join(base, target))
        out.append(line)
    return out


def normalise_spec(spec: EnvironmentSpec, *, label: str = "inline") -> dict[str, Any]:
    """The resolved mapping for a spec (files read now). May warn (SpecWarning)."""
    from modelworks.environments.conda import conda_to_pip

    python = spec.python
    requirements: list[str] = []
    conda: dict[str, Any] | None = None
    where = f"environment {label}"
    if spec.conda_file is not None:
        if isinstance(spec.conda_file, dict):
            conda = dict(spec.conda_file)
        else:
            conda = load_yaml_file(spec.conda_file)
        converted = conda_to_pip(conda, source=f"{where}: conda_file")
        python = python or converted.python
        requirements.extend(converted.requirements)
    if spec.pip_requirements is not None:
        if isinstance(spec.pip_requirements, list):
            requirements.extend(str(r).strip() for r in spec.pip_requirements if str(r).strip())
        else:
            requirements.extend(_requirements_file(spec.pip_requirements, where))
    dockerfile = None
    if spec.build is not None:
        context = spec.build.path
        dockerfile_path = os.path.join(context, spec.build.dockerfile_path)
        if os.path.isfile(dockerfile_path):
            with open(dockerfile_path, encoding="utf-8") as fh:
                dockerfile = fh.read()
        found = os.path.join(context, "requirements.txt")
        if os.path.isfile(found):
            requirements.extend(_requirements_file(found, where))
        else:
            warnings.warn(
                f"{where}: build context {context} is recorded, but jobs here run in a "
                "virtualenv; only a requirements.txt in it would be installed.",
                SpecWarning,
                stacklevel=2,
            )
    if not requirements and not python:
        if spec.image:
            warnings.warn(
                f"{where}: image {spec.image!r} cannot run here (no container runtime); "
                f"the job uses {_curated_target()!r} instead.",
                SpecWarning,
                stacklevel=2,
            )
        resolved = dict(INHERIT)
        resolved.update(label=label if label != "inline" else "inherit", image=spec.image)
        return resolved
    payload = {"python": python, "requirements": requirements}
    return {
        "kind": "venv",
        "label": label,
        "python": python,
        "requirements": requirements,
        "image": spec.image,
        "dockerfile": dockerfile,
        "conda": conda,
        "hash": _hash(payload),
    }


def _curated_target() -> str:
    return os.environ.get(ENV_CURATED, "inherit").strip() or "inherit"


def resolve_environment(
    value: str | EnvironmentSpec | None, *, store: JobStore, _depth: int = 0
) -> dict[str, Any]:
    """Resolve a job's ``environment`` value; NotFoundError for an unknown reference."""
    if value is None:
        return dict(INHERIT)
    if isinstance(value, EnvironmentSpec):
        return normalise_spec(value)
    text = value.strip()
    if text in ("inherit", "azureml:inherit"):
        return dict(INHERIT)
    if is_curated(text):
        target = _curated_target()
        warnings.warn(
            f"environment {text!r} is an Azure ML curated environment; it runs here as "
            f"{target!r} (set {ENV_CURATED} to choose another).",
            SpecWarning,
            stacklevel=2,
        )
        if _depth or is_curated(target):
            return dict(INHERIT)
        return resolve_environment(target, store=store, _depth=_depth + 1)
    from modelworks.references import parse_asset_ref

    match = _REGISTRY.match(text)
    if match:
        name = match.group("name")
        version = match.group("v") if match.group("kind") == "versions" else "latest"
    else:
        ref = parse_asset_ref(text, scheme="environments")
        if ref.label is not None and ref.label != "latest":
            raise SpecError(
                f"environment {text!r}: environments have no label {ref.label!r}; use "
                f"{ref.name}@latest or {ref.name}:<version>."
            )
        name, version = ref.name, ref.version or "latest"
    try:
        record = store.get_environment(name, version)
    except NotFoundError as e:
        raise NotFoundError(
            f"Unknown environment {text!r}: {e.message} Or use 'inherit' for the current "
            "interpreter."
        ) from e
    resolved = dict(record.spec)
    resolved["label"] = f"{record.name}:{record.version}"
    return resolved


def current_python() -> str:
    """``major.minor`` of this interpreter."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"
