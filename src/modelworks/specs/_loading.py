"""Loading YAML specs and validating them into pydantic models, with file-and-key messages.

Every spec problem becomes one :class:`~modelworks.errors.SpecError` whose message names the
file, the line where known, each key path (``inputs.data.type``, ``paths[0].file``) and what was
expected, so a user fixes all problems in one pass. Unknown top-level keys only warn
(:class:`SpecWarning`): specs written for a newer Azure ML CLI keep loading.

Relative paths in fields typed :data:`SpecPath` resolve against the folder of the YAML file, as
the Azure ML CLI does; URLs and asset references (``azureml:...``, ``https://...``) stay as they are.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ValidationError, ValidationInfo

from modelworks.errors import InvalidInputError, NotFoundError, SpecError

__all__ = [
    "SpecPath",
    "SpecWarning",
    "format_key_path",
    "load_yaml_file",
    "parse_yaml",
    "resolve_spec_path",
    "validate_spec",
]

M = TypeVar("M", bound=BaseModel)

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")


class SpecWarning(UserWarning):
    """A spec loaded but something in it was ignored (e.g. an unknown top-level key)."""


class _LinedDict(dict[Any, Any]):
    """A mapping from YAML that remembers the line (1-based) of each of its keys."""

    key_lines: dict[Any, int]

    def __init__(self) -> None:
        super().__init__()
        self.key_lines = {}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and recording key lines."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LinedDict:
    loader.flatten_mapping(node)
    result = _LinedDict()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in result
        except TypeError as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r}", key_node.start_mark
            ) from e
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, *, source: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping; ``source`` names it in error messages."""
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = " ".join(p for p in (e.context, e.problem) if p) or str(e)
        raise SpecError(f"{where}: invalid YAML: {problem}. Fix the syntax at that line.") from e
    except yaml.YAMLError as e:
        raise SpecError(f"{source}: invalid YAML: {e}.") from e
    if data is None:
        raise SpecError(f"{source}: the file is empty; expected a mapping such as 'name: ...'.")
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: expected a mapping of keys (e.g. 'name: my-data') at the top level, "
            f"got a {_yaml_kind(data)}."
        )
    return data


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def load_yaml_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML spec file that must hold a mapping.

    Raises NotFoundError if the file does not exist, SpecError (with file and line) if it is
    not valid YAML or not a mapping.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError as e:
        raise NotFoundError(f"Spec file {source!r} does not exist.") from e
    except IsADirectoryError as e:
        raise InvalidInputError(f"{source!r} is a folder; give the path of a YAML file.") from e
    except UnicodeDecodeError as e:
        raise SpecError(f"{source}: not UTF-8 text ({e.reason}); save it as UTF-8.") from e
    return parse_yaml(text, source=source)


def resolve_spec_path(value: str, base_dir: str | None) -> str:
    """Resolve a relative local path against ``base_dir``; URLs and references stay as is."""
    if not base_dir or not value or _SCHEME_RE.match(value) or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(base_dir, value))


def _resolve_against_source(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return resolve_spec_path(value, context.get("base_dir"))


SpecPath = Annotated[str, AfterValidator(_resolve_against_source)]
"""A ``str`` field holding a path: relative paths resolve against the spec file's folder."""


def format_key_path(loc: tuple[int | str, ...]) -> str:
    """``("paths", 0, "file")`` -> ``paths[0].file``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The YAML line of the deepest key along ``loc`` that the document recorded."""
    line = None
    node = data
    for part in loc:
        if isinstance(node, _LinedDict) and part in node.key_lines:
            line = node.key_lines[part]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: Any) -> str:
    msg = str(error["msg"])
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind in ("value_error", "assertion_error"):
        return msg
    return f"{msg[0].lower()}{msg[1:]} (got {_short(error['input'])})"


def validate_spec(
    model_cls: type[M], data: dict[str, Any], *, source: str, base_dir: str | None = None
) -> M:
    """Validate ``data`` as ``model_cls``, turning every problem into one SpecError.

    ``source`` names the spec in messages (usually the YAML file's path); relative
    :data:`SpecPath` values resolve against ``base_dir``, by default the folder of ``source``
    when it is an existing file. Unknown top-level keys warn (SpecWarning) and are ignored.
    """
    if not isinstance(data, dict):
        raise SpecError(
            f"{source}: expected a mapping of keys at the top level, got {_yaml_kind(data)}."
        )
    if base_dir is None and os.path.isfile(source):
        base_dir = os.path.dirname(os.path.abspath(source))
    written = {field.alias or name for name, field in model_cls.model_fields.items()}
    known = written | set(model_cls.model_fields)
    for key in data:
        if key not in known:
            line = data.key_lines.get(key) if isinstance(data, _LinedDict) else None
            where = f"{source}:{line}" if line else source
            warnings.warn(
                f"{where}: unknown key {key!r} is ignored (known keys: "
                f"{', '.join(sorted(written))}).",
                SpecWarning,
                stacklevel=2,
            )
    try:
        return model_cls.model_validate(data, context={"base_dir": base_dir, "source": source})
    except ValidationError as e:
        found: list[tuple[int, str]] = []
        for error in e.errors():
            loc = tuple(error["loc"])
            line = _line_of(data, loc)
            prefix = f"line {line}: " if line else ""
            found.append((line or 10**9, f"{prefix}{format_key_path(loc)}: {_describe(error)}"))
        problems = [text for _, text in sorted(found, key=lambda item: item[0])]
        noun = "problem" if len(problems) == 1 else "problems"
        raise SpecError(
            f"Invalid {_kind_name(model_cls)} spec {source} ({len(problems)} {noun}):\n"
            + "\n".join(f"  - {p}" for p in problems),
            problems=problems,
        ) from e


def _kind_name(model_cls: type[BaseModel]) -> str:
    doc_name = getattr(model_cls, "spec_kind", None)
    return str(doc_name) if doc_name else model_cls.__name__
