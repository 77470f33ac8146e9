"""Azure/conda ``conda_file`` specs mapped to pip requirements.

Jobs here run in virtualenvs, not conda environments, so a conda file is read for what pip
can install: each conda dependency becomes its PyPI name (``pytorch`` → ``torch``,
``py-xgboost`` → ``xgboost``), conda version pins become pip ones (``numpy=1.26`` →
``numpy==1.26.*``), the ``pip:`` section is kept as written, and ``python=3.x`` becomes the
interpreter request. Packages that exist only on conda (compilers, CUDA toolkits, MKL) are
skipped with a warning.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

from modelworks.errors import SpecError
from modelworks.specs import SpecWarning

__all__ = ["CondaRequirements", "conda_to_pip"]

#: conda package name → PyPI name, where they differ.
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "torchvision-cpu": "torchvision",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "matplotlib-base": "matplotlib",
    "tensorflow-base": "tensorflow",
    "pyyaml": "PyYAML",
    "pillow": "Pillow",
    "msgpack-python": "msgpack",
    "python-dateutil": "python-dateutil",
    "pytables": "tables",
    "lightgbm": "lightgbm",
    "libopencv": "opencv-python",
    "opencv": "opencv-python",
    "py-opencv": "opencv-python",
    "typing_extensions": "typing-extensions",
    "ruamel_yaml": "ruamel.yaml",
    "protobuf": "protobuf",
    "graphviz": "graphviz",
}

#: Packages with no PyPI equivalent that a virtualenv does not need.
CONDA_ONLY = {
    "pip",
    "python",
    "setuptools",
    "wheel",
    "cudatoolkit",
    "cudnn",
    "cuda",
    "cuda-toolkit",
    "mkl",
    "mkl-service",
    "mkl_fft",
    "mkl_random",
    "nomkl",
    "blas",
    "libblas",
    "openblas",
    "libgcc",
    "libgcc-ng",
    "libstdcxx-ng",
    "gcc",
    "gxx",
    "compilers",
    "cxx-compiler",
    "c-compiler",
    "ca-certificates",
    "certifi",
    "openssl",
    "libffi",
    "ncurses",
    "readline",
    "sqlite",
    "tk",
    "xz",
    "zlib",
    "intel-openmp",
    "llvm-openmp",
    "libopenblas",
    "_libgcc_mutex",
    "_openmp_mutex",
}

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


@dataclasses.dataclass(frozen=True)
class CondaRequirements:
    """What a conda file means for a virtualenv."""

    python: str | None
    requirements: list[str]
    skipped: list[str]


def _pip_version(rest: str) -> str:
    """Conda's ``=1.2`` / ``==1.2`` / ``=1.2=build`` / ``>=1.2`` as a pip version spec."""
    rest = rest.strip()
    if not rest:
        return ""
    if rest.startswith(("==", ">=", "<=", "!=", "~=", ">", "<")):
        return _strip_build(rest)
    if rest.startswith("="):
        version = rest[1:].split("=", 1)[0].strip()
        if not version:
            return ""
        if version.endswith("*"):
            return f"=={version}"
        return f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
    return f"=={rest.split('=', 1)[0]}"


def _strip_build(rest: str) -> str:
    # "==1.2.3=py38_0" → "==1.2.3"
    match = re.match(r"^(==|>=|<=|!=|~=|>|<)([^=\s]+)", rest)
    if not match:
        return rest
    tail = rest[match.end() :]
    extra = tail if tail.startswith(",") else ""
    return match.group(1) + match.group(2) + extra


def conda_to_pip(data: Any, *, source: str = "conda_file") -> CondaRequirements:
    """Read a conda environment mapping (``name``, ``channels``, ``dependencies``)."""
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: a conda file is a mapping with 'dependencies:', got {type(data).__name__}."
        )
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise SpecError(f"{source}: 'dependencies' must be a list, got {type(deps).__name__}.")
    python: str | None = None
    requirements: list[str] = []
    skipped: list[str] = []
    for dep in deps:
        if isinstance(dep, dict):
            pip_deps = dep.get("pip")
            if pip_deps is None:
                raise SpecError(
                    f"{source}: a mapping in dependencies must be 'pip: [...]', got {dep!r}."
                )
            if not isinstance(pip_deps, list):
                raise SpecError(f"{source}: 'pip' must be a list of requirements.")
            requirements.extend(str(p).strip() for p in pip_deps if str(p).strip())
            continue
        text = str(dep).strip()
        if "::" in text:  # channel::package
            text = text.split("::", 1)[1]
        match = _SPEC.match(text)
        if match is None:
            raise SpecError(f"{source}: cannot read dependency {dep!r}.")
        name, rest = match.group("name"), match.group("rest")
        lowered = name.lower()
        if lowered == "python":
            version = rest.lstrip("=<>!~ ").split("=", 1)[0].strip()
            python = ".".join(version.split(".")[:2]) if version else None
            continue
        if lowered in CONDA_ONLY:
            if lowered not in ("pip", "setuptools", "wheel"):
                skipped.append(name)
            continue
        pypi = CONDA_TO_PYPI.get(lowered, name)
        requirements.append(pypi + _pip_version(rest))
    if skipped:
        warnings.warn(
            f"{source}: conda-only packages skipped (a virtualenv does not need them): "
            f"{', '.join(skipped)}.",
            SpecWarning,
            stacklevel=2,
        )
    return CondaRequirements(python=python, requirements=requirements, skipped=skipped)
