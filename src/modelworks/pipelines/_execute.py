"""Runs a ``@command_component`` function as a step's process:
``python -m modelworks.pipelines._execute <file.py> <function> --<name> <value> ...``.

Inputs arrive as text and are converted to the types the component declares; outputs arrive
as local paths. Primitive outputs the function returns in a dict are written to their files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _convert(kind: str, text: str) -> Any:
    if kind == "integer":
        return int(float(text))
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text.strip().lower() == "true"
    return text


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m modelworks.pipelines._execute FILE FUNCTION [--name value]...")
        return 2
    file_name, function_name, rest = argv[0], argv[1], argv[2:]
    path = Path(file_name).resolve()
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        print(f"cannot import {file_name}", file=sys.stderr)
        return 2
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    component = getattr(module, function_name)
    function = getattr(component, "function", None) or component
    declared = getattr(component, "spec", None)
    values: dict[str, Any] = {}
    for i in range(0, len(rest) - 1, 2):
        key, text = rest[i].removeprefix("--"), rest[i + 1]
        if declared is not None and key in declared.inputs:
            values[key] = _convert(declared.inputs[key].type, text)
        else:
            values[key] = text
    import inspect

    params = set(inspect.signature(function).parameters)
    returned = {k: values.pop(k) for k in list(values) if k not in params}
    result = function(**values)
    if isinstance(result, dict) and declared is not None:
        for key, value in result.items():
            if key in returned:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                Path(returned[key]).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
