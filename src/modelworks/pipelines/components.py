"""Components: versioned, reusable command steps — ``ws.components``, :func:`load_component`
and the Python form :func:`command_component`.

A :class:`Component` is a validated :class:`~modelworks.specs.components.CommandComponentSpec`
plus where it came from (a YAML file, a registry version, a decorated function). Calling it
inside a ``@dsl.pipeline`` function adds a step to that pipeline.

Registering (``ws.components.create``) snapshots the code folder (and
``additional_includes``) into the blob store as the tree ``component/<name>/<version>``; the
tree's hash is part of the component's identity for step reuse.
"""

from __future__ import annotations

import builtins
import inspect
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry, now_ms
from modelworks.errors import InvalidInputError, NotFoundError, SpecError
from modelworks.pipelines.store import ComponentRecord, PipelineStore
from modelworks.specs.components import (
    CommandComponentSpec,
    component_spec_from_dict,
    load_component_spec,
)

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = [
    "Component",
    "ComponentOperations",
    "command_component",
    "load_component",
    "open_pipeline_store",
    "parse_component_ref",
    "snapshot_code",
]

_REF = re.compile(
    r"^(?:azureml:)?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?::(?P<version>[^:@]+)|@(?P<label>\w+))?$"
)


def parse_component_ref(ref: str) -> tuple[str, str | None]:
    """``azureml:train:3`` → ("train", "3"); ``train@latest`` / ``train`` → ("train", None)."""
    match = _REF.match(ref.strip())
    if match is None:
        raise InvalidInputError(
            f"{ref!r} is not a component reference; write azureml:<name>:<version> or "
            "azureml:<name>@latest."
        )
    label = match.group("label")
    if label is not None and label != "latest":
        raise InvalidInputError(
            f"{ref!r}: components have no label {label!r}; use @latest or a version."
        )
    return match.group("name"), match.group("version")


def open_pipeline_store(ws: Workspace) -> PipelineStore:
    """The pipeline store of a workspace: its SQL database, or the server it points at."""
    from modelworks.store.sql import SqlMetadataStore

    if isinstance(ws.meta, SqlMetadataStore):
        from modelworks.store.sql.pipelines import SqlPipelineStore

        return SqlPipelineStore(ws.meta)
    from modelworks.store.rest.pipelines import RestPipelineStore

    return RestPipelineStore(ws.meta)


