"""Submitting a job: check and resolve everything that can be known before it runs, then
write the run (Queued) and the queue row.

Resolution happens here, on the submitting side, so that a bad spec fails before anything
runs and a job is reproducible: data and model references are pinned to versions, local
input paths and the code folder are stored content-addressed as run artifacts (``inputs/``,
``code/``), the environment is resolved (files read now) and placeholders are checked.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import random
import string
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry, Run, RunStatus
from modelworks.errors import InvalidInputError, ModelworksError, NotFoundError, SpecError
from modelworks.jobs._render import check_references
from modelworks.specs import SpecWarning
from modelworks.specs.jobs import CommandJobSpec, JobInputSpec, JobOutputSpec

if TYPE_CHECKING:
    from modelworks.jobs.queue import ComputeRecord, JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = [
    "LOCAL",
    "code_entries",
    "create_job",
    "default_experiment",
    "job_tags",
    "new_job_name",
    "resolve_compute",
    "resolve_inputs",
    "resolve_outputs",
    "submit_command",
    "upload_entries",
]

LOCAL = "local"
ALWAYS_IGNORED = (".git", "__pycache__", "*.pyc", ".venv", ".ipynb_checkpoints", ".DS_Store")
_WORDS_A = [
    "amber",
    "brisk",
    "calm",
    "dapper",
    "eager",
    "fond",
    "gentle",
    "hearty",
    "ivory",
    "jolly",
    "keen",
    "loyal",
    "merry",
    "noble",
    "olive",
    "plucky",
    "quiet",
    "rosy",
    "sunny",
    "tidy",
    "upbeat",
    "vivid",
    "witty",
    "young",
    "zesty",
]
_WORDS_B = [
    "anchor",
    "basil",
    "cloud",
    "dune",
    "ember",
    "fjord",
    "grove",
    "hazel",
    "island",
    "juniper",
    "kiwi",
    "lagoon",
    "mango",
    "nutmeg",
    "orchid",
    "pepper",
    "quill",
    "reef",
    "saffron",
    "thyme",
    "umber",
    "violet",
    "walnut",
    "yam",
    "zinnia",
]


def new_job_name() -> str:
    """A readable unique-enough name, like Azure ML's: ``calm_lagoon_k2x9f3ws7q``."""
    tail = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
    return f"{random.choice(_WORDS_A)}_{random.choice(_WORDS_B)}_{tail}"


def default_experiment() -> str:
    """Azure ML's default: the name of the folder the job is submitted from."""
    from modelworks._validation import validate_name

    name = Path.cwd().name
    try:
        return validate_name("experiment", name)
    except InvalidInputError:
        return "Default"


def resolve_compute(store: JobStore, value: str | None) -> tuple[str, ComputeRecord | None]:
    """The compute a job's ``compute:`` names; unknown names run on ``local`` with a warning."""
    if not value:
        return LOCAL, None
    text = value.strip().removeprefix("azureml:")
    try:
        record = store.get_compute(text)
        return record.name, record
    except NotFoundError:
        pass
    if text == LOCAL:
        return LOCAL, None
    rays = [c for c in store.list_computes() if c.type == "ray"]
    if text == "ray" or text.startswith("ray://"):
        match = [c for c in rays if text == "ray" or c.address == text]
        if len(match) == 1:
            return match[0].name, match[0]
        if not rays:
            raise NotFoundError(
                f"compute {value!r}: no Ray compute is registered. Register one with "
                "`modelworks compute create --name ray --type ray --address HOST:6379`."
            )
        raise InvalidInputError(
            f"compute {value!r} is ambiguous; name one of the Ray computes: "
            + ", ".join(c.name for c in rays)
        )
    warnings.warn(
        f"compute {value!r} is not defined in this workspace; the job runs on 'local' "
        "(register computes with `modelworks compute create`).",
        SpecWarning,
        stacklevel=2,
    )
    return LOCAL, None


def _looks_like_asset(path: str) -> bool:
    return path.startswith(("azureml:", "data:/", "models:/")) or path.startswith(
        "azureml://registries/"
    )


