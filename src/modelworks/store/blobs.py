"""A content-addressed blob store on any fsspec file system (a local folder by default).

Layout under the store's root::

    sha256/<d[0:2]>/<d[2:4]>/<digest>     one file per blob, named by the sha256 of its bytes
    tmp/<uuid4>.part                      uploads in progress (or abandoned by a killed process)

Why it is built this way:

- Bytes are streamed in 1 MiB chunks and hashed while they are written, so a blob of any size
  costs a constant amount of memory.
- Every upload goes to a private temporary name first and is renamed into place only after it
  was hashed (and fsynced, on a local disk). A reader therefore never sees a partial blob, and
  a process killed mid-upload leaves only a ``tmp/*.part`` file, which :meth:`cleanup_temp`
  removes later.
- The final name is a function of the content, so concurrent uploads of the same bytes all
  rename identical files onto the same name: every one succeeds and one blob remains.
- Digests are checked against ``^[0-9a-f]{64}$`` before they become part of a path, which is
  also what keeps a caller from escaping the root with ``../``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from fsspec.core import split_protocol, url_to_fs
from fsspec.implementations.local import LocalFileSystem

from modelworks.entities import ArtifactEntry
from modelworks.errors import (
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
)
from modelworks.store.base import BlobStore

try:  # POSIX only; without it concurrent get_file calls to one dest are not serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["CHUNK_SIZE", "FsspecBlobStore"]

#: Bytes read and written per step when streaming.
CHUNK_SIZE = 1 << 20

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")

#: What to install when fsspec cannot load the file system of a URL's protocol.
_EXTRA_HINTS = {
    "s3": 'pip install "modelworks[s3]"',
    "s3a": 'pip install "modelworks[s3]"',
    "gs": "pip install gcsfs",
    "gcs": "pip install gcsfs",
    "az": "pip install adlfs",
    "abfs": "pip install adlfs",
    "abfss": "pip install adlfs",
    "adl": "pip install adlfs",
}


def _check_digest(digest: object, what: str = "blob digest") -> str:
    """Return ``digest`` if it is a lowercase 64-hex sha256; InvalidInputError otherwise."""
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"Invalid {what} {digest!r}: expected a sha256 hex digest, 64 lowercase "
            "hexadecimal characters (0-9, a-f)."
        )
    return digest


def _copy(stream: BinaryIO, write: Callable[[bytes], Any], hasher: Any) -> int:
    """Copy ``stream`` to its end into ``write``, feeding ``hasher``; return the byte count."""
    size = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if chunk is None:  # a non-blocking raw stream with nothing ready yet
            time.sleep(0.001)
            continue
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise InvalidInputError(
                f"The stream returned {type(chunk).__name__}, not bytes: open files in binary "
                "mode ('rb') or wrap text in io.BytesIO(text.encode())."
            )
        hasher.update(chunk)
        write(chunk)
        size += len(chunk)
    return size


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked_part(path: str) -> Iterator[BinaryIO]:
    """Open (creating) the partial download ``path`` for read/write under an exclusive lock.

    The lock serialises threads and processes that download to the same destination. A waiter
    that wakes up after the holder renamed or deleted the file reopens the path, so it never
    appends to a file that is no longer the ``.part``.
    """
    while True:
        fh = open(path, "a+b")  # noqa: SIM115 - closed below or by the caller's with-block
        try:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    current = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
                except FileNotFoundError:
                    current = False
                if not current:
                    continue
            yield fh
            return
        finally:
            fh.close()


class FsspecBlobStore(BlobStore):
    """Blobs under a local folder (the default) or any fsspec URL (``s3://``, ``memory://``).

    ``uri`` is a path such as ``/ws/blobs`` or a URL; local roots are created on the spot.
    Thread- and process-safe: uploads never clash (private temporary names, atomic renames)
    and downloads to the same destination are serialised by a file lock.
    """

    def __init__(self, uri: str) -> None:
        try:
            fs, root = url_to_fs(uri)
        except ImportError as e:
            protocol = split_protocol(uri)[0] or ""
            hint = _EXTRA_HINTS.get(protocol, f"pip install the fsspec driver for {protocol}://")
            raise MissingDependencyError(
                f"Blob store {uri!r} needs an optional package for '{protocol}://' URLs ({e}). "
                f"Install it with: {hint}",
                uri=uri,
            ) from e
        except ValueError as e:
            raise InvalidInputError(
                f"Blob store URI {uri!r} is not usable: {e}. Give a local path or an fsspec "
                "URL such as s3://bucket/prefix or memory://name."
            ) from e
        self._fs = fs
        self._local = isinstance(fs, LocalFileSystem)
        if self._local:
            self._root = os.path.abspath(root)
            os.makedirs(os.path.join(self._root, "sha256"), exist_ok=True)
            os.makedirs(os.path.join(self._root, "tmp"), exist_ok=True)
            self.uri = self._root
        else:
            self._root = root.rstrip("/")
            self.uri = uri

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.uri!r})"

    # -- paths ------------------------------------------------------------------------------
    def _join(self, *parts: str) -> str:
        if self._local:
            return os.path.join(self._root, *parts)
        return posixpath.join(self._root, *parts)

    def _blob_path(self, digest: str) -> str:
        return self._join("sha256", digest[0:2], digest[2:4], digest)

    def _temp_path(self) -> str:
        return self._join("tmp", f"{uuid.uuid4().hex}.part")

    def _not_found(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"Blob {digest} does not exist in the blob store at {self.uri}. Check the digest, "
            "or upload the content first (put_file / put_stream).",
            digest=digest,
        )

    # -- queries ----------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        path = self._blob_path(_check_digest(digest))
        if self._local:
            return os.path.isfile(path)
        return bool(self._fs.isfile(path))

    def size(self, digest: str) -> int:
        """The blob's size in bytes; NotFoundError if absent."""
        path = self._blob_path(_check_digest(digest))
        try:
            if self._local:
                return os.stat(path).st_size
            return int(self._fs.size(path))
        except FileNotFoundError as e:
            raise self._not_found(digest) from e

    def modified(self, digest: str) -> float:
        """When the blob was last stored (seconds since the epoch); NotFoundError if absent.

        Storing existing content again refreshes it on local folders; object stores keep the
        first upload's time.
        """
        path = self._blob_path(_check_digest(digest))
        try:
            if self._local:
                return os.stat(path).st_mtime
            return float(self._fs.modified(path).timestamp())
        except FileNotFoundError as e:
            raise self._not_found(digest) from e

    def local_path(self, digest: str) -> str | None:
        """The blob's real path when the store is a local folder (NotFoundError if absent).

        Returns None for remote file systems. Blobs are stored read-only; never write to
        this path.
        """
        path = self._blob_path(_check_digest(digest))
        if not self._local:
            return None
        if not os.path.isfile(path):
            raise self._not_found(digest)
        return path

    def iter_digests(self) -> Iterator[str]:
        """Every stored digest (temporary files and stray names are skipped)."""
        if self._local:
            yield from self._iter_local_digests()
            return
        try:
            paths = self._fs.find(self._join("sha256"))
        except FileNotFoundError:
            return
        for path in sorted(paths):
            parts = path.rstrip("/").split("/")
            if len(parts) >= 3 and self._is_blob_name(parts[-3], parts[-2], parts[-1]):
                yield parts[-1]

    def _iter_local_digests(self) -> Iterator[str]:
        top = self._join("sha256")
        for first in sorted(_list_dir(top)):
            for second in sorted(_list_dir(os.path.join(top, first))):
                for name in sorted(_list_dir(os.path.join(top, first, second))):
                    if self._is_blob_name(first, second, name):
                        yield name

    @staticmethod
    def _is_blob_name(first: str, second: str, name: str) -> bool:
        return bool(_DIGEST_RE.fullmatch(name)) and first == name[0:2] and second == name[2:4]

    # -- writes -----------------------------------------------------------------------------
    def put_file(self, path: str) -> ArtifactEntry:
        """Store a local file; returns an entry whose ``path`` is the file's base name."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise InvalidInputError(
                f"{path!r} is a directory; put_file stores one file. Upload each file of the "
                "folder separately."
            )
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
        except FileNotFoundError as e:
            raise NotFoundError(
                f"File {path!r} does not exist; give the path of an existing local file.",
                path=path,
            ) from e
        with fh:
            entry = self.put_stream(fh)
        return ArtifactEntry(path=os.path.basename(path), digest=entry.digest, size=entry.size)

    def put_stream(self, stream: BinaryIO, *, expected_digest: str | None = None) -> ArtifactEntry:
        """Store bytes read from ``stream`` (to its end); returns an entry with ``path`` ''.

        IntegrityError if ``expected_digest`` is given and differs from the content's sha256;
        nothing is stored then. Storing content that already exists is a no-op.
        """
        if expected_digest is not None:
            _check_digest(expected_digest, "expected_digest")
        if self._local:
            digest, size = self._put_local(stream, expected_digest)
        else:
            digest, size = self._put_remote(stream, expected_digest)
        return ArtifactEntry(path="", digest=digest, size=size)

    def _mismatch(self, expected: str, actual: str) -> IntegrityError:
        return IntegrityError(
            f"The uploaded content has sha256 {actual}, but {expected} was expected; nothing "
            "was stored. Send the content again, or fix the expected digest.",
            expected=expected,
            actual=actual,
        )

    def _put_local(self, stream: BinaryIO, expected: str | None) -> tuple[str, int]:
        temp = self._temp_path()
        os.makedirs(os.path.dirname(temp), exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with open(fd, "wb") as out:
                hasher = hashlib.sha256()
                size = _copy(stream, out.write, hasher)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise self._mismatch(expected, digest)
            final = self._blob_path(digest)
            try:
                existing = os.stat(final).st_size
            except FileNotFoundError:
                existing = -1
            if existing != size:  # absent (or truncated by someone): move ours into place
                os.chmod(temp, 0o444)
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(temp, final)
                _fsync_dir(os.path.dirname(final))
            else:  # stored again: it is young again, so gc's grace period protects it
                with contextlib.suppress(OSError):
                    os.utime(final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        return digest, size

    def _put_remote(self, stream: BinaryIO, expected: str | None) -> tuple[str, int]:
        fs = self._fs
        temp = self._temp_path()
        fs.makedirs(posixpath.dirname(temp), exist_ok=True)
        moved = False
        try:
            hasher = hashlib.sha256()
            with fs.open(temp, "wb") as out:
                size = _copy(stream, out.write, hasher)
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise self._mismatch(expected, digest)
            final = self._blob_path(digest)
            if not fs.isfile(final):
                fs.makedirs(posixpath.dirname(final), exist_ok=True)
                fs.mv(temp, final)
                moved = True
        finally:
            if not moved:
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(temp)
        return digest, size

    def delete(self, digest: str) -> None:
        """Remove a blob; deleting an absent blob is a no-op."""
        path = self._blob_path(_check_digest(digest))
        with contextlib.suppress(FileNotFoundError):
            if self._local:
                os.unlink(path)
            else:
                self._fs.rm(path)

    def cleanup_temp(self, older_than_s: float = 3600) -> int:
        """Delete temporary upload files untouched for ``older_than_s`` seconds; return how many.

        They are left behind by processes killed mid-upload. An upload still in progress keeps
        touching its file, so the default of one hour spares it; ``0`` removes every one.
        """
        if older_than_s < 0:
            raise InvalidInputError(
                f"older_than_s must be a number of seconds >= 0, got {older_than_s!r}."
            )
        cutoff = time.time() - older_than_s
        removed = 0
        for path, mtime in self._temp_files():
            if mtime is None or mtime > cutoff:
                continue
            with contextlib.suppress(FileNotFoundError):
                if self._local:
                    os.unlink(path)
                else:
                    self._fs.rm(path)
                removed += 1
        return removed

    def _temp_files(self) -> Iterator[tuple[str, float | None]]:
        """``(path, modification time)`` of each temporary file (None if unknown)."""
        tmp = self._join("tmp")
        if self._local:
            for name in _list_dir(tmp):
                path = os.path.join(tmp, name)
                if name.endswith(".part"):
                    with contextlib.suppress(FileNotFoundError):
                        yield path, os.stat(path).st_mtime
            return
        try:
            paths = self._fs.ls(tmp, detail=False)
        except FileNotFoundError:
            return
        for path in paths:
            if not str(path).endswith(".part"):
                continue
            try:
                mtime: float | None = self._fs.modified(path).timestamp()
            except NotImplementedError:
                mtime = None
            except FileNotFoundError:
                continue
            yield path, mtime

    # -- reads ------------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        """A readable, seekable binary stream of the blob; NotFoundError if absent."""
        path = self._blob_path(_check_digest(digest))
        try:
            if self._local:
                return open(path, "rb")
            fh: BinaryIO = self._fs.open(path, "rb")
            return fh
        except FileNotFoundError as e:
            raise self._not_found(digest) from e

    def get_file(self, digest: str, dest: str) -> None:
        """Write the blob to the local path ``dest`` atomically, verifying its sha256.

        Bytes go to ``dest + '.part'`` first, then are renamed to ``dest``. An existing
        ``.part`` (from an interrupted download) is resumed from its size; if the completed
        file fails verification it is deleted and the download redone once from the start.
        IntegrityError if the blob itself does not match its digest (nothing is left behind).
        """
        expected_size = self.size(digest)  # validates the digest; NotFoundError if absent
        dest = os.fspath(dest)
        part = dest + ".part"
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        for _attempt in range(2):
            with _locked_part(part) as fh:
                actual, resumed = self._fill_part(digest, fh, expected_size)
                if actual == digest:
                    os.replace(part, dest)
                    return
                os.unlink(part)
            if not resumed:
                break
        raise IntegrityError(
            f"Blob {digest} in the blob store at {self.uri} is corrupt: its content hashes to "
            f"{actual}. The download to {dest!r} was discarded; restore the blob from a backup "
            "or upload the original file again.",
            digest=digest,
            actual=actual,
        )

    def _fill_part(self, digest: str, fh: BinaryIO, expected_size: int) -> tuple[str, bool]:
        """Complete the partial file ``fh`` from the blob; return (its sha256, resumed?)."""
        hasher = hashlib.sha256()
        fh.seek(0)
        offset = 0
        while chunk := fh.read(CHUNK_SIZE):
            hasher.update(chunk)
            offset += len(chunk)
        if offset > expected_size:  # cannot be a prefix of this blob: start again
            fh.seek(0)
            fh.truncate()
            hasher = hashlib.sha256()
            offset = 0
        resumed = offset > 0
        if offset < expected_size:
            with self.open(digest) as src:
                if offset:
                    src.seek(offset)
                _copy(src, fh.write, hasher)
        fh.flush()
        os.fsync(fh.fileno())
        return hasher.hexdigest(), resumed


def _list_dir(path: str) -> list[str]:
    """Names in a local folder, or [] if it does not exist."""
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
