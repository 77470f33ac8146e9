"""The ``MLmodel`` file and the environment files beside it, in MLflow's layout.

``MLmodel`` is YAML with ``flavors`` (one entry per flavor, plus ``python_function``),
``model_uuid``, ``utc_time_created``, ``signature`` (inputs/outputs/params as JSON strings),
``saved_input_example_info``, ``mlflow_version`` (only when MLflow is installed) and our own
``modelworks_version``. Next to it go ``requirements.txt`` (pinned from the installed versions),
``python_env.yaml`` and ``conda.yaml``, so ``mlflow models serve`` and Azure ML can rebuild the
environment.
"""

from __future__ import annotations

import datetime
import platform
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.registry.flavors._base import library_version

__all__ = [
    "CONDA_FILE",
    "MLMODEL_FILE",
    "PYTHON_ENV_FILE",
    "REQUIREMENTS_FILE",
    "new_mlmodel",
    "pin_requirements",
    "read_mlmodel",
    "read_requirements",
    "write_environment",
    "write_mlmodel",
]

MLMODEL_FILE = "MLmodel"
REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"


def read_mlmodel(path: str | Path) -> dict[str, Any]:
    """The parsed MLmodel file of the model folder ``path`` (or the MLmodel file itself)."""
    import yaml

    file = Path(path)
    if file.is_dir():
        file = file / MLMODEL_FILE
    if not file.is_file():
        raise NotFoundError(f"No MLmodel file at {file}; is {file.parent} an MLflow model folder?")
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{file} is not valid YAML: {e}") from e
    if not isinstance(content, dict) or not isinstance(content.get("flavors"), dict):
        raise InvalidInputError(
            f"{file} has no 'flavors' mapping; an MLmodel file names at least one flavor."
        )
    return content


def write_mlmodel(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` as ``path/MLmodel`` (keys sorted, block style, as MLflow writes it)."""
    import yaml

    text = yaml.safe_dump(content, default_flow_style=False, sort_keys=True)
    (path / MLMODEL_FILE).write_text(text, encoding="utf-8")


def new_mlmodel(
    flavors: dict[str, Any],
    *,
    signature: dict[str, Any] | None = None,
    saved_input_example_info: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    model_size_bytes: int | None = None,
    artifact_path: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The content of a new MLmodel file (``signature`` already in its JSON-string form)."""
    content: dict[str, Any] = {
        "flavors": flavors,
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": str(datetime.datetime.now(datetime.UTC).replace(tzinfo=None)),
        "modelworks_version": library_version("modelworks"),
    }
    mlflow_version = library_version("mlflow") or library_version("mlflow-skinny")
    if mlflow_version:
        content["mlflow_version"] = mlflow_version
    optional = {
        "artifact_path": artifact_path,
        "run_id": run_id,
        "signature": signature,
        "saved_input_example_info": saved_input_example_info,
        "metadata": metadata,
        "model_size_bytes": model_size_bytes,
    }
    content.update({k: v for k, v in optional.items() if v is not None})
    return content


def pin_requirements(distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each installed distribution (bare name if not installed), sorted."""
    pinned = set()
    for name in distributions:
        version = library_version(name)
        pinned.add(f"{name}=={version}" if version else name)
    return sorted(pinned, key=str.lower)


def read_requirements(pip_requirements: Iterable[str] | str | Path) -> list[str]:
    """Requirements given as a list of lines or as the path of a requirements file."""
    if isinstance(pip_requirements, (str, Path)):
        file = Path(pip_requirements)
        if not file.is_file():
            raise InvalidInputError(
                f"pip_requirements {str(pip_requirements)!r} is not a file; pass a list of "
                "requirement lines or the path of a requirements.txt."
            )
        lines: Iterable[str] = file.read_text(encoding="utf-8").splitlines()
    else:
        lines = pip_requirements
    out = []
    for line in lines:
        if not isinstance(line, str):
            raise InvalidInputError(f"pip_requirements entries must be strings; got {line!r}.")
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(text)
    return out


def write_environment(path: Path, requirements: list[str]) -> None:
    """Write ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml`` for ``requirements``."""
    import yaml

    python = platform.python_version()
    (path / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n", encoding="utf-8")
    build = [
        f"{name}=={version}" if (version := library_version(name)) else name
        for name in ("pip", "setuptools", "wheel")
    ]
    python_env = {
        "python": python,
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (path / PYTHON_ENV_FILE).write_text(
        yaml.safe_dump(python_env, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )
    pip_version = library_version("pip")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python}",
            f"pip<={pip_version}" if pip_version else "pip",
            {"pip": list(requirements)},
        ],
        "name": "modelworks-env",
    }
    (path / CONDA_FILE).write_text(
        yaml.safe_dump(conda, default_flow_style=False, sort_keys=False), encoding="utf-8"
    )
