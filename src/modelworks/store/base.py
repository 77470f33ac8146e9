"""The two storage ports: a metadata store and a blob store.

Services depend on these abstract classes only; adapters (``store.sql``, ``store.rest``,
``store.blobs``) implement them and are chosen from a URI in ``store.open_*``.

Contract shared by every implementation (checked by ``tests/conformance``):

- Every method is safe to call from several threads at once; each write is one transaction, so
  a crash leaves no half-written entity.
- Returned entities are snapshots (frozen dataclasses), never live rows.
- ``get_*`` raises :class:`~modelworks.errors.NotFoundError` (naming what does exist) instead
  of returning None; ``create_*`` raises :class:`~modelworks.errors.AlreadyExistsError` on a
  duplicate explicit name or version; bad arguments raise
  :class:`~modelworks.errors.InvalidInputError` subclasses.
- Artifact trees are manifests in the metadata store (``owner`` + relative ``path`` → blob
  ``digest``); bytes live in the blob store, addressed by their sha256. Owners are strings
  such as ``run/<id>``, ``data/<name>/<version>``, ``model/<name>/<version>``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from modelworks.entities import (
    ArtifactEntry,
    DataVersion,
    Experiment,
    LineageEdge,
    Metric,
    ModelVersion,
    Page,
    RegisteredModel,
    Run,
    RunStatus,
    Token,
)

__all__ = ["BlobStore", "MetadataStore"]


class MetadataStore(abc.ABC):
    """Experiments, runs, metrics, data versions, models, lineage, manifests and tokens."""

    #: A URI that another process can pass to ``store.open_metadata`` to reach the same store.
    uri: str

    # -- life cycle -------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The default does nothing."""

    # -- experiments ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(self, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        """Create an experiment; AlreadyExistsError if the name is taken (even if deleted)."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment: ...

    @abc.abstractmethod
    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]: ...

    @abc.abstractmethod
    def update_experiment(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        deleted: bool | None = None,
        tags: dict[str, str] | None = None,
    ) -> Experiment:
        """Rename, delete/restore (soft) or merge tags into an experiment."""

    # -- runs -------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        kind: str = "run",
        status: RunStatus = RunStatus.RUNNING,
        description: str = "",
        user: str = "",
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        start_time: int | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Create a run. ``name`` defaults to a readable generated one; ids are 32 hex chars."""

    def create_runs(self, requests: Sequence[dict[str, Any]]) -> list[Run]:
        """Create several runs at once; each dict holds :meth:`create_run`'s arguments
        (``experiment_id`` included). All or none are created. Adapters make this one
        transaction or one request; this default creates them one by one."""
        return [self.create_run(**dict(r)) for r in requests]

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        description: str | None = None,
        error: str | None = None,
        deleted: bool | None = None,
    ) -> Run:
        """Change a run's attributes. Moving to a terminal status sets ``end_time`` if unset."""

    @abc.abstractmethod
    def heartbeat(self, run_id: str) -> None:
        """Record that the process owning the run is alive."""

    @abc.abstractmethod
    def reap_stale_runs(self, timeout_ms: int) -> list[str]:
        """Mark Running runs whose heartbeat lapsed more than ``timeout_ms`` ago as Failed.

        Returns the ids it marked. Runs that never sent a heartbeat are left alone.
        """

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Append metrics and set params/tags in one transaction.

        Params are immutable: logging a different value for an existing key raises
        ConflictError. Values are validated (key names, param value length).
        """

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All values of one metric ordered by step then timestamp."""

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        """Runs matching a filter (see ``tracking.filters``), ordered, one page at a time."""

    # -- artifact manifests -----------------------------------------------------------------
    @abc.abstractmethod
    def put_artifact_entries(self, owner: str, entries: Iterable[ArtifactEntry]) -> None:
        """Add or replace files in an owner's tree. Blobs must already be in the blob store."""

    @abc.abstractmethod
    def list_artifact_entries(self, owner: str, prefix: str = "") -> list[ArtifactEntry]:
        """Files under ``prefix`` (a folder path, '' for all), sorted by path."""

    @abc.abstractmethod
    def delete_artifact_entries(self, owner: str, prefix: str = "") -> int:
        """Remove files under ``prefix``; returns how many. Blobs are reclaimed by ``gc``."""

    @abc.abstractmethod
    def referenced_digests(self) -> set[str]:
        """Every blob digest some manifest still references."""

    # -- data assets ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_data_version(
        self,
        name: str,
        *,
        type: str,
        source: str,
        content_hash: str,
        entries: Sequence[ArtifactEntry],
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
        force: bool = False,
    ) -> tuple[DataVersion, bool]:
        """Register a data version with its manifest (owner ``data/<name>/<version>``).

        Returns ``(version, created)``. Without ``force``, identical content (same
        ``content_hash``) already registered under ``name`` returns that version and False.
        An explicit ``version`` that exists raises AlreadyExistsError; otherwise versions
        auto-increment from 1.
        """

    @abc.abstractmethod
    def get_data_version(self, name: str, version: str = "latest") -> DataVersion:
        """``version`` may be 'latest' (newest non-archived)."""

    @abc.abstractmethod
    def list_data_versions(
        self, name: str | None = None, *, include_archived: bool = False
    ) -> list[DataVersion]:
        """Versions of one asset (newest first) or, without ``name``, the latest of each."""

    @abc.abstractmethod
    def update_data_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> DataVersion: ...

    # -- model registry ---------------------------------------------------------------------
    @abc.abstractmethod
    def create_registered_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel: ...

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def list_registered_models(self, *, name_like: str | None = None) -> list[RegisteredModel]: ...

    @abc.abstractmethod
    def update_registered_model(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel: ...

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions, aliases and manifests."""

    @abc.abstractmethod
    def create_model_version(
        self,
        name: str,
        *,
        entries: Sequence[ArtifactEntry],
        source: str = "",
        run_id: str | None = None,
        flavors: Sequence[str] = (),
        type: str = "custom_model",
        signature: dict[str, Any] | None = None,
        content_hash: str = "",
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """Register a version (creating the model if new); manifest owner ``model/<n>/<v>``."""

    @abc.abstractmethod
    def get_model_version(self, name: str, version: str = "latest") -> ModelVersion:
        """``version`` may be 'latest'."""

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abc.abstractmethod
    def list_model_versions(
        self, name: str | None = None, *, run_id: str | None = None
    ) -> list[ModelVersion]:
        """Versions of one model newest first (or of all models), optionally from one run."""

    @abc.abstractmethod
    def update_model_version(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        archived: bool | None = None,
    ) -> ModelVersion: ...

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: str) -> None: ...

    @abc.abstractmethod
    def set_model_alias(self, name: str, alias: str, version: str) -> None: ...

    @abc.abstractmethod
    def delete_model_alias(self, name: str, alias: str) -> None: ...

    # -- lineage ----------------------------------------------------------------------------
    @abc.abstractmethod
    def add_lineage(self, edge: LineageEdge) -> None:
        """Record an edge; recording the same edge twice is a no-op."""

    @abc.abstractmethod
    def list_lineage(
        self,
        *,
        run_id: str | None = None,
        asset_kind: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> list[LineageEdge]: ...

    # -- tokens -----------------------------------------------------------------------------
    @abc.abstractmethod
    def create_token(self, *, name: str, role: str, token_hash: str) -> Token: ...

    @abc.abstractmethod
    def get_token_by_hash(self, token_hash: str) -> Token: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[Token]: ...

    @abc.abstractmethod
    def revoke_token(self, token_id: str) -> None: ...


class BlobStore(abc.ABC):
    """Content-addressed bytes: every blob is named by the sha256 of its content.

    Writes are streamed (never whole in memory), verified by hash, atomic (written to a
    temporary name then renamed) and deduplicated (putting existing content is a no-op).
    """

    uri: str

    @abc.abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def put_file(self, path: str) -> ArtifactEntry:
        """Store a local file; returns an entry whose ``path`` is the file's base name."""

    @abc.abstractmethod
    def put_stream(self, stream: BinaryIO, *, expected_digest: str | None = None) -> ArtifactEntry:
        """Store bytes read from ``stream``; IntegrityError if ``expected_digest`` differs."""

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream of the blob; NotFoundError if absent."""

    @abc.abstractmethod
    def get_file(self, digest: str, dest: str) -> None:
        """Write the blob to ``dest`` atomically (resuming a partial ``dest.part`` if present)."""

    @abc.abstractmethod
    def delete(self, digest: str) -> None: ...

    @abc.abstractmethod
    def iter_digests(self) -> Iterator[str]: ...

    def local_path(self, digest: str) -> str | None:
        """A local filesystem path holding the blob, when the store is local; else None."""
        return None
