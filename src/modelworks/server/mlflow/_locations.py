"""Where an MLflow artifact path or model source lives among our artifact trees.

The artifact URIs this server hands out (``_convert``) come back as proxy paths
(``/api/2.0/mlflow-artifacts/artifacts/<path>``) and as model-version sources. Each names an
owner's tree (``run/<id>`` or ``model/<name>/<version>``) and a folder or file in it:

========================================================  =========================
``<experiment>/<run id>/artifacts/<path>``                  ``run/<run id>``, ``path``
``<experiment>/models/m-<id>/artifacts/<path>``             ``run/<id>`` (a logged model)
``registry/<model>/<version>/<path>``                       ``model/<model>/<version>`` (read-only)
========================================================  =========================

Model-version sources may also be ``runs:/<run id>/<path>``, ``models:/m-<id>``,
``models:/<name>/<version>`` (or ``@alias``, ``/latest``) and ``http(s)://.../mlflow-artifacts/
artifacts/<path>``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from modelworks._validation import validate_relative_path
from modelworks.entities import ArtifactEntry
from modelworks.errors import NotFoundError
from modelworks.server.mlflow._convert import LOGGED_MODEL_KIND, MODEL_ID_PREFIX
from modelworks.server.mlflow._errors import MlflowError
from modelworks.store.base import MetadataStore

__all__ = ["Location", "list_children", "parse_proxy_path", "resolve_source"]

_PROXY_MARK = "/mlflow-artifacts/artifacts"


@dataclass(frozen=True)
class Location:
    """A folder or file ``prefix`` in ``owner``'s tree; ``run_id`` is the producing run."""

    owner: str
    prefix: str
    writable: bool
    run_id: str | None = None
    model_id: str | None = None


def _not_ours(path: str) -> MlflowError:
    return MlflowError(
        "RESOURCE_DOES_NOT_EXIST",
        f"Artifact path {path!r} is not an artifact location of this server; locations look "
        "like <experiment id>/<run id>/artifacts/..., <experiment id>/models/m-<id>/artifacts/"
        "... or registry/<model>/<version>/... (use the artifact_uri of a run, logged model "
        "or model version).",
    )


def parse_proxy_path(path: str) -> Location:
    """The tree and prefix an ``mlflow-artifacts`` path names (no store access)."""
    clean = validate_relative_path(path, allow_empty=True)
    parts = clean.split("/") if clean else []
    if len(parts) >= 3 and parts[0] == "registry":
        rest = "/".join(parts[3:])
        return Location(f"model/{parts[1]}/{parts[2]}", rest, writable=False)
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        model_id = parts[2]
        if not model_id.startswith(MODEL_ID_PREFIX):
            raise _not_ours(path)
        run_id = model_id[len(MODEL_ID_PREFIX) :]
        return Location(f"run/{run_id}", "/".join(parts[4:]), True, model_id=model_id)
    if len(parts) >= 3 and parts[2] == "artifacts":
        return Location(f"run/{parts[1]}", "/".join(parts[3:]), True, run_id=parts[1])
    raise _not_ours(path)


def _proxy_path_of(uri: str) -> str | None:
    """The proxy path inside an ``mlflow-artifacts:`` or ``http(s)://`` artifact URI."""
    parsed = urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        return unquote(parsed.path.lstrip("/"))
    if parsed.scheme in ("http", "https") and _PROXY_MARK in parsed.path:
        return unquote(parsed.path.split(_PROXY_MARK, 1)[1].lstrip("/"))
    return None


