"""Tests of the content-addressed blob store on a real local folder and on fsspec's memory://."""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelworks.errors import (
    IntegrityError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
)
from modelworks.store.base import BlobStore
from modelworks.store.blobs import CHUNK_SIZE, FsspecBlobStore

HELPER = Path(__file__).with_name("_blob_writer.py")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Blobs:
    """A store under test plus an independent fsspec view of its root, to inspect the layout."""

    store: FsspecBlobStore
    fs: fsspec.AbstractFileSystem
    root: str

    def files(self, sub: str) -> list[str]:
        """Every file under ``<root>/<sub>``, as paths relative to the root."""
        base = f"{self.root}/{sub}"
        if not self.fs.exists(base):
            return []
        return sorted(p[len(self.root) + 1 :] for p in self.fs.find(base))

    def blob_path(self, digest: str) -> str:
        return f"{self.root}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"

    def overwrite_blob(self, digest: str, data: bytes) -> None:
        """Corrupt a stored blob behind the store's back."""
        path = self.blob_path(digest)
        if self.store.local_path(digest) is not None:
            os.chmod(path, 0o644)
        self.fs.pipe_file(path, data)


def make_blobs(kind: str, tmp_path: Path) -> Blobs:
    uri = str(tmp_path / "blobs") if kind == "local" else f"memory://blobs-{uuid.uuid4().hex}"
    store = FsspecBlobStore(uri)
    fs, root = url_to_fs(uri)
    return Blobs(store=store, fs=fs, root=root.rstrip("/"))