def resolve_inputs(
    ws: Workspace, inputs: dict[str, JobInputSpec]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Resolved inputs (stored with the job) and uploads still to do (``name → local path``)."""
    resolved: dict[str, dict[str, Any]] = {}
    uploads: dict[str, str] = {}
    for name, spec in inputs.items():
        where = f"inputs.{name}"
        if not spec.is_data:
            if spec.value is None:
                if spec.optional:
                    resolved[name] = {"kind": "absent", "type": spec.type}
                    continue
                raise SpecError(
                    f"{where}: the {spec.type} input has no value; give one (e.g. "
                    f"--set {where}=...) or mark it optional: true."
                )
            resolved[name] = {"kind": "literal", "type": spec.type, "value": spec.value}
            continue
        if not spec.path:
            if spec.optional:
                resolved[name] = {"kind": "absent", "type": spec.type}
                continue
            raise SpecError(
                f"{where}: the {spec.type} input has no path; give a local path, "
                "azureml:<name>:<version> (or @latest), or a URL."
            )
        mode = spec.mode or "ro_mount"
        path = spec.path
        entry: dict[str, Any] = {"type": spec.type, "mode": mode}
        if path.startswith(("azureml://datastores/", "azureml://subscriptions/")):
            raise SpecError(
                f"{where}: {path!r} is an Azure datastore path, which this workspace cannot "
                "read. Register the data here (`modelworks data create`) and use "
                "azureml:<name>@latest."
            )
        if _looks_like_asset(path):
            try:
                if spec.type in ("mlflow_model", "custom_model"):
                    model = ws.models.get(path)
                    entry.update(kind="model", name=model.name, version=model.version)
                    entry["ref"] = f"azureml:{model.name}:{model.version}"
                else:
                    asset = ws.data.get(path)
                    entry.update(kind="data", name=asset.name, version=asset.version)
                    entry["ref"] = f"azureml:{asset.name}:{asset.version}"
                    entry["asset_type"] = asset.type
            except ModelworksError as e:
                raise type(e)(f"Input {name!r} ({path}): {e.message}") from e
        elif "://" in path and not path.startswith("file://"):
            entry.update(kind="url", uri=path)
        else:
            local = Path(path.removeprefix("file://")).expanduser()
            if not local.exists():
                raise NotFoundError(
                    f"Input {name!r}: local path {str(local)!r} does not exist (relative "
                    "paths in a YAML file are relative to the file's folder)."
                )
            if spec.type == "uri_file" and not local.is_file():
                raise SpecError(f"{where}: type uri_file needs a file, {str(local)!r} is a folder.")
            if spec.type in ("uri_folder", "mltable") and not local.is_dir():
                raise SpecError(
                    f"{where}: type {spec.type} needs a folder, {str(local)!r} is a file; "
                    "use type: uri_file."
                )
            entry.update(kind="upload", source=str(local.resolve()))
            uploads[name] = str(local.resolve())
        resolved[name] = entry
    return resolved, uploads


def resolve_outputs(outputs: dict[str, JobOutputSpec]) -> dict[str, dict[str, Any]]:
    resolved = {}
    for name, spec in outputs.items():
        if spec.path:
            warnings.warn(
                f"outputs.{name}.path {spec.path!r} is ignored: outputs are stored as run "
                f"artifacts (outputs/{name}).",
                SpecWarning,
                stacklevel=2,
            )
        resolved[name] = {
            "type": spec.type,
            "name": spec.name,
            "version": spec.version,
            "description": spec.description,
        }
    return resolved


def _ignore_patterns(root: Path) -> list[str]:
    patterns = list(ALWAYS_IGNORED)
    for file_name in (".amlignore", ".gitignore"):
        path = root / file_name
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#") and not line.startswith("!"):
                    patterns.append(line)
            break  # Azure ML: .amlignore wins over .gitignore
    return patterns


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        bare = pattern.strip("/")
        if "/" in bare:
            if fnmatch.fnmatch(relative, bare) or relative.startswith(bare + "/"):
                return True
        elif any(fnmatch.fnmatch(part, bare) for part in parts):
            return True
    return False


def code_entries(ws: Workspace, code: str) -> list[ArtifactEntry]:
    """Store the code folder (or file) content-addressed; entries under ``code/``."""
    root = Path(code).expanduser()
    if not root.exists():
        raise NotFoundError(
            f"code: {code!r} does not exist (relative paths in a YAML file are relative to "
            "the file's folder)."
        )
    blobs = ws.blobs
    if root.is_file():
        stored = blobs.put_file(str(root))
        return [ArtifactEntry(f"code/{root.name}", stored.digest, stored.size)]
    patterns = _ignore_patterns(root)
    entries = []
    for folder, dirs, files in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder
        dirs[:] = sorted(d for d in dirs if not _ignored(f"{rel_folder}/{d}".lstrip("/"), patterns))
        for file_name in sorted(files):
            relative = f"{rel_folder}/{file_name}".lstrip("/")
            if _ignored(relative, patterns):
                continue
            stored = blobs.put_file(os.path.join(folder, file_name))
            entries.append(ArtifactEntry(f"code/{relative}", stored.digest, stored.size))
    return entries


def _param_text(entry: dict[str, Any]) -> str:
    for key in ("ref", "uri", "source"):
        if entry.get(key):
            return str(entry[key])
    return str(entry.get("value", ""))


def upload_entries(
    ws: Workspace, code: str | None, uploads: dict[str, str], inputs: dict[str, dict[str, Any]]
) -> list[ArtifactEntry]:
    """Store the code snapshot and local input files; marks each upload's artifact path."""
    entries: list[ArtifactEntry] = []
    if code:
        entries.extend(code_entries(ws, code))
    for input_name, local in uploads.items():
        entries.extend(ws.runs.trees.store_path(local, f"inputs/{input_name}"))
        artifact = f"inputs/{input_name}"
        if Path(local).is_file():
            artifact += f"/{Path(local).name}"
        inputs[input_name]["artifact"] = artifact
    return entries


def create_job(
    ws: Workspace,
    store: JobStore,
    *,
    resolved: dict[str, Any],
    kind: str,
    compute: str,
    experiment: str,
    name: str | None = None,
    parent_id: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    entries: list[ArtifactEntry] | None = None,
    max_attempts: int = 2,
) -> tuple[Run, JobRecord]:
    """Write a job whose spec is resolved: its run (Queued), artifacts, then its queue row."""
    name = name or new_job_name()
    try:
        store.get_job_by_name(name)
    except NotFoundError:
        pass
    else:
        from modelworks.errors import AlreadyExistsError

        raise AlreadyExistsError(
            f"A job named {name!r} already exists; job names are unique. Pick another name or "
            "leave it out to get a generated one."
        )
    from modelworks.tracking.sysinfo import current_user

    run = ws.meta.create_run(
        ws.runs.get_or_create_experiment(experiment).id,
        name=name,
        parent_id=parent_id,
        kind=kind,
        status=RunStatus.QUEUED,
        description=description,
        user=current_user(),
        tags=tags,
        params=params,
    )
    try:
        if entries:
            ws.meta.put_artifact_entries(f"run/{run.id}", entries)
        record = store.enqueue(
            run.id,
            name=name,
            kind=kind,
            compute=compute,
            spec=resolved,
            parent_id=parent_id,
            max_attempts=max_attempts,
        )
    except BaseException as e:
        ws.meta.update_run(run.id, status=RunStatus.FAILED, error=f"Submission failed: {e}")
        raise
    return run, record


def job_tags(spec: Any, kind: str, compute: str, environment: dict[str, Any]) -> dict[str, str]:
    tags = {
        **spec.tags,
        "mw.job.type": kind,
        "mw.job.compute": compute,
        "mw.job.environment": str(environment.get("label", "inherit")),
    }
    if spec.display_name:
        tags["mw.job.display_name"] = spec.display_name
    return tags


def submit_command(
    ws: Workspace,
    store: JobStore,
    spec: CommandJobSpec,
    *,
    environment: dict[str, Any],
    max_attempts: int = 2,
) -> tuple[Run, JobRecord]:
    """Check and resolve a command job, then create its run and queue row."""
    compute, _record = resolve_compute(store, spec.compute)
    inputs, uploads = resolve_inputs(ws, spec.inputs)
    outputs = resolve_outputs(spec.outputs)
    check_references(
        spec.command,
        inputs=list(inputs),
        outputs=outputs,
        optional=[n for n, v in inputs.items() if v["kind"] == "absent"],
    )
    if spec.name:
        with contextlib.suppress(NotFoundError):
            store.get_job_by_name(spec.name)
            from modelworks.errors import AlreadyExistsError

            raise AlreadyExistsError(
                f"A job named {spec.name!r} already exists; job names are unique. Pick another "
                "name or leave it out to get a generated one."
            )
    experiment = spec.experiment_name or default_experiment()
    entries = upload_entries(ws, spec.code, uploads, inputs)
    resolved = {
        "type": "command",
        "command": spec.command,
        "inputs": inputs,
        "outputs": outputs,
        "environment": environment,
        "environment_variables": {k: str(v) for k, v in spec.environment_variables.items()},
        "timeout": spec.limits.timeout,
        "code": bool(spec.code),
        "experiment_name": experiment,
    }
    return create_job(
        ws,
        store,
        resolved=resolved,
        kind="command",
        compute=compute,
        experiment=experiment,
        name=spec.name,
        description=spec.description,
        tags=job_tags(spec, "command", compute, environment),
        params={k: _param_text(v) for k, v in inputs.items() if v["kind"] != "absent"},
        entries=entries,
        max_attempts=max_attempts,
    )
