"""Validation of user-supplied names, keys and artifact paths, in one place."""

from __future__ import annotations

import posixpath
import re

from modelworks.errors import InvalidInputError, InvalidNameError, InvalidPathError

__all__ = [
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "validate_experiment_name",
    "validate_key",
    "validate_name",
    "validate_param_value",
    "validate_relative_path",
]

MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")


def validate_name(kind: str, name: str) -> str:
    """Names of experiments, data assets and models: letters, digits, '-', '_', '.'."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"Invalid {kind} name {name!r}: use 1-255 characters, letters, digits, '-', '_' or "
            "'.', starting with a letter or digit."
        )
    return name


def validate_experiment_name(name: str) -> str:
    """Experiment names follow MLflow's looser rules ('My Exp', '/Users/me/churn' are common):
    1-255 printable characters, no leading or trailing space."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > 255
        or name != name.strip()
        or not name.isprintable()
    ):
        raise InvalidNameError(
            f"Invalid experiment name {name!r}: use 1-255 printable characters without leading "
            "or trailing spaces."
        )
    return name


def validate_key(kind: str, key: str) -> str:
    """Metric, param and tag keys (MLflow's rules: alphanumerics, '_-. /:', no '..')."""
    if (
        not isinstance(key, str)
        or not key
        or len(key) > MAX_KEY_LENGTH
        or not _KEY_RE.match(key)
        or ".." in key.split("/")
        or key.startswith("/")
    ):
        raise InvalidInputError(
            f"Invalid {kind} key {key!r}: use at most {MAX_KEY_LENGTH} characters among letters, "
            "digits and '_', '-', '.', ' ', '/', ':' (no leading '/', no '..' segment)."
        )
    return key


def validate_param_value(key: str, value: str) -> str:
    if len(value) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"Param {key!r} has a value of {len(value)} characters; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH}. Log long values as an artifact instead "
            "(mw.log_text / mw.log_dict)."
        )
    return value


def validate_relative_path(path: str, *, allow_empty: bool = False) -> str:
    """Normalise an artifact path to 'a/b/c' and refuse anything that could escape its root."""
    if not isinstance(path, str):
        raise InvalidPathError(f"Artifact path must be a string, got {type(path).__name__}.")
    raw = path.replace("\\", "/")
    if "\x00" in raw:
        raise InvalidPathError(f"Artifact path {path!r} contains a NUL byte.")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise InvalidPathError(
            f"Artifact path {path!r} is absolute; give a path relative to the artifact root."
        )
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidPathError(
            f"Artifact path {path!r} contains '..'; paths must stay inside the artifact root."
        )
    normalised = posixpath.join(*parts) if parts else ""
    if not normalised and not allow_empty:
        raise InvalidPathError("Artifact path is empty; give a file or folder name.")
    return normalised