def resolve_source(meta: MetadataStore, source: str, model_id: str | None = None) -> Location:
    """The tree a model-version ``source`` (or logged ``model_id``) names; checks it exists."""
    if model_id or (source.startswith("models:/" + MODEL_ID_PREFIX) and source.count("/") == 1):
        wanted = model_id or source[len("models:/") :]
        run_id = wanted[len(MODEL_ID_PREFIX) :] if wanted.startswith(MODEL_ID_PREFIX) else ""
        try:
            run = meta.get_run(run_id)
        except NotFoundError:
            run = None
        if run is None or run.kind != LOGGED_MODEL_KIND:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{wanted}' not found."
            )
        return Location(f"run/{run.id}", "", False, run_id=run.parent_id, model_id=wanted)
    if source.startswith("runs:/"):
        from modelworks.references import parse_runs_uri

        ref = parse_runs_uri(source)
        run = meta.get_run(ref.run_id)
        if run.kind == LOGGED_MODEL_KIND:
            return Location(
                f"run/{run.id}", ref.path, False, run.parent_id, MODEL_ID_PREFIX + run.id
            )
        return Location(f"run/{run.id}", ref.path, False, run_id=run.id)
    if source.startswith("models:/"):
        return _registered_source(meta, source)
    proxy = _proxy_path_of(source)
    if proxy is not None:
        location = parse_proxy_path(proxy)
        if location.owner.startswith("run/"):
            run = meta.get_run(location.owner[len("run/") :])
            if run.kind == LOGGED_MODEL_KIND:
                return Location(
                    location.owner, location.prefix, False, run.parent_id, MODEL_ID_PREFIX + run.id
                )
            return Location(location.owner, location.prefix, False, run_id=run.id)
        name, version = location.owner.split("/")[1:3]
        found = meta.get_model_version(name, version)
        return Location(location.owner, location.prefix, False, run_id=found.run_id)
    raise MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"Model version source {source!r} is not readable by this server. Use runs:/<run id>/"
        "<path>, models:/<model id> (from log_model) or an mlflow-artifacts:/ URI of this "
        "server; to register files from your machine, log them to a run first "
        "(mlflow.log_artifacts or mlflow.<flavor>.log_model).",
    )


def _registered_source(meta: MetadataStore, source: str) -> Location:
    """``models:/<name>/<version|stage|latest>[/path]`` or ``models:/<name>@<alias>[/path]``."""
    from modelworks.server.mlflow._convert import latest_per_stage

    body = source[len("models:/") :]
    head, _, rest = body.partition("/")
    if "@" in head:
        name, alias = head.rsplit("@", 1)
        found = meta.get_model_version_by_alias(name, alias)
        path = rest
    else:
        label, _, path = rest.partition("/")
        name = head
        if label.isdigit():
            found = meta.get_model_version(name, label)
        else:
            versions = meta.list_model_versions(name)
            stages = None if label.lower() in ("", "latest") else [label]
            latest = latest_per_stage(versions, stages)
            if not latest:
                raise MlflowError(
                    "RESOURCE_DOES_NOT_EXIST", f"Model {name!r} has no version in stage {label!r}."
                )
            found = max(latest, key=lambda v: int(v.version) if v.version.isdigit() else -1)
    return Location(
        f"model/{found.name}/{found.version}",
        validate_relative_path(path, allow_empty=True),
        False,
        run_id=found.run_id,
    )


def list_children(
    meta: MetadataStore, owner: str, prefix: str
) -> list[tuple[str, bool, int | None]]:
    """The files and folders directly under ``prefix``: ``(full path, is_dir, size)``.

    A ``prefix`` naming a file lists nothing (as MLflow's artifact repositories do).
    """
    entries: list[ArtifactEntry] = meta.list_artifact_entries(owner, prefix)
    seen: dict[str, tuple[str, bool, int | None]] = {}
    for entry in entries:
        if entry.path == prefix:
            continue
        relative = entry.path[len(prefix) + 1 :] if prefix else entry.path
        head, sep, _ = relative.partition("/")
        full = posixpath.join(prefix, head) if prefix else head
        if sep:
            seen.setdefault(full, (full, True, None))
        else:
            seen[full] = (full, False, entry.size)
    return sorted(seen.values())
