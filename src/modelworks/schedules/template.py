"""A job definition captured once and submitted many times (by a schedule or an endpoint).

:func:`capture_job` validates a job (a YAML file, or an inline mapping) and snapshots the
folder it lives in into the blob store — ignoring ``.git``, ``.venv``, ``__pycache__`` and the
patterns of ``.amlignore``/``.gitignore``, within a size limit — so later submissions use the
files as they were when the schedule or endpoint was made, even if the checkout changes.
:meth:`JobTemplate.build` materialises the snapshot once per machine (a cache folder named by
its content hash) and returns a job spec with input overrides applied.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks._validation import validate_name
from modelworks.entities import ArtifactEntry
from modelworks.errors import InvalidInputError, InvalidNameError, SpecError
from modelworks.specs._loading import load_yaml_file, resolve_spec_path

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = [
    "ENV_SNAPSHOT_LIMIT_MB",
    "JobTemplate",
    "UnknownInputError",
    "capture_job",
    "merge_inputs",
]

ENV_SNAPSHOT_LIMIT_MB = "MODELWORKS_SNAPSHOT_LIMIT_MB"
DEFAULT_SNAPSHOT_LIMIT_MB = 200.0
_COMPLETE = ".modelworks-snapshot-complete"


class UnknownInputError(InvalidInputError):
    """Inputs that the published job does not declare (HTTP 422)."""

    status_code = 422
    code = "UNKNOWN_INPUT"


def _limit_bytes() -> int:
    raw = os.environ.get(ENV_SNAPSHOT_LIMIT_MB)
    return int(float(raw) * 1024 * 1024) if raw else int(DEFAULT_SNAPSHOT_LIMIT_MB * 1024 * 1024)


def merge_inputs(data: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Set input values on a job mapping as ``az ml job create --set inputs.x=...`` does: a
    scalar sets the ``path`` of a data input or the ``value`` of a literal one; a mapping
    replaces the input."""
    from modelworks.specs.jobs import DATA_TYPES

    current = data.get("inputs")
    target: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    for name, value in inputs.items():
        existing = target.get(name)
        if isinstance(value, dict) or not isinstance(existing, dict):
            target[name] = value
            continue
        updated = dict(existing)
        if str(updated.get("type", "")) in DATA_TYPES or "path" in updated:
            updated["path"] = value
        else:
            updated["value"] = value
            updated.pop("default", None)
        target[name] = updated
    data["inputs"] = target
    return data


