"""Artifact trees: folders of files owned by a run, a data version or a model version.

A tree is a manifest in the metadata store (relative path → blob digest) over content-addressed
blobs, so copying a tree (registering a model from a run) copies no bytes, and identical files
are stored once.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from modelworks._validation import validate_relative_path
from modelworks.entities import ArtifactEntry
from modelworks.errors import InvalidInputError, InvalidPathError, NotFoundError
from modelworks.store.base import BlobStore, MetadataStore

GC_MIN_AGE_S = 3600.0  # gc keeps unreferenced blobs younger than this (uploads in flight)

__all__ = ["ArtifactTrees", "tree_hash"]


def tree_hash(entries: Iterable[ArtifactEntry]) -> str:
    """A sha256 naming the content of a whole tree (paths and bytes), independent of order."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        digest.update(f"{entry.path}\t{entry.digest}\n".encode())
    return digest.hexdigest()


def _join(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix and path else prefix or path


class ArtifactTrees:
    """Upload, list and materialise artifact trees through the two storage ports."""

    def __init__(self, meta: MetadataStore, blobs: BlobStore) -> None:
        self.meta = meta
        self.blobs = blobs

    def store_path(
        self, local: str | os.PathLike[str], artifact_path: str = ""
    ) -> builtins.list[ArtifactEntry]:
        """Put a local file or folder into the blob store; return entries (not yet owned).

        A file lands at ``artifact_path/<file name>``; a folder's contents land under
        ``artifact_path``.
        """
        source = Path(local)
        prefix = validate_relative_path(artifact_path, allow_empty=True)
        if source.is_file():
            stored = self.blobs.put_file(str(source))
            return [ArtifactEntry(_join(prefix, source.name), stored.digest, stored.size)]
        if not source.is_dir():
            raise NotFoundError(f"Local path {str(local)!r} does not exist.")
        entries = []
        for root, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files):
                full = Path(root, name)
                relative = full.relative_to(source).as_posix()
                stored = self.blobs.put_file(str(full))
                entries.append(ArtifactEntry(_join(prefix, relative), stored.digest, stored.size))
        return entries

    def upload(
        self, owner: str, local: str | os.PathLike[str], artifact_path: str = ""
    ) -> builtins.list[ArtifactEntry]:
        """Store a file or folder and add it to ``owner``'s tree."""
        entries = self.store_path(local, artifact_path)
        self.meta.put_artifact_entries(owner, entries)
        return entries

    def list(self, owner: str, path: str = "") -> builtins.list[ArtifactEntry]:
        return self.meta.list_artifact_entries(owner, path)

    def download(
        self,
        owner: str,
        path: str = "",
        dest: str | os.PathLike[str] = ".",
        *,
        entries: Sequence[ArtifactEntry] | None = None,
    ) -> Path:
        """Materialise ``path`` of a tree under ``dest``; returns the local file or folder.

        A folder ``path`` becomes ``dest/<its last segment>/...`` (``dest`` itself for the
        root); a file becomes ``dest/<file name>``.
        """
        path = validate_relative_path(path, allow_empty=True)
        found = (
            list(entries) if entries is not None else self.meta.list_artifact_entries(owner, path)
        )
        if not found:
            raise NotFoundError(
                f"No artifact {path!r} in {owner}." if path else f"{owner} has no artifacts."
            )
        dest_root = Path(dest)
        if len(found) == 1 and found[0].path == path:
            target = dest_root / Path(path).name
            self._fetch(found[0].digest, target)
            return target
        base = dest_root / Path(path).name if path else dest_root
        for entry in found:
            relative = entry.path[len(path) + 1 :] if path else entry.path
            target = base / relative
            if not target.resolve().is_relative_to(base.resolve()):
                raise InvalidPathError(f"Artifact path {entry.path!r} escapes {base}.")
            self._fetch(entry.digest, target)
        return base

    def _fetch(self, digest: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.stat().st_size and _sha256(target) == digest:
            return
        self.blobs.get_file(digest, str(target))

    def copy(
        self, source_owner: str, source_path: str, dest_owner: str
    ) -> builtins.list[ArtifactEntry]:
        """Entries of ``source_path`` re-rooted for another owner (no bytes are copied)."""
        source_path = validate_relative_path(source_path, allow_empty=True)
        found = self.meta.list_artifact_entries(source_owner, source_path)
        if not found:
            raise NotFoundError(f"No artifacts at {source_path!r} in {source_owner}.")
        out = []
        for entry in found:
            relative = entry.path[len(source_path) + 1 :] if source_path else entry.path
            out.append(ArtifactEntry(relative or Path(entry.path).name, entry.digest, entry.size))
        return out

    def gc(self, *, min_age_s: float = GC_MIN_AGE_S) -> tuple[int, int]:
        """Delete blobs no manifest references; returns (blobs deleted, bytes freed).

        A blob is referenced only once the manifest row naming it is written, after its bytes
        are stored; blobs stored less than ``min_age_s`` seconds ago are kept so uploads in
        flight survive (``min_age_s=0`` deletes every unreferenced blob: only when nothing
        writes to the workspace).
        """
        if min_age_s < 0:
            raise InvalidInputError(f"min_age_s must be >= 0 seconds, got {min_age_s}.")
        cutoff = time.time() - min_age_s
        modified = getattr(self.blobs, "modified", None)
        keep = self.meta.referenced_digests()
        deleted = freed = 0
        for digest in list(self.blobs.iter_digests()):
            if digest in keep:
                continue
            try:
                if min_age_s and (modified is None or modified(digest) > cutoff):
                    continue
            except NotFoundError:
                continue  # deleted meanwhile
            size_of = getattr(self.blobs, "size", None)
            freed += int(size_of(digest)) if size_of else 0
            self.blobs.delete(digest)
            deleted += 1
        return deleted, freed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
