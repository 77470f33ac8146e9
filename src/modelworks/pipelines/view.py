"""What ``modelworks job show`` prints for a pipeline: its steps in dependency order with each
step's status — Reused and Skipped (with the reason) included — its job and upstream steps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelworks.errors import NotFoundError

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["pipeline_steps"]


def pipeline_steps(ws: Workspace, run_id: str) -> list[dict[str, Any]]:
    """One row per step: ``step``, ``status``, ``job``, ``after``, ``note``."""
    from modelworks.pipelines.driver import REUSED_TAG, SKIPPED_TAG, STEP_TAG

    try:
        record = ws.jobs.store.get_job(run_id)
    except NotFoundError:
        return []
    spec = record.spec
    parent = ws.meta.get_run(run_id)
    children: dict[str, Any] = {}
    for found in ws.runs.children(run_id):
        step = found.tags.get(STEP_TAG)
        if step is not None:
            children[step] = found
    gates: dict[str, str] = {}
    for name, cond in (spec.get("conditions") or {}).items():
        for step in [*cond.get("true_block", []), *cond.get("false_block", [])]:
            gates[step] = name
    rows = []
    for step in spec.get("order") or []:
        child: Any = children.get(step)
        note = ""
        if child is not None:
            status = child.status.value
            if child.tags.get(REUSED_TAG):
                status = "Reused"
                try:
                    note = f"outputs of {ws.meta.get_run(child.tags[REUSED_TAG]).name}"
                except NotFoundError:
                    note = f"outputs of run {child.tags[REUSED_TAG]}"
            elif child.error:
                note = child.error.strip().splitlines()[0][:200]
        elif SKIPPED_TAG + step in parent.tags:
            reason = parent.tags[SKIPPED_TAG + step]
            status = "Failed" if reason.startswith("failed to start") else "Skipped"
            note = reason
        else:
            status = "NotStarted"
        after = list(spec["steps"][step].get("after") or [])
        if step in gates:
            note = (note + "; " if note else "") + f"gated by {gates[step]}"
        rows.append(
            {
                "step": step,
                "status": status,
                "job": child.name if child is not None else None,
                "after": after,
                "note": note,
            }
        )
    return rows