@dataclasses.dataclass
class JobTemplate:
    """A snapshotted job definition: ``owner`` holds the files (artifact entries), the job is
    ``job_file`` inside them or ``inline``; ``overrides`` are applied at every submission."""

    owner: str
    job_file: str | None
    inline: dict[str, Any] | None
    overrides: dict[str, Any]
    job_type: str
    input_names: list[str]
    default_experiment: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobTemplate:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})

    # -- using it -------------------------------------------------------------------------
    def materialise(self, ws: Workspace) -> Path:
        """The snapshot as a local folder (downloaded once, then reused)."""
        target = Path(ws.cache_dir) / "snapshots" / self.owner.rsplit("/", 1)[-1]
        if (target / _COMPLETE).exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            entries = ws.meta.list_artifact_entries(self.owner)
            if entries:
                ws.runs.trees.download(self.owner, "", staging, entries=entries)
            (staging / _COMPLETE).write_text(self.owner)
            try:
                os.rename(staging, target)
            except OSError:  # another process materialised it first
                if not (target / _COMPLETE).exists():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        unknown = sorted(set(inputs) - set(self.input_names))
        if unknown:
            known = ", ".join(self.input_names) or "(none)"
            raise UnknownInputError(
                f"Unknown input(s) {', '.join(unknown)}: the published job declares "
                f'{known}. Use those names in "inputs".',
                unknown=unknown,
                known=list(self.input_names),
            )

    def build(
        self,
        ws: Workspace,
        *,
        name: str,
        tags: dict[str, str],
        inputs: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Any:
        """A validated job spec: the snapshot plus overrides, named ``name``, tagged ``tags``.
        ``fields`` (``experiment_name``, ``display_name``...) are set when not None."""
        from modelworks.specs.jobs import job_spec_from_dict

        root = self.materialise(ws)
        if self.job_file is not None:
            data: dict[str, Any] = load_yaml_file(root / self.job_file)
        else:
            data = copy.deepcopy(self.inline or {})
        data = _apply(data, self.overrides)
        if inputs:
            self.check_inputs(inputs)
            merge_inputs(data, inputs)
        if settings:
            data["settings"] = {**(data.get("settings") or {}), **settings}
        for key, value in fields.items():
            if value is not None:
                data[key] = value
        data["name"] = name
        data["tags"] = {**(data.get("tags") or {}), **tags}
        if not data.get("experiment_name"):
            data["experiment_name"] = self.default_experiment
        source = f"{self.source} (snapshot of {self.job_file or 'inline job'})"
        return job_spec_from_dict(data, source=source, base_dir=str(root))


def _apply(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if key == "inputs":
            merge_inputs(data, value)
        elif key in ("settings", "tags", "outputs"):
            data[key] = {**(data.get(key) or {}), **value}
        else:
            data[key] = value
    return data


def _experiment_from(folder: Path, fallback: str) -> str:
    try:
        return validate_name("experiment", folder.name)
    except InvalidNameError:
        return fallback


def _outside(path: str, root: Path) -> bool:
    try:
        return not Path(path).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


def _check_local_paths(spec: Any, root: Path, source: str) -> None:
    """Refuse local paths outside the snapshot: they would not exist at the next fire."""
    found: list[tuple[str, str]] = []
    code = getattr(spec, "code", None)
    if isinstance(code, str) and "://" not in code and not code.startswith("azureml:"):
        found.append(("code", code))
    for name, item in (getattr(spec, "inputs", None) or {}).items():
        path = getattr(item, "path", None)
        if isinstance(path, str) and os.path.isabs(path) and os.path.exists(path):
            found.append((f"inputs.{name}.path", path))
    for key, path in found:
        if _outside(path, root):
            raise SpecError(
                f"{source}: {key} {path!r} is outside the folder {str(root)!r} that is "
                "snapshotted for later runs; move it under that folder (or register it as a "
                "data asset and use azureml:<name>@latest)."
            )


def _snapshot(ws: Workspace, root: Path, source: str) -> list[ArtifactEntry]:
    from modelworks.jobs._submit import _ignore_patterns, _ignored

    patterns = _ignore_patterns(root)
    files: list[tuple[str, str]] = []
    total = 0
    limit = _limit_bytes()
    for folder, dirs, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder
        dirs[:] = sorted(d for d in dirs if not _ignored(f"{rel_folder}/{d}".lstrip("/"), patterns))
        for file_name in sorted(names):
            relative = f"{rel_folder}/{file_name}".lstrip("/")
            full = os.path.join(folder, file_name)
            if _ignored(relative, patterns) or not os.path.isfile(full):
                continue
            total += os.path.getsize(full)
            if total > limit:
                raise InvalidInputError(
                    f"{source}: the folder {str(root)!r} holds more than "
                    f"{limit / 1024 / 1024:.0f} MiB, the snapshot limit. Keep the job YAML in a "
                    "folder with only its code, list large files in .amlignore, register data "
                    f"as data assets, or raise {ENV_SNAPSHOT_LIMIT_MB}."
                )
            files.append((relative, full))
    entries = []
    for relative, full in files:
        stored = ws.blobs.put_file(full)
        entries.append(ArtifactEntry(relative, stored.digest, stored.size))
    return entries


def capture_job(
    ws: Workspace,
    job: str | dict[str, Any],
    *,
    base_dir: str | None,
    overrides: dict[str, Any] | None = None,
    source: str,
    default_experiment: str,
) -> JobTemplate:
    """Validate a job (file path or inline mapping) with ``overrides`` and snapshot its folder.

    ``base_dir`` resolves a relative file path and is the folder of an inline job.
    """
    from modelworks.artifacts import tree_hash
    from modelworks.specs.jobs import job_spec_from_dict

    overrides = dict(overrides or {})
    if isinstance(job, str):
        if job.startswith("azureml:"):
            raise SpecError(
                f"{source}: create_job {job!r} references a job by name, which is not supported "
                "yet: point create_job at the job's YAML file instead (its folder is snapshotted)."
            )
        path = Path(resolve_spec_path(job, base_dir))
        data = load_yaml_file(path)
        root = path.parent
        job_file: str | None = path.name
        inline = None
        job_source = str(path)
    else:
        data = copy.deepcopy(job)
        root = Path(base_dir or os.getcwd())
        job_file = None
        inline = copy.deepcopy(job)
        job_source = f"{source} (create_job)"
    checked = _apply(copy.deepcopy(data), overrides)
    checked.pop("name", None)
    spec = job_spec_from_dict(checked, source=job_source, base_dir=str(root))
    _check_local_paths(spec, root, job_source)
    entries = _snapshot(ws, root, source)
    owner = f"snapshot/{tree_hash(entries)[:32] if entries else uuid.uuid4().hex}"
    if entries and not ws.meta.list_artifact_entries(owner):
        ws.meta.put_artifact_entries(owner, entries)
    inputs = checked.get("inputs")
    with contextlib.suppress(Exception):
        inputs = dict(getattr(spec, "inputs", None) or inputs or {})
    return JobTemplate(
        owner=owner,
        job_file=job_file,
        inline=inline,
        overrides=overrides,
        job_type=str(getattr(spec, "type", data.get("type", "command"))),
        input_names=sorted(inputs or {}),
        default_experiment=_experiment_from(root, default_experiment),
        source=source,
    )