@pytest.fixture(params=["local", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Blobs]:
    b = make_blobs(request.param, tmp_path)
    yield b
    if request.param == "memory" and b.fs.exists(b.root):
        b.fs.rm(b.root, recursive=True)


@pytest.fixture
def local(tmp_path: Path) -> Blobs:
    return make_blobs("local", tmp_path)


# -- basics -----------------------------------------------------------------------------------
def test_is_a_blob_store(blobs: Blobs) -> None:
    assert isinstance(blobs.store, BlobStore)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]
)
def test_round_trip_across_chunk_boundaries(blobs: Blobs, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    entry = blobs.store.put_stream(io.BytesIO(data))
    assert (entry.path, entry.digest, entry.size) == ("", sha(data), size)
    assert blobs.store.exists(entry.digest)
    assert blobs.store.size(entry.digest) == size
    with blobs.store.open(entry.digest) as fh:
        assert fh.read() == data
    dest = tmp_path / "out" / "sub" / "file.bin"
    blobs.store.get_file(entry.digest, str(dest))
    assert dest.read_bytes() == data
    assert not Path(str(dest) + ".part").exists()
    assert blobs.files("tmp") == []


def test_layout_is_sha256_fan_out(blobs: Blobs) -> None:
    data = b"layout"
    digest = blobs.store.put_stream(io.BytesIO(data)).digest
    assert blobs.files("sha256") == [f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert blobs.fs.cat_file(blobs.blob_path(digest)) == data


def test_put_file_returns_base_name(blobs: Blobs, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"weights")
    entry = blobs.store.put_file(str(src))
    assert (entry.path, entry.digest, entry.size) == ("model.pkl", sha(b"weights"), 7)


def test_put_file_missing_or_directory(blobs: Blobs, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        blobs.store.put_file(str(tmp_path / "nope.bin"))
    with pytest.raises(InvalidInputError, match="directory"):
        blobs.store.put_file(str(tmp_path))


def test_text_stream_is_refused_and_leaves_nothing(blobs: Blobs) -> None:
    with pytest.raises(InvalidInputError, match="binary"):
        blobs.store.put_stream(io.StringIO("text"))  # type: ignore[arg-type]
    assert blobs.files("tmp") == []
    assert list(blobs.store.iter_digests()) == []


def test_dedup_stores_identical_content_once(blobs: Blobs, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"same bytes")
    first = blobs.store.put_file(str(src))
    second = blobs.store.put_stream(io.BytesIO(b"same bytes"))
    assert first.digest == second.digest
    assert len(blobs.files("sha256")) == 1
    assert blobs.files("tmp") == []


def test_iter_digests_and_idempotent_delete(blobs: Blobs) -> None:
    contents = [b"one", b"two", b"three"]
    digests = {blobs.store.put_stream(io.BytesIO(c)).digest for c in contents}
    blobs.fs.pipe_file(f"{blobs.root}/sha256/README", b"not a blob")
    blobs.fs.makedirs(f"{blobs.root}/sha256/00/00", exist_ok=True)
    blobs.fs.pipe_file(f"{blobs.root}/sha256/00/00/{'f' * 64}", b"wrong fan-out")
    assert set(blobs.store.iter_digests()) == digests
    gone = sha(b"two")
    blobs.store.delete(gone)
    blobs.store.delete(gone)
    assert not blobs.store.exists(gone)
    assert set(blobs.store.iter_digests()) == digests - {gone}
    with pytest.raises(NotFoundError, match=gone):
        blobs.store.open(gone)
    with pytest.raises(NotFoundError, match=gone):
        blobs.store.size(gone)


def test_missing_blob_errors_name_the_digest(blobs: Blobs, tmp_path: Path) -> None:
    missing = sha(b"never stored")
    assert not blobs.store.exists(missing)
    with pytest.raises(NotFoundError, match=missing):
        blobs.store.open(missing)
    with pytest.raises(NotFoundError, match=missing):
        blobs.store.get_file(missing, str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "x.part").exists()


def test_local_path(blobs: Blobs) -> None:
    digest = blobs.store.put_stream(io.BytesIO(b"local")).digest
    path = blobs.store.local_path(digest)
    if isinstance(blobs.fs, LocalFileSystem):
        assert path is not None
        assert os.path.realpath(path) == os.path.realpath(blobs.blob_path(digest))
        assert Path(path).read_bytes() == b"local"
        assert not os.access(path, os.W_OK) or os.geteuid() == 0  # stored read-only
        with pytest.raises(NotFoundError):
            blobs.store.local_path(sha(b"absent"))
    else:
        assert path is None


# -- integrity ----------------------------------------------------------------------------------
def test_expected_digest_mismatch_leaves_nothing(blobs: Blobs) -> None:
    wrong = sha(b"something else")
    with pytest.raises(IntegrityError) as info:
        blobs.store.put_stream(io.BytesIO(b"payload"), expected_digest=wrong)
    assert wrong in str(info.value) and sha(b"payload") in str(info.value)
    assert blobs.files("sha256") == []
    assert blobs.files("tmp") == []
    entry = blobs.store.put_stream(io.BytesIO(b"payload"), expected_digest=sha(b"payload"))
    assert entry.digest == sha(b"payload")


def test_failing_stream_leaves_no_temp(blobs: Blobs) -> None:
    class Broken(io.RawIOBase):
        calls = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            return b"x" * CHUNK_SIZE

    with pytest.raises(OSError, match="connection reset"):
        blobs.store.put_stream(Broken())  # type: ignore[arg-type]
    assert blobs.files("tmp") == []
    assert blobs.files("sha256") == []


BAD_DIGESTS = [
    "../../etc/passwd",
    "../" + "a" * 61,
    "A" * 64,
    sha(b"x").upper(),
    "abc123",
    "a" * 63,
    "a" * 65,
    "g" * 64,
    "a" * 64 + "\n",
    "",
]


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_invalid_digests_are_refused(blobs: Blobs, tmp_path: Path, bad: str) -> None:
    store = blobs.store
    with pytest.raises(InvalidInputError):
        store.exists(bad)
    with pytest.raises(InvalidInputError):
        store.open(bad)
    with pytest.raises(InvalidInputError):
        store.get_file(bad, str(tmp_path / "dest"))
    with pytest.raises(InvalidInputError):
        store.delete(bad)
    with pytest.raises(InvalidInputError):
        store.size(bad)
    with pytest.raises(InvalidInputError):
        store.local_path(bad)
    with pytest.raises(InvalidInputError):
        store.put_stream(io.BytesIO(b"x"), expected_digest=bad)
    assert not (tmp_path / "dest").exists()


# -- resumable, verified downloads ---------------------------------------------------------------
def test_get_file_resumes_a_partial_download(blobs: Blobs, tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    digest = blobs.store.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "model.bin"
    part = Path(str(dest) + ".part")
    half = len(data) // 2
    part.write_bytes(data[:half])
    inode = part.stat().st_ino
    # Zero the first half of the stored blob: only a download that really resumes (reads the
    # second half alone) can still produce a file that verifies.
    blobs.overwrite_blob(digest, b"\0" * half + data[half:])
    blobs.store.get_file(digest, str(dest))
    assert dest.read_bytes() == data
    assert not part.exists()
    assert dest.stat().st_ino == inode  # the existing .part was completed, not replaced


def test_get_file_redoes_a_corrupt_partial_download(blobs: Blobs, tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    digest = blobs.store.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "model.bin"
    part = Path(str(dest) + ".part")
    part.write_bytes(b"\0" * CHUNK_SIZE)  # right length for a prefix, wrong bytes
    blobs.store.get_file(digest, str(dest))
    assert dest.read_bytes() == data
    assert not part.exists()


def test_get_file_discards_a_part_longer_than_the_blob(blobs: Blobs, tmp_path: Path) -> None:
    digest = blobs.store.put_stream(io.BytesIO(b"short")).digest
    dest = tmp_path / "f"
    Path(str(dest) + ".part").write_bytes(b"much longer than the blob")
    blobs.store.get_file(digest, str(dest))
    assert dest.read_bytes() == b"short"


def test_get_file_replaces_an_existing_destination(blobs: Blobs, tmp_path: Path) -> None:
    digest = blobs.store.put_stream(io.BytesIO(b"new")).digest
    dest = tmp_path / "f"
    dest.write_bytes(b"old content")
    blobs.store.get_file(digest, str(dest))
    assert dest.read_bytes() == b"new"


@pytest.mark.parametrize("with_part", [False, True])
def test_get_file_of_a_corrupt_blob_raises_and_leaves_nothing(
    blobs: Blobs, tmp_path: Path, with_part: bool
) -> None:
    data = os.urandom(CHUNK_SIZE + 10)
    digest = blobs.store.put_stream(io.BytesIO(data)).digest
    blobs.overwrite_blob(digest, b"\1" * len(data))  # bit rot in the store
    dest = tmp_path / "f"
    part = Path(str(dest) + ".part")
    if with_part:
        part.write_bytes(data[:100])
    with pytest.raises(IntegrityError, match=digest):
        blobs.store.get_file(digest, str(dest))
    assert not dest.exists()
    assert not part.exists()


def test_concurrent_get_file_to_one_destination(blobs: Blobs, tmp_path: Path) -> None:
    data = os.urandom(4 * CHUNK_SIZE)
    digest = blobs.store.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "shared.bin"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(blobs.store.get_file, digest, str(dest)) for _ in range(8)]:
            f.result()
    assert dest.read_bytes() == data
    assert not Path(str(dest) + ".part").exists()


# -- concurrency and crashes ---------------------------------------------------------------------
def test_concurrent_puts_from_threads(blobs: Blobs) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 3)

    def put() -> str:
        return blobs.store.put_stream(io.BytesIO(data)).digest

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        digests = [f.result() for f in [pool.submit(put) for _ in range(16)]]
    assert set(digests) == {sha(data)}
    assert list(blobs.store.iter_digests()) == [sha(data)]
    assert blobs.files("tmp") == []
    with blobs.store.open(sha(data)) as fh:
        assert fh.read() == data


def test_concurrent_puts_from_processes(local: Blobs, tmp_path: Path) -> None:
    data = os.urandom(16 * CHUNK_SIZE)
    src = tmp_path / "same.bin"
    src.write_bytes(data)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELPER), "put", local.store.uri, str(src), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    time.sleep(0.5)  # let them start and block on the go file, so the writes overlap
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        entry = json.loads(out)
        assert entry == {"path": "same.bin", "digest": sha(data), "size": len(data)}
    assert list(local.store.iter_digests()) == [sha(data)]
    assert local.files("sha256") == [f"sha256/{sha(data)[:2]}/{sha(data)[2:4]}/{sha(data)}"]
    assert local.files("tmp") == []
    with local.store.open(sha(data)) as fh:
        assert fh.read() == data


def test_killed_writer_leaves_only_a_temp_file(local: Blobs) -> None:
    with subprocess.Popen(
        [sys.executable, str(HELPER), "slow", local.store.uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert local.files("sha256") == []
    assert list(local.store.iter_digests()) == []
    temps = local.files("tmp")
    assert len(temps) == 1 and temps[0].endswith(".part")
    temp = Path(local.root) / temps[0]
    assert temp.stat().st_size >= CHUNK_SIZE  # the first chunk was written before the kill

    assert local.store.cleanup_temp() == 0  # fresh: could still be an upload in progress
    assert temp.exists()
    two_hours_ago = time.time() - 7200
    os.utime(temp, (two_hours_ago, two_hours_ago))
    assert local.store.cleanup_temp() == 1
    assert local.files("tmp") == []


def test_cleanup_temp_on_memory_store(blobs: Blobs) -> None:
    blobs.fs.pipe_file(f"{blobs.root}/tmp/{uuid.uuid4()}.part", b"abandoned")
    assert blobs.store.cleanup_temp() == 0
    assert blobs.store.cleanup_temp(older_than_s=0) == 1
    assert blobs.files("tmp") == []
    with pytest.raises(InvalidInputError, match="older_than_s"):
        blobs.store.cleanup_temp(-1)


# -- construction -------------------------------------------------------------------------------
def test_local_root_is_created_and_uri_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = FsspecBlobStore("rel/blobs")
    assert (tmp_path / "rel" / "blobs").is_dir()
    assert store.uri == str(tmp_path / "rel" / "blobs")
    digest = store.put_stream(io.BytesIO(b"x")).digest
    assert FsspecBlobStore(f"file://{tmp_path}/rel/blobs").exists(digest)


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_missing_s3fs_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"modelworks\[s3\]"):
        FsspecBlobStore("s3://bucket/blobs")


def test_unknown_protocol_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="nope://"):
        FsspecBlobStore("nope://x/y")


# -- properties ---------------------------------------------------------------------------------
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_round_trip(blobs: Blobs, tmp_path: Path, data: bytes) -> None:
    entry = blobs.store.put_stream(io.BytesIO(data))
    assert entry.digest == sha(data) and entry.size == len(data)
    with blobs.store.open(entry.digest) as fh:
        assert fh.read() == data
    dest = tmp_path / f"{entry.digest}.out"
    blobs.store.get_file(entry.digest, str(dest))
    assert dest.read_bytes() == data


# -- scale --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_one_gib_stream_in_bounded_memory(
    tmp_path: Path, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    size = 1 << 30
    dest = tmp_path / "big.out"
    proc = subprocess.run(
        [sys.executable, str(HELPER), "big", str(tmp_path / "blobs"), str(size), str(dest)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["size"] == size and r["dest_size"] == size
    assert r["digest"] == r["generated_digest"] == r["dest_digest"]
    growth = r["peak_rss"] - r["baseline_rss"]
    assert growth < 200 * 1024 * 1024, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    record_property("put_s", r["put_s"])
    record_property("get_s", r["get_s"])
    record_property("rss_growth_mib", growth / 2**20)
    with capsys.disabled():
        print(
            f"\n1 GiB blob: put {r['put_s']:.2f} s, get_file {r['get_s']:.2f} s, "
            f"peak RSS growth {growth / 2**20:.1f} MiB"
        )


def test_modified_is_refreshed_when_content_is_stored_again(local: Blobs) -> None:
    entry = local.store.put_stream(io.BytesIO(b"again"))
    path = local.blob_path(entry.digest)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # pretend it was stored in 2001
    assert local.store.modified(entry.digest) == 1_000_000_000
    local.store.put_stream(io.BytesIO(b"again"))
    assert local.store.modified(entry.digest) > time.time() - 600


def test_modified_of_a_missing_blob_names_it(blobs: Blobs) -> None:
    with pytest.raises(NotFoundError, match="0" * 64):
        blobs.store.modified("0" * 64)
