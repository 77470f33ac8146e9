"""The pipeline DSL: a decorated function whose body calls components builds a pipeline job.

::

    from modelworks import Input, dsl, load_component

    prep, train = load_component("prep.yml"), load_component("train.yml")

    @dsl.pipeline(default_compute="local")
    def training(data, lr=0.1):
        p = prep(raw=data)
        t = train(data=p.outputs.clean, lr=lr)
        return {"model": t.outputs.model}

    ws.jobs.create(training(data=Input(type="uri_file", path="azureml:bank@latest")))

Calling the decorated function returns the same :class:`PipelineJobSpec` a YAML file gives
(the function's body runs once, with placeholders for its parameters), so both forms are
validated and submitted by one path. :func:`condition` adds an ``if_else`` node.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelworks.errors import InvalidInputError

if TYPE_CHECKING:
    from modelworks.pipelines.components import Component
    from modelworks.specs.pipelines import PipelineJobSpec

__all__ = ["PipelineInput", "StepNode", "StepOutput", "condition", "pipeline"]

_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "modelworks_pipeline_builder", default=None
)


class PipelineInput:
    """A parameter of the pipeline function: ``${{parent.inputs.<name>}}``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def binding(self) -> str:
        return f"${{{{parent.inputs.{self.name}}}}}"

    def __repr__(self) -> str:
        return self.binding()


class StepOutput:
    """An output of a step: ``${{parent.jobs.<step>.outputs.<name>}}``."""

    def __init__(self, node: StepNode, name: str) -> None:
        self.node = node
        self.name = name

    def binding(self) -> str:
        return f"${{{{parent.jobs.{self.node.name}.outputs.{self.name}}}}}"

    def __repr__(self) -> str:
        return self.binding()


class _Outputs:
    def __init__(self, node: StepNode) -> None:
        self._node = node

    def __getattr__(self, name: str) -> StepOutput:
        declared = self._node.component.spec.outputs
        if declared and name not in declared and not name.startswith("_"):
            raise InvalidInputError(
                f"Component {self._node.component.name!r} has no output {name!r}; its "
                f"outputs: {', '.join(declared) or 'none'}."
            )
        return StepOutput(self._node, name)

    def __getitem__(self, name: str) -> StepOutput:
        return self.__getattr__(name)


class StepNode:
    """One step added by calling a component; set ``name``, ``compute``, ``force_rerun`` or
    ``display_name`` on it before the function returns."""

    def __init__(self, component: Component, inputs: dict[str, Any], name: str) -> None:
        self.component = component
        self.inputs = inputs
        self.name = name
        self.compute: str | None = None
        self.force_rerun: bool | None = None
        self.display_name: str | None = None
        self.outputs = _Outputs(self)

    def __repr__(self) -> str:
        return f"StepNode({self.name!r})"


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[StepNode] = []
        self.conditions: list[dict[str, Any]] = []

    def unique(self, base: str) -> str:
        taken = {n.name for n in self.nodes}
        name, i = base.replace("-", "_"), 2
        while name in taken:
            name = f"{base.replace('-', '_')}_{i}"
            i += 1
        return name


def current_builder() -> _Builder | None:
    """The pipeline being built in this context, if any."""
    return _BUILDER.get()


def add_step(component: Component, inputs: dict[str, Any]) -> StepNode:
    """Add a step calling ``component`` to the pipeline being built."""
    builder = _BUILDER.get()
    assert builder is not None
    node = StepNode(component, inputs, builder.unique(component.name))
    builder.nodes.append(node)
    return node


def condition(
    when: StepOutput | str,
    *,
    true_block: StepNode | list[StepNode] | None = None,
    false_block: StepNode | list[StepNode] | None = None,
) -> None:
    """Run ``true_block`` steps only when ``when`` (a boolean step output, or an expression
    such as ``"${{parent.jobs.eval.outputs.auc}} > 0.8"``) is true, ``false_block`` otherwise;
    the other block's steps end Skipped with the reason. (Azure's ``dsl.condition``.)"""
    builder = _BUILDER.get()
    if builder is None:
        raise InvalidInputError("dsl.condition(...) is used inside a @dsl.pipeline function.")
    builder.conditions.append({"when": when, "true": true_block, "false": false_block})


def _value(value: Any) -> Any:
    if isinstance(value, PipelineInput | StepOutput):
        return value.binding()
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value


def _blocks(value: StepNode | list[StepNode] | None) -> list[str] | None:
    if value is None:
        return None
    nodes = value if isinstance(value, list) else [value]
    return [f"${{{{parent.jobs.{n.name}}}}}" for n in nodes]


def pipeline(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    default_compute: str | None = None,
    continue_on_step_failure: bool = False,
    force_rerun: bool = False,
    tags: dict[str, str] | None = None,
) -> Any:
    """Decorate a function that calls components; calling it returns a pipeline job spec.

    The function's parameters are the pipeline's inputs (pass ``Input(...)`` objects, paths
    or literals when calling it); the dict it returns maps pipeline output names to step
    outputs.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., PipelineJobSpec]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> PipelineJobSpec:
            from modelworks.specs.jobs import job_spec_from_dict

            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            builder = _Builder()
            token = _BUILDER.set(builder)
            try:
                returned = fn(**{p: PipelineInput(p) for p in signature.parameters})
            finally:
                _BUILDER.reset(token)
            inputs = {k: _value(v) for k, v in bound.arguments.items() if v is not None}
            steps: dict[str, Any] = {}
            for node in builder.nodes:
                step: dict[str, Any] = {
                    "type": "command",
                    "component": node.component.definition(),
                    "inputs": {k: _value(v) for k, v in node.inputs.items() if v is not None},
                    "outputs": {},
                }
                for key in ("compute", "force_rerun", "display_name"):
                    if getattr(node, key) is not None:
                        step[key] = getattr(node, key)
                steps[node.name] = step
            outputs: dict[str, Any] = {}
            for out_name, out in (returned or {}).items():
                if not isinstance(out, StepOutput):
                    raise InvalidInputError(
                        f"@dsl.pipeline {fn.__name__}: returned {out_name!r} must be a step "
                        f"output (step.outputs.<name>), got {type(out).__name__}."
                    )
                declared = out.node.component.spec.outputs.get(out.name)
                outputs[out_name] = {"type": declared.type if declared else "uri_folder"}
                steps[out.node.name]["outputs"][out.name] = f"${{{{parent.outputs.{out_name}}}}}"
            for i, cond in enumerate(builder.conditions, start=1):
                when = cond["when"]
                steps[f"condition_{i}" if f"condition_{i}" not in steps else f"if_else_{i}"] = {
                    "type": "if_else",
                    "condition": when.binding() if isinstance(when, StepOutput) else when,
                    "true_block": _blocks(cond["true"]),
                    "false_block": _blocks(cond["false"]),
                }
            data: dict[str, Any] = {
                "type": "pipeline",
                "display_name": display_name or fn.__name__,
                "description": description or inspect.getdoc(fn) or "",
                "experiment_name": experiment_name,
                "name": name,
                "tags": tags or {},
                "inputs": inputs,
                "outputs": outputs,
                "settings": {
                    "default_compute": default_compute,
                    "continue_on_step_failure": continue_on_step_failure,
                    "force_rerun": force_rerun,
                },
                "jobs": steps,
            }
            data = {k: v for k, v in data.items() if v is not None}
            spec: PipelineJobSpec = job_spec_from_dict(data, source=f"@dsl.pipeline {fn.__name__}")
            return spec

        return build

    if function is not None:
        return wrap(function)
    return wrap
