"""Step reuse: a step's *fingerprint* names everything its outputs depend on.

It hashes the component's identity (its validated spec — command, inputs, outputs — and its
code snapshot's tree hash), the resolved environment, the step's environment variables, and
each input's *content*: a literal's value, a data or model version's reference (versions are
immutable), or the tree hash (paths and sha256 of every file) of an uploaded file or of an
upstream step's output. A deterministic step whose fingerprint matches an earlier successful
step reuses that step's outputs; changing one input's bytes changes the fingerprint of that
step, and — only if its outputs change — of the steps downstream.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["fingerprint", "output_entries"]

#: Bump when what the fingerprint covers changes, so old entries stop matching.
FINGERPRINT_VERSION = 1


def fingerprint(step: dict[str, Any], inputs: dict[str, str]) -> str:
    """The sha256 fingerprint of a resolved step given its inputs' content identities."""
    material = {
        "v": FINGERPRINT_VERSION,
        "component": step["component"],
        "code": step.get("code_hash"),
        "environment": step.get("environment_hash"),
        "environment_variables": step.get("environment_variables") or {},
        "inputs": inputs,
        "outputs": {k: v["type"] for k, v in step["outputs"].items()},
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def output_entries(ws: Workspace, run_id: str, output: str) -> list[ArtifactEntry]:
    """The stored files of a step's named output (``outputs/<output>`` of its run)."""
    return ws.meta.list_artifact_entries(f"run/{run_id}", f"outputs/{output}")
