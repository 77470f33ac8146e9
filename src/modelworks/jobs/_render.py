"""Azure ML command templates: ``${{inputs.x}}``, ``${{outputs.y}}``, ``${{search_space.z}}``
placeholders and ``$[[ ... ]]`` optional fragments (dropped when an input inside is absent).

References are checked when a job is submitted (:func:`check_references`) and substituted
when it runs (:func:`render`), once the worker knows the local paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from modelworks.errors import SpecError

__all__ = ["check_references", "references", "render"]

_PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_KINDS = ("inputs", "outputs", "search_space")


def references(command: str) -> list[tuple[str, str]]:
    """``(kind, name)`` of every placeholder, in order."""
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(command)]


def check_references(
    command: str,
    *,
    inputs: Iterable[str],
    outputs: Iterable[str],
    search_space: Iterable[str] = (),
    optional: Iterable[str] = (),
    where: str = "command",
) -> None:
    """Raise SpecError naming each placeholder that names nothing, or an absent input used
    outside an optional ``$[[...]]`` fragment."""
    known = {"inputs": set(inputs), "outputs": set(outputs), "search_space": set(search_space)}
    absent = set(optional)
    problems: list[str] = []
    for kind, name in references(command):
        if kind not in known:
            problems.append(
                f"${{{{{kind}.{name}}}}}: unknown kind {kind!r}; use inputs, outputs or "
                "search_space"
            )
            continue
        base = name.split(".", 1)[0]
        if base not in known[kind]:
            have = ", ".join(sorted(known[kind])) or "none"
            problems.append(
                f"${{{{{kind}.{name}}}}} names no {kind[:-1] if kind != 'search_space' else 'search_space entry'} {base!r} (the job has: {have})"
            )
    outside = _OPTIONAL.sub("", command)
    for kind, name in references(outside):
        if kind == "inputs" and name in absent:
            problems.append(
                f"${{{{inputs.{name}}}}} is optional and has no value here; put it inside "
                f"$[[...]] or give it a value"
            )
    if problems:
        raise SpecError(f"{where}: " + "; ".join(problems) + ".", problems=problems)


def render(command: str, values: Mapping[str, Mapping[str, str]]) -> str:
    """Substitute placeholders with ``values[kind][name]``; drop ``$[[...]]`` fragments that
    reference a missing value and unwrap the others."""

    def fragment(match: re.Match[str]) -> str:
        body = match.group(1)
        for kind, name in references(body):
            if name not in values.get(kind, {}):
                return ""
        return body

    expanded = _OPTIONAL.sub(fragment, command)

    def placeholder(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        found = values.get(kind, {}).get(name)
        if found is None:
            raise SpecError(f"command: ${{{{{kind}.{name}}}}} has no value.")
        return found

    return _PLACEHOLDER.sub(placeholder, expanded)