class Component:
    """A command component; call it inside a ``@dsl.pipeline`` function to add a step.

    ``source`` is what a pipeline YAML would write under ``component:`` — a file path, an
    ``azureml:name:version`` reference — or None for an inline (Python) component.
    """

    def __init__(
        self,
        spec: CommandComponentSpec,
        *,
        source: str | None = None,
        version: str | None = None,
        code_hash: str | None = None,
        function: Callable[..., Any] | None = None,
    ) -> None:
        self.spec = spec
        self.source = source
        self.code_hash = code_hash
        self.function = function
        self.version = version or spec.version

    @property
    def name(self) -> str:
        return self.spec.name or "component"

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.spec.inputs)

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.spec.outputs)

    def definition(self) -> str | dict[str, Any]:
        """What goes under ``component:`` in a pipeline mapping."""
        if self.source is not None:
            return self.source
        return self.spec.model_dump(by_alias=True, exclude_none=True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from modelworks.pipelines import dsl

        if dsl.current_builder() is None:
            if self.function is not None:
                return self.function(*args, **kwargs)
            raise InvalidInputError(
                f"Component {self.name!r} is called outside a @dsl.pipeline function; call it "
                "inside one to add a step (ws.jobs.create(my_pipeline(...)) submits it)."
            )
        if args:
            raise InvalidInputError(
                f"Component {self.name!r}: pass inputs by name, e.g. {self.name}(data=...)."
            )
        return dsl.add_step(self, kwargs)

    def __repr__(self) -> str:
        return f"Component({self.name!r}, version={self.version!r})"


def load_component(source: str | os.PathLike[str], *, ws: Workspace | None = None) -> Component:
    """A component from a YAML file, or from the registry (``azureml:train@latest``, needs
    ``ws``; without it the reference is resolved when the pipeline is submitted)."""
    text = os.fspath(source)
    if text.startswith("azureml:") or (not os.path.exists(text) and _REF.match(text)):
        if ws is not None:
            return ComponentOperations(ws).get(text)
        name, version = parse_component_ref(text)
        placeholder = CommandComponentSpec(name=name, command="true")
        return Component(
            placeholder,
            source=text if text.startswith("azureml:") else f"azureml:{text}",
            version=version,
        )
    if not os.path.isfile(text):
        raise NotFoundError(f"Component file {text!r} does not exist.")
    return Component(load_component_spec(text), source=os.path.abspath(text))


def snapshot_code(ws: Workspace, spec: CommandComponentSpec) -> list[ArtifactEntry]:
    """Store the component's code folder and ``additional_includes`` content-addressed;
    entries under ``code/``."""
    from modelworks.jobs._submit import code_entries

    entries: list[ArtifactEntry] = []
    if spec.code:
        entries.extend(code_entries(ws, spec.code))
    for include in spec.additional_includes:
        path = Path(include)
        if not path.exists():
            raise NotFoundError(
                f"additional_includes: {include!r} does not exist (relative paths are "
                "relative to the component file's folder)."
            )
        for entry in code_entries(ws, str(path)):
            relative = entry.path.removeprefix("code/")
            if path.is_dir():
                relative = f"{path.name}/{relative}"
            entries.append(ArtifactEntry(f"code/{relative}", entry.digest, entry.size))
    return entries


def _stored_spec(spec: CommandComponentSpec) -> dict[str, Any]:
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data.pop("code", None)
    data.pop("additional_includes", None)
    return data


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


class ComponentOperations:
    """``ws.components``: create, get, list and archive component versions."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self.store = open_pipeline_store(workspace)

    def create(
        self,
        component: Component | CommandComponentSpec | str | os.PathLike[str],
        *,
        version: str | None = None,
    ) -> Component:
        """Register a component version (a YAML path, a spec or a :class:`Component`).

        Without a version (in the file or here) it gets the next whole number. Registering the
        same spec and code again under an existing version returns that version.
        """
        from modelworks.artifacts import tree_hash

        if isinstance(component, Component):
            spec = component.spec
        elif isinstance(component, CommandComponentSpec):
            spec = component
        else:
            spec = load_component_spec(component)
        if not spec.name:
            raise SpecError("A component needs a name to be registered; add name: to its YAML.")
        version = version or spec.version
        existing = self.store.list_components(spec.name, include_archived=True)
        entries = snapshot_code(self._ws, spec)
        code_hash = tree_hash(entries) if entries else None
        stored = _stored_spec(spec)
        stored["code"] = bool(entries)
        for record in existing:
            same = record.spec == {**stored, "version": record.version}
            if (
                (version is None or record.version == version)
                and same
                and record.code_hash == code_hash
            ):
                return self._component(record)  # registering again changes nothing
        if version is None:
            numbers = [int(r.version) for r in existing if r.version.isdigit()]
            version = str(max(numbers, default=0) + 1)
        stored["version"] = version
        record = ComponentRecord(
            name=spec.name,
            version=version,
            spec=stored,
            created_at=now_ms(),
            code_hash=code_hash,
            description=spec.description,
            tags=dict(spec.tags),
        )
        if entries:
            self._ws.meta.put_artifact_entries(f"component/{spec.name}/{version}", entries)
        return self._component(self.store.create_component(record))

    def _component(self, record: ComponentRecord) -> Component:
        data = dict(record.spec)
        data.pop("code", None)
        spec = component_spec_from_dict(data, source=record.ref)
        return Component(
            spec, source=record.ref, version=record.version, code_hash=record.code_hash
        )

    def get_record(self, name: str, version: str | None = None) -> ComponentRecord:
        """The stored version (``version`` None or "latest": the newest not archived)."""
        if ":" in name or "@" in name or name.startswith("azureml:"):
            name, parsed = parse_component_ref(name)
            version = version or parsed
        if version in (None, "latest"):
            live = self.store.list_components(name)
            if not live:
                others = sorted({r.name for r in self.store.list_components()})
                hint = f" Registered: {', '.join(others)}." if others else ""
                raise NotFoundError(
                    f"Component {name!r} has no (unarchived) version. Register it with "
                    f"`modelworks component create -f {name}.yml`.{hint}"
                )
            return max(live, key=lambda r: _version_key(r.version))
        try:
            return self.store.get_component(name, version)
        except NotFoundError:
            versions = [r.version for r in self.store.list_components(name, include_archived=True)]
            have = f"; it has {', '.join(sorted(versions, key=_version_key))}" if versions else ""
            raise NotFoundError(
                f"Component {name!r} has no version {version!r}{have}. Use "
                f"azureml:{name}@latest or one of its versions."
            ) from None

    def get(self, name: str, version: str | None = None) -> Component:
        """A component version: ``get("train", "3")``, ``get("azureml:train@latest")``."""
        return self._component(self.get_record(name, version))

    def list(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> builtins.list[ComponentRecord]:
        """Registered versions (of one component with ``name``)."""
        return self.store.list_components(name, include_archived=include_archived)

    def archive(self, name: str, version: str | None = None) -> int:
        """Hide a version (or all of ``name``) from ``@latest`` and lists; returns the count."""
        done = self.store.set_component_archived(name, version, True)
        if not done:
            raise NotFoundError(
                f"Component {name!r}"
                + (f" version {version!r}" if version else "")
                + " does not exist."
            )
        return done

    def restore(self, name: str, version: str | None = None) -> int:
        return self.store.set_component_archived(name, version, False)


# --------------------------------------------------------------------------- Python form


_PY_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def command_component(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    environment: Any = None,
    code: str | None = None,
    is_deterministic: bool = True,
    outputs: dict[str, str] | None = None,
) -> Any:
    """Make a Python function a command component (as ``mldesigner.command_component``).

    Parameters annotated ``Input(type=...)`` (or ``int``/``float``/``str``/``bool``) are inputs,
    their defaults the defaults; parameters annotated ``Output(type=...)`` are outputs (the
    function gets their local paths). ``outputs={"is_better": "boolean"}`` declares primitive
    outputs the function *returns* in a dict. The step runs
    ``python -m modelworks.pipelines._execute`` on the function's file, in the code folder
    (``code``, by default the function's folder).
    """

    def wrap(fn: Callable[..., Any]) -> Component:
        source_file = inspect.getsourcefile(fn)
        if source_file is None:
            raise InvalidInputError(f"{fn.__name__}: a component function must live in a file.")
        folder = Path(code).resolve() if code else Path(source_file).resolve().parent
        relative = Path(source_file).resolve().relative_to(folder).as_posix()
        annotations = inspect.get_annotations(fn, eval_str=True)
        inputs: dict[str, Any] = {}
        outs: dict[str, Any] = {k: {"type": v} for k, v in (outputs or {}).items()}
        parts = [f"python -m modelworks.pipelines._execute {relative} {fn.__name__}"]
        parts += [f"--{k} ${{{{outputs.{k}}}}}" for k in outs]
        for pname, param in inspect.signature(fn).parameters.items():
            hint = annotations.get(pname)
            kind = getattr(hint, "type", None) if hint is not None else None
            from modelworks.jobs.entities import Output

            if isinstance(hint, Output):
                outs[pname] = {"type": hint.type}
                parts.append(f"--{pname} ${{{{outputs.{pname}}}}}")
                continue
            entry: dict[str, Any] = {}
            if kind is not None:
                entry["type"] = kind
                if getattr(hint, "optional", False):
                    entry["optional"] = True
            elif hint in _PY_TYPES:
                entry["type"] = _PY_TYPES[hint]
            elif param.default is not inspect.Parameter.empty and param.default is not None:
                entry["type"] = _PY_TYPES.get(type(param.default), "string")
            else:
                entry["type"] = "string"
            if param.default is not inspect.Parameter.empty:
                if param.default is None:
                    entry["optional"] = True
                else:
                    entry["default"] = param.default
            inputs[pname] = entry
            piece = f"--{pname} ${{{{inputs.{pname}}}}}"
            optional = entry.get("optional") and "default" not in entry
            parts.append(f"$[[{piece}]]" if optional else piece)
        data: dict[str, Any] = {
            "name": name or fn.__name__,
            "version": version,
            "display_name": display_name,
            "description": description or inspect.getdoc(fn) or "",
            "type": "command",
            "inputs": inputs,
            "outputs": outs,
            "code": str(folder),
            "environment": environment,
            "command": " ".join(parts),
            "is_deterministic": is_deterministic,
        }
        data = {k: v for k, v in data.items() if v is not None}
        spec = component_spec_from_dict(data, source=f"@command_component {fn.__name__}")
        component = Component(spec, function=fn)
        component.__doc__ = fn.__doc__
        return component

    if function is not None:
        return wrap(function)
    return wrap
