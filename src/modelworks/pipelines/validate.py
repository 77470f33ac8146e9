"""Checking a pipeline before anything runs, and turning it into a :class:`Plan`.

Every step's component is resolved (a file, a registry reference, an inline mapping or an
inline command), every binding is checked against what it names, types are checked across
bindings (a ``uri_folder`` output cannot feed an ``integer`` input), required inputs must be
given, step names must not be reserved, and the step graph must have no cycle. A sweep step is
checked as its trial component (the tuned inputs come from ``search_space``) and as a sweep
job; an AutoML step as an AutoML job whose data inputs are bindings, with one output,
``best_model``. All problems are reported together in one :class:`~modelworks.errors.SpecError`, each prefixed with the
file, line and key path (``pipeline.yml:14 jobs.train.inputs.data: ...``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import TYPE_CHECKING, Any

from modelworks.errors import ModelworksError, SpecError
from modelworks.specs._loading import _describe
from modelworks.specs.components import (
    PRIMITIVE_OUTPUT_TYPES,
    CommandComponentSpec,
    ComponentInputSpec,
    component_spec_from_dict,
    load_component_spec,
)
from modelworks.specs.jobs import DATA_TYPES, JobInputSpec
from modelworks.specs.pipelines import (
    RESERVED_STEP_NAMES,
    STEP_TYPES,
    Binding,
    PipelineJobSpec,
    PipelineStepSpec,
    parse_binding,
)

if TYPE_CHECKING:
    from modelworks.pipelines.components import ComponentOperations

__all__ = ["ConditionPlan", "Plan", "StepPlan", "parse_condition", "validate_pipeline"]

_STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPARISON = re.compile(r"^\s*(\$\{\{.*?\}\})\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
_FOLDERISH = {"uri_folder", "mltable", "custom_model", "mlflow_model"}
#: What an AutoML step's data inputs accept: a table as a file, a folder or an MLTable.
_TABLES = {"uri_file", "uri_folder", "mltable"}
_AUTOML_DATA = ("training_data", "validation_data", "test_data")
#: Keys of a pipeline step that are not keys of the AutoML job it starts.
_STEP_ONLY = {
    "type",
    "name",
    "inputs",
    "outputs",
    "component",
    "trial",
    "force_rerun",
    "is_deterministic",
    "condition",
    "true_block",
    "false_block",
    "environment_variables",
    "code",
    "command",
    "environment",
    *_AUTOML_DATA,
}
_SWEEP_KEYS = ("search_space", "sampling_algorithm", "objective", "early_termination", "limits")

_SEARCH_SPACE_REF = re.compile(r"\$\{\{\s*search_space\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_Found = tuple[CommandComponentSpec, str, str | None, str | None, str | None]


@dataclasses.dataclass
class StepPlan:
    """A step, resolved: its component and where each input comes from. ``kind`` is the child
    job's kind; a sweep step's ``component`` is its trial component (without the tuned
    inputs) and ``job`` its sweep job spec, an AutoML step's ``job`` its AutoML job spec (its
    ``component`` only declares the data inputs and ``best_model``)."""

    name: str
    component: CommandComponentSpec
    component_ref: str
    component_version: str | None
    code_owner: str | None
    code_path: str | None
    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    after: list[str]
    compute: str | None
    force_rerun: bool | None
    is_deterministic: bool
    timeout: int | None
    environment_variables: dict[str, str]
    display_name: str | None
    kind: str = "command"
    job: Any = None


@dataclasses.dataclass
class ConditionPlan:
    """An ``if_else`` node: ``when`` is a binding, or a comparison ``(binding, op, value)``."""

    name: str
    binding: Binding
    op: str | None
    value: Any
    true_block: list[str]
    false_block: list[str]


@dataclasses.dataclass
class Plan:
    steps: dict[str, StepPlan]
    conditions: dict[str, ConditionPlan]
    order: list[str]


def parse_condition(value: Any) -> tuple[Binding, str | None, Any] | str:
    """``${{parent.jobs.e.outputs.ok}}`` or ``${{...}} > 0.8``; a string is the problem."""
    if isinstance(value, bool):
        return (
            "a constant condition; bind it to a step output (${{parent.jobs.<step>.outputs.<o>}})"
        )
    binding = parse_binding(value)
    if binding is not None:
        return binding, None, None
    match = _COMPARISON.match(str(value)) if isinstance(value, str) else None
    if match is not None:
        binding = parse_binding(match.group(1))
        if binding is not None:
            raw = match.group(3).strip()
            literal: Any = raw
            try:
                literal = float(raw)
            except ValueError:
                if raw.lower() in ("true", "false"):
                    literal = raw.lower() == "true"
                else:
                    literal = raw.strip("'\"")
            return binding, match.group(2), literal
    return (
        f"{value!r} is not a condition; write ${{{{parent.jobs.<step>.outputs.<boolean output>}}}}"
        " or a comparison such as '${{parent.jobs.eval.metrics.auc}} > 0.8'"
    )


def _compatible(source: str, target: str) -> bool:
    if source == target:
        return True
    if source in DATA_TYPES and target in DATA_TYPES:
        return (source in _FOLDERISH and target in _FOLDERISH) or source == target
    if target == "string":
        return source in PRIMITIVE_OUTPUT_TYPES
    return bool(source == "integer" and target == "number")


class _Checker:
    def __init__(self, spec: PipelineJobSpec, components: ComponentOperations | None) -> None:
        self.spec = spec
        self.components = components
        self.problems: list[str] = []

    def problem(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(f"{self.spec.where(*path)}: {message}")

    # -- components -------------------------------------------------------------------------
    def component(self, name: str, step: PipelineStepSpec, key: str = "component") -> _Found | None:
        """(spec, ref, version, code owner, code path) of a step's component (``key``:
        ``component``, or ``trial`` of a sweep step)."""
        path = ("jobs", name, key)
        value = step.trial if key == "trial" else step.component
        base_dir = self.spec.base_dir
        try:
            if isinstance(value, dict):
                if key == "trial":
                    value = self.inline_trial(name, step, value)
                found = component_spec_from_dict(
                    value, source=f"{self.spec.source} jobs.{name}.{key}", base_dir=base_dir
                )
                return found, f"inline:{name}", found.version, None, found.code
            if isinstance(value, str):
                if value.startswith("azureml:"):
                    if self.components is None:
                        self.problem(path, f"{value!r} needs a workspace to resolve")
                        return None
                    record = self.components.get_record(value)
                    found = self.components.get(record.ref).spec
                    owner = (
                        f"component/{record.name}/{record.version}"
                        if record.spec.get("code")
                        else None
                    )
                    return found, record.ref, record.version, owner, None
                if not os.path.isfile(value):
                    self.problem(
                        path,
                        f"component file {value!r} does not exist (relative paths are relative "
                        "to the pipeline file's folder); or use azureml:<name>@latest",
                    )
                    return None
                found = load_component_spec(value)
                return found, os.path.abspath(value), found.version, None, found.code
            if step.command and key == "component":
                return self.inline_command(name, step)
        except SpecError as e:
            self.problem(path, e.message.replace("\n", " "))
            return None
        except ModelworksError as e:
            self.problem(path, e.message)
            return None
        if key == "trial":
            self.problem(
                ("jobs", name),
                "a sweep step needs trial: (a command component file, an azureml: reference, or "
                "a mapping with command, code, environment)",
            )
            return None
        self.problem(
            ("jobs", name),
            "a command step needs component: (a file, an azureml: reference or a mapping) or command:",
        )
        return None

    def inline_trial(
        self, name: str, step: PipelineStepSpec, trial: dict[str, Any]
    ) -> dict[str, Any]:
        """An inline ``trial:`` as a component mapping: inputs and outputs it does not declare
        are those the step gives, plus the tuned parameters (``${{search_space.x}}`` in its
        command is ``${{inputs.x}}``, as a sweep renders both)."""
        data: dict[str, Any] = {"name": name, "type": "command", **trial}
        if isinstance(data.get("command"), str):  # a tuned value is an input of the trial
            data["command"] = _SEARCH_SPACE_REF.sub(r"${{inputs.\1}}", data["command"])
        if "inputs" not in trial:
            inputs: dict[str, Any] = {
                key: {"type": self.value_type(value) or "string"}
                for key, value in step.inputs.items()
            }
            for key, entry in (step.search_space or {}).items():
                kind = entry.get("type") if isinstance(entry, dict) else None
                numeric = kind not in (None, "choice")
                inputs.setdefault(key, {"type": "number" if numeric else "string"})
            data["inputs"] = inputs
        if "outputs" not in trial:
            data["outputs"] = {
                key: {"type": self.output_type(value)} for key, value in step.outputs.items()
            }
        return data

    def output_type(self, value: Any) -> str:
        """The type an undeclared output has from how the step binds it."""
        binding = parse_binding(value)
        if isinstance(value, dict):
            return str(value.get("type", "uri_folder"))
        if binding is not None and binding.kind == "output":
            declared = self.spec.outputs.get(binding.name)
            return declared.type if declared is not None else "uri_folder"
        return "uri_folder"

    def inline_command(
        self, name: str, step: PipelineStepSpec
    ) -> tuple[CommandComponentSpec, str, str | None, str | None, str | None]:
        inputs: dict[str, Any] = {}
        for key, value in step.inputs.items():
            inputs[key] = {"type": self.value_type(value) or "string", "optional": False}
        outputs: dict[str, Any] = {
            key: {"type": self.output_type(value)} for key, value in step.outputs.items()
        }
        data: dict[str, Any] = {
            "name": name,
            "type": "command",
            "command": step.command,
            "inputs": inputs,
            "outputs": outputs,
            "environment": step.environment,
            "environment_variables": step.environment_variables,
        }
        if step.is_deterministic is not None:
            data["is_deterministic"] = step.is_deterministic
        found = component_spec_from_dict(
            {k: v for k, v in data.items() if v is not None},
            source=f"{self.spec.source} jobs.{name}",
        )
        found.code = step.code
        return found, f"inline:{name}", None, None, step.code

    # -- sweep and AutoML steps -------------------------------------------------------------
    def tuned(self, name: str, step: PipelineStepSpec, found: _Found) -> _Found | None:
        """A sweep step's trial component without the inputs ``search_space`` tunes (each must
        be a literal input of the component, or a ``${{search_space.x}}`` of an inline one)."""
        component = found[0]
        space = step.search_space
        if not isinstance(space, dict) or not space:
            self.problem(
                ("jobs", name, "search_space") if space is not None else ("jobs", name),
                "a sweep step needs search_space: the trial inputs to tune, e.g. "
                "{lr: {type: uniform, min_value: 0.01, max_value: 0.3}}",
            )
            return None
        for key in space:
            declared = component.inputs.get(key)
            if declared is not None and declared.is_data:
                self.problem(
                    ("jobs", name, "search_space", key),
                    f"input {key!r} of the trial component is {declared.type}; search_space "
                    "tunes literal inputs (number, integer, string, boolean)",
                )
            elif declared is None:
                have = ", ".join(component.inputs) or "none"
                self.problem(
                    ("jobs", name, "search_space", key),
                    f"the trial component {component.name or name!r} has no input {key!r} to "
                    f"tune (its inputs: {have})",
                )
            if key in step.inputs:
                self.problem(
                    ("jobs", name, "inputs", key),
                    f"{key!r} is tuned by search_space; it is not also given as an input",
                )
        kept = {k: v for k, v in component.inputs.items() if k not in space}
        return (component.model_copy(update={"inputs": kept}), *found[1:])

    def automl_component(self, name: str) -> _Found:
        """What an AutoML step takes and gives, as a component: three table inputs and the
        best model."""
        data = {
            "name": name,
            "type": "command",
            "command": "automl",
            "inputs": {
                "training_data": {"type": "mltable"},
                "validation_data": {"type": "mltable", "optional": True},
                "test_data": {"type": "mltable", "optional": True},
            },
            "outputs": {"best_model": {"type": "mlflow_model"}},
            "is_deterministic": False,
        }
        return CommandComponentSpec.model_validate(data), f"automl:{name}", None, None, None

    def job_spec(self, name: str, model_cls: type[Any], data: dict[str, Any]) -> Any:
        """``data`` validated as ``model_cls``; its problems are reported at their key paths
        under ``jobs.<name>``."""
        from pydantic import ValidationError

        try:
            return model_cls.model_validate(data)
        except ValidationError as e:
            for error in e.errors():
                loc = tuple(str(part) for part in error["loc"])
                self.problem(("jobs", name, *loc), _describe(error))
        return None

    def sweep(self, name: str, plan: StepPlan) -> Any:
        """The sweep job a sweep step starts (its inputs are the step's, bound at start)."""
        from modelworks.specs.jobs import SweepJobSpec

        raw = self.spec.jobs[name].raw
        component = plan.component
        data: dict[str, Any] = {k: raw[k] for k in _SWEEP_KEYS if raw.get(k) is not None}
        data["trial"] = {
            "command": component.command,
            "environment": component.environment,
            "environment_variables": dict(component.environment_variables),
        }
        data["outputs"] = {
            key: {
                "type": "uri_file" if out["type"] in PRIMITIVE_OUTPUT_TYPES else out["type"],
                "name": out.get("name"),
                "version": out.get("version"),
            }
            for key, out in plan.outputs.items()
        }
        data["compute"] = plan.compute
        return self.job_spec(name, SweepJobSpec, data)

    def automl(self, name: str, plan: StepPlan) -> Any:
        """The AutoML job an AutoML step starts; its data inputs are placeholders here (the
        tables come from the step's bindings when it starts)."""
        from modelworks.specs.automl import AutoMLJobSpec

        raw = self.spec.jobs[name].raw
        data: dict[str, Any] = {k: v for k, v in raw.items() if k not in _STEP_ONLY}
        for key in _AUTOML_DATA:
            value = raw.get(key)
            if value is None:
                if key == "training_data":  # reported as a missing required input
                    data[key] = {"type": "mltable", "path": "(missing)"}
                continue
            kind = plan.inputs.get(key, {}).get("type")
            data[key] = {
                "type": kind if kind in _TABLES else "mltable",
                "path": value if isinstance(value, str) else f"${{{{inputs.{key}}}}}",
            }
        data["outputs"] = {"best_model": {"type": "mlflow_model"}}
        registered = plan.outputs.get("best_model", {}).get("name")
        if registered and not data.get("model_name"):
            data["model_name"] = registered  # outputs.best_model.name: the registered model
        data["compute"] = plan.compute
        data["type"] = "automl"
        return self.job_spec(name, AutoMLJobSpec, data)

    def value_type(self, value: Any) -> str | None:
        """The type a step input value carries (None when it names nothing known)."""
        binding = parse_binding(value)
        if binding is not None:
            if binding.kind == "input":
                declared = self.spec.inputs.get(binding.name)
                return declared.type if declared is not None else None
            if binding.kind == "step_output" and binding.step in self.resolved:
                out = self.resolved[binding.step][0].outputs.get(binding.name)
                return out.type if out is not None else None
            return None
        if isinstance(value, dict):
            try:
                return JobInputSpec.model_validate(value).type
            except ValueError:
                return None
        return JobInputSpec.model_validate(value).type if value is not None else None

    # -- the whole pipeline -----------------------------------------------------------------
    def run(self) -> Plan:
        spec = self.spec
        if spec.settings.default_datastore is not None:
            import warnings

            from modelworks.specs import SpecWarning

            warnings.warn(
                f"{spec.where('settings', 'default_datastore')}: ignored — outputs are stored in "
                "the workspace's blob store.",
                SpecWarning,
                stacklevel=4,
            )
        self.resolved: dict[str, _Found] = {}
        control: dict[str, PipelineStepSpec] = {}
        # Steps with declared outputs first: an inline command's input types come from them.
        ordered = sorted(
            spec.jobs.items(),
            key=lambda item: (
                item[1].component is None
                and not isinstance(item[1].trial, str)
                and item[1].type != "automl"
            ),
        )
        for name, step in ordered:
            if name in RESERVED_STEP_NAMES or not _STEP_NAME.match(name):
                self.problem(
                    ("jobs", name),
                    f"{name!r} is not a usable step name"
                    + (" (reserved)" if name in RESERVED_STEP_NAMES else "")
                    + "; use letters, digits and '_' (not parent, inputs, outputs, jobs, settings)",
                )
                continue
            if step.type == "if_else":
                control[name] = step
                continue
            if step.type not in STEP_TYPES:
                later = step.type in ("parallel", "pipeline", "spark", "data_transfer")
                self.problem(
                    ("jobs", name, "type"),
                    (
                        f"type: {step.type} steps are not supported in pipelines yet"
                        if later
                        else f"unknown step type {step.type!r}"
                    )
                    + f"; a step is one of type: {', '.join(STEP_TYPES)}",
                )
                continue
            found: _Found | None
            if step.type == "automl":
                found = self.automl_component(name)
            elif step.type == "sweep":
                found = self.component(name, step, key="trial")
                if found is not None:
                    found = self.tuned(name, step, found)
            else:
                found = self.component(name, step)
            if found is not None:
                self.resolved[name] = found
        steps: dict[str, StepPlan] = {}
        bound_outputs: set[str] = set()
        for name, found in self.resolved.items():
            step = spec.jobs[name]
            if step.type == "automl":
                plan = self.step(
                    name,
                    step,
                    found,
                    bound_outputs,
                    given={k: getattr(step, k) for k in _AUTOML_DATA if getattr(step, k)},
                    prefix=(),
                    label="an automl step",
                )
                plan.inputs = {k: v for k, v in plan.inputs.items() if v["kind"] != "absent"}
                plan.kind, plan.job, plan.is_deterministic = (
                    "automl",
                    self.automl(name, plan),
                    False,
                )
            elif step.type == "sweep":
                tuned = step.search_space or {}
                given = {k: v for k, v in step.inputs.items() if k not in tuned}  # reported
                plan = self.step(
                    name, step, found, bound_outputs, given=given, label="the trial component"
                )
                plan.kind, plan.job, plan.is_deterministic = "sweep", self.sweep(name, plan), False
            else:
                plan = self.step(name, step, found, bound_outputs)
            steps[name] = plan
        for out_name in spec.outputs:
            if out_name not in bound_outputs:
                self.problem(
                    ("outputs", out_name),
                    f"no step binds this output; add outputs: {{<o>: ${{{{parent.outputs.{out_name}}}}}}} to a step",
                )
        conditions: dict[str, ConditionPlan] = {}
        for name, step in control.items():
            gate = self.condition(name, step, steps)
            if gate is not None:
                conditions[name] = gate
        order = self.order(steps, conditions)
        self.problems = list(dict.fromkeys(self.problems))
        if self.problems:
            noun = "problem" if len(self.problems) == 1 else "problems"
            raise SpecError(
                f"Invalid pipeline {spec.source} ({len(self.problems)} {noun}):\n"
                + "\n".join(f"  - {p}" for p in self.problems),
                problems=list(self.problems),
            )
        return Plan(steps=steps, conditions=conditions, order=order)

    def step(
        self,
        name: str,
        step: PipelineStepSpec,
        found: _Found,
        bound_outputs: set[str],
        *,
        given: dict[str, Any] | None = None,
        prefix: tuple[str, ...] = ("inputs",),
        label: str = "component",
    ) -> StepPlan:
        """Check a step's inputs (``given``, by default ``step.inputs``, under the key path
        ``jobs.<name>.<prefix>``) and outputs against its component (``label`` names it in
        messages)."""
        component, ref, version, owner, code_path = found
        what = label if step.type == "automl" else f"{label} {component.name or name!r}"
        if given is None:
            given = step.inputs
        inputs: dict[str, dict[str, Any]] = {}
        after: list[str] = []
        for key, value in given.items():
            path = ("jobs", name, *prefix, key)
            declared = component.inputs.get(key)
            if declared is None:
                have = ", ".join(component.inputs) or "none"
                self.problem(path, f"{what} has no input {key!r} (its inputs: {have})")
                continue
            entry = self.input(path, declared, value, tables=step.type == "automl")
            if entry is not None:
                inputs[key] = entry
                if entry["kind"] == "step_output" and entry["step"] not in after:
                    after.append(entry["step"])
        for key, declared in component.inputs.items():
            if key in inputs or key in given:
                continue
            if declared.default is not None:
                inputs[key] = self.literal(("jobs", name, *prefix, key), declared, declared.default)
            elif declared.optional:
                inputs[key] = {"kind": "absent", "type": declared.type}
            else:
                self.problem(
                    ("jobs", name, *prefix) if prefix else ("jobs", name),
                    f"required input {key!r} ({declared.type}) of {what} is not given",
                )
        outputs: dict[str, dict[str, Any]] = {
            k: {"type": v.type, "bind": None} for k, v in component.outputs.items()
        }
        for key, value in step.outputs.items():
            path = ("jobs", name, "outputs", key)
            if key not in component.outputs:
                have = ", ".join(component.outputs) or "none"
                self.problem(path, f"{what} has no output {key!r} (its outputs: {have})")
                continue
            binding = parse_binding(value)
            if binding is not None:
                if binding.kind != "output":
                    self.problem(
                        path, f"{value!r}: a step output binds to ${{{{parent.outputs.<name>}}}}"
                    )
                elif binding.name not in self.spec.outputs:
                    have = ", ".join(self.spec.outputs) or "none"
                    self.problem(
                        path,
                        f"{value!r} names no pipeline output {binding.name!r} (the pipeline has: {have})",
                    )
                else:
                    parent_type = self.spec.outputs[binding.name].type
                    if not _compatible(component.outputs[key].type, parent_type):
                        self.problem(
                            path,
                            f"type mismatch: {component.outputs[key].type} output bound to pipeline output {binding.name!r} of type {parent_type}",
                        )
                    outputs[key]["bind"] = binding.name
                    if binding.name in bound_outputs:
                        self.problem(
                            path, f"pipeline output {binding.name!r} is bound by two steps"
                        )
                    bound_outputs.add(binding.name)
            elif isinstance(value, dict) and value.get("name"):
                outputs[key]["name"] = str(value["name"])
                outputs[key]["version"] = value.get("version")
        deterministic = component.is_deterministic
        if step.is_deterministic is not None:
            deterministic = step.is_deterministic
        return StepPlan(
            name=name,
            component=component,
            component_ref=ref,
            component_version=version,
            code_owner=owner,
            code_path=code_path,
            inputs=inputs,
            outputs=outputs,
            after=after,
            compute=step.compute,
            force_rerun=step.force_rerun,
            is_deterministic=deterministic,
            timeout=step.limits.timeout,
            environment_variables=dict(step.environment_variables),
            display_name=step.display_name,
        )

    def literal(
        self, path: tuple[str, ...], declared: ComponentInputSpec, value: Any
    ) -> dict[str, Any]:
        if declared.is_data:
            return {"kind": "data_value", "spec": {"type": declared.type, "path": str(value)}}
        try:
            checked = declared.check_value(value)
        except ValueError as e:
            self.problem(path, str(e))
            checked = value
        return {"kind": "literal", "type": declared.type, "value": checked}

    def input(
        self,
        path: tuple[str, ...],
        declared: ComponentInputSpec,
        value: Any,
        *,
        tables: bool = False,
    ) -> dict[str, Any] | None:
        """Where an input's value comes from; ``tables``: an AutoML data input, which takes
        any table type (a file, a folder, an MLTable)."""

        def compatible(source: str, target: str) -> bool:
            if tables:
                return source in _TABLES
            return _compatible(source, target)

        binding = parse_binding(value)
        if binding is None and isinstance(value, str) and "${{" in value:
            self.problem(
                path,
                f"{value!r} is not a binding; write ${{{{parent.inputs.<name>}}}} or ${{{{parent.jobs.<step>.outputs.<name>}}}}",
            )
            return None
        if binding is None:
            if isinstance(value, dict):
                try:
                    given = JobInputSpec.model_validate(value)
                except ValueError as e:
                    self.problem(path, str(e).splitlines()[-1])
                    return None
                if given.is_data != declared.is_data or (
                    given.is_data and not compatible(given.type, declared.type)
                ):
                    self.problem(
                        path, f"type mismatch: a {given.type} value for a {declared.type} input"
                    )
                    return None
                if given.is_data:
                    return {"kind": "data_value", "spec": given.model_dump(exclude_none=True)}
                value = given.value
                if value is None:
                    return {"kind": "absent", "type": declared.type} if declared.optional else None
            return self.literal(path, declared, value)
        if binding.kind == "input":
            parent = self.spec.inputs.get(binding.name)
            if parent is None:
                have = ", ".join(self.spec.inputs) or "none"
                self.problem(
                    path,
                    f"{value} names no pipeline input {binding.name!r} (the pipeline has: {have})",
                )
                return None
            if parent.is_data != declared.is_data or not compatible(parent.type, declared.type):
                self.problem(
                    path,
                    f"type mismatch: pipeline input {binding.name!r} is {parent.type}, this input is {declared.type}",
                )
                return None
            if not parent.is_data and parent.value is not None:
                try:
                    declared.check_value(parent.value)
                except ValueError as e:
                    self.problem(path, f"pipeline input {binding.name!r}: {e}")
            kind = parent.type if tables else declared.type
            return {"kind": "parent_input", "name": binding.name, "type": kind}
        if binding.kind == "step_output":
            step = binding.step or ""
            if step not in self.spec.jobs:
                have = ", ".join(self.spec.jobs)
                self.problem(path, f"{value} names no step {step!r} (steps: {have})")
                return None
            if step not in self.resolved:
                return None  # that step's own problem is reported
            out = self.resolved[step][0].outputs.get(binding.name)
            if out is None:
                have = ", ".join(self.resolved[step][0].outputs) or "none"
                self.problem(
                    path,
                    f"{value}: step {step!r} has no output {binding.name!r} (its outputs: {have})",
                )
                return None
            if (
                not compatible(out.type, declared.type)
                or (out.type in DATA_TYPES) != declared.is_data
            ):
                self.problem(
                    path,
                    f"type mismatch: {step}.outputs.{binding.name} is {out.type}, this input is {declared.type}",
                )
                return None
            return {
                "kind": "step_output",
                "step": step,
                "output": binding.name,
                "type": out.type if tables else declared.type,
            }
        self.problem(
            path,
            f"{value}: an input binds to ${{{{parent.inputs.<name>}}}} or ${{{{parent.jobs.<step>.outputs.<name>}}}}",
        )
        return None

    def condition(
        self, name: str, step: PipelineStepSpec, steps: dict[str, StepPlan]
    ) -> ConditionPlan | None:
        parsed = parse_condition(step.condition)
        if isinstance(parsed, str):
            self.problem(
                ("jobs", name, "condition"),
                parsed if step.condition is not None else "an if_else node needs condition:",
            )
            return None
        binding, op, literal = parsed
        if binding.kind not in ("step_output", "step_metric") or binding.step not in self.spec.jobs:
            self.problem(
                ("jobs", name, "condition"),
                f"{step.condition!r} must name an existing step's output or metric",
            )
            return None
        if binding.kind == "step_output" and binding.step in steps:
            out = steps[binding.step].component.outputs.get(binding.name)
            if out is None:
                self.problem(
                    ("jobs", name, "condition"),
                    f"step {binding.step!r} has no output {binding.name!r}",
                )
                return None
            if op is None and out.type not in ("boolean", "uri_file", "string"):
                self.problem(
                    ("jobs", name, "condition"),
                    f"{binding.step}.outputs.{binding.name} is {out.type}; a condition reads a boolean output",
                )
                return None
        blocks: dict[str, list[str]] = {}
        for key, raw in zip(("true_block", "false_block"), step.blocks(), strict=True):
            names = []
            for i, item in enumerate(raw):
                target = parse_binding(item)
                target_name = target.step if target is not None and target.kind == "step" else None
                if target_name is None or target_name not in self.spec.jobs:
                    self.problem(
                        ("jobs", name, key),
                        f"entry {i} ({item!r}) must be ${{{{parent.jobs.<step>}}}} of an existing step",
                    )
                    continue
                if target_name == binding.step:
                    self.problem(
                        ("jobs", name, key),
                        f"{target_name!r} is the step the condition reads; it cannot be gated on itself",
                    )
                    continue
                names.append(target_name)
            blocks[key] = names
        if not blocks.get("true_block") and not blocks.get("false_block"):
            self.problem(("jobs", name), "an if_else node needs true_block and/or false_block")
        for gated in [*blocks.get("true_block", []), *blocks.get("false_block", [])]:
            if gated in steps and binding.step not in steps[gated].after:
                steps[gated].after.append(str(binding.step))
        return ConditionPlan(
            name, binding, op, literal, blocks.get("true_block", []), blocks.get("false_block", [])
        )

    def order(self, steps: dict[str, StepPlan], conditions: dict[str, ConditionPlan]) -> list[str]:
        state: dict[str, int] = {}
        order: list[str] = []

        def visit(node: str, trail: list[str]) -> None:
            if state.get(node) == 2:
                return
            if state.get(node) == 1:
                cycle = [*trail[trail.index(node) :], node]
                self.problem(("jobs", node), "cycle: " + " -> ".join(cycle))
                return
            state[node] = 1
            for dep in steps[node].after:
                if dep in steps:
                    visit(dep, [*trail, node])
            state[node] = 2
            order.append(node)

        for name in steps:
            visit(name, [])
        return order


def validate_pipeline(spec: PipelineJobSpec, components: ComponentOperations | None) -> Plan:
    """Check ``spec`` completely; the plan of its steps or one SpecError with every problem."""
    return _Checker(spec, components).run()
