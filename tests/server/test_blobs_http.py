"""Blobs through HTTP: streamed upload and download, dedup by HEAD, integrity, Range resume."""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import os
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _live_server import LiveServer
from modelworks.config import WorkspaceConfig, load_config
from modelworks.errors import IntegrityError, InvalidInputError, ModelworksError, NotFoundError
from modelworks.store.blobs import CHUNK_SIZE, FsspecBlobStore
from modelworks.store.rest import RestBlobStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def served_blobs(server: LiveServer) -> FsspecBlobStore:
    """The server's own blob store, opened directly (to inspect and damage it)."""
    return FsspecBlobStore(load_config(server.workspace).artifact_uri)


def _overwrite(served: FsspecBlobStore, digest: str, data: bytes) -> None:
    path = served.local_path(digest)
    assert path is not None
    os.chmod(path, 0o644)
    Path(path).write_bytes(data)


def _put_requests(server: LiveServer, digest: str) -> int:
    """How many PUTs of ``digest`` the server's access log shows."""
    return len(re.findall(rf'"PUT /api/v1/blobs/{digest} HTTP', server.log()))


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_round_trip(writer_blobs: RestBlobStore, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    entry = writer_blobs.put_file(str(src))
    assert (entry.path, entry.digest, entry.size) == ("src.bin", sha(data), size)
    assert writer_blobs.exists(entry.digest) and writer_blobs.size(entry.digest) == size
    with writer_blobs.open(entry.digest) as fh:
        assert fh.read() == data
    dest = tmp_path / "out" / "sub" / "copy.bin"
    writer_blobs.get_file(entry.digest, str(dest))
    assert dest.read_bytes() == data
    assert not Path(str(dest) + ".part").exists()
    streamed = writer_blobs.put_stream(io.BytesIO(data))
    assert (streamed.path, streamed.digest, streamed.size) == ("", sha(data), size)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=5000))
def test_arbitrary_bytes_round_trip(server: LiveServer, data: bytes) -> None:
    blobs = RestBlobStore(server.url, token=server.admin_token)
    try:
        entry = blobs.put_stream(io.BytesIO(data), expected_digest=sha(data))
        with blobs.open(entry.digest) as fh:
            assert fh.read() == data
    finally:
        blobs.close()


def test_put_file_skips_content_the_server_has(
    server: LiveServer, writer_blobs: RestBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(4096)
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(data)
    second.write_bytes(data)
    assert writer_blobs.put_file(str(first)).digest == sha(data)
    assert writer_blobs.put_file(str(second)).path == "b.bin"
    assert _put_requests(server, sha(data)) == 1  # the second upload was skipped after HEAD


def test_wrong_digest_is_422_and_stores_nothing(
    server: LiveServer, writer_blobs: RestBlobStore
) -> None:
    data, wrong = b"payload", sha(b"something else")
    response = httpx.put(
        f"{server.url}/api/v1/blobs/{wrong}",
        content=data,
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    assert response.status_code == 422
    assert response.json()["error_code"] == "INTEGRITY_ERROR"
    with pytest.raises(IntegrityError) as info:
        writer_blobs.put_stream(io.BytesIO(data), expected_digest=wrong)
    assert wrong in info.value.message and sha(data) in info.value.message
    assert not writer_blobs.exists(wrong) and not writer_blobs.exists(sha(data))


def test_range_requests_answer_206(server: LiveServer, writer_blobs: RestBlobStore) -> None:
    data = os.urandom(10_000)
    digest = writer_blobs.put_stream(io.BytesIO(data)).digest
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    url = f"{server.url}/api/v1/blobs/{digest}"
    tail = httpx.get(url, headers={**headers, "Range": "bytes=4000-"})
    assert tail.status_code == 206 and tail.content == data[4000:]
    assert tail.headers["content-range"] == f"bytes 4000-9999/{len(data)}"
    past = httpx.get(url, headers={**headers, "Range": f"bytes={len(data)}-"})
    assert past.status_code == 416
    head = httpx.head(url, headers=headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))


def test_get_file_resumes_a_partial_download(
    writer_blobs: RestBlobStore, served_blobs: FsspecBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    digest = writer_blobs.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "model.bin"
    part = Path(str(dest) + ".part")
    half = len(data) // 2
    part.write_bytes(data[:half])
    inode = part.stat().st_ino
    # Zero the first half on the server: only a download that really resumes (fetches the
    # second half alone, with Range) can still produce a file that verifies.
    _overwrite(served_blobs, digest, b"\0" * half + data[half:])
    writer_blobs.get_file(digest, str(dest))
    assert dest.read_bytes() == data
    assert not part.exists()
    assert dest.stat().st_ino == inode


def test_corrupt_partial_download_is_redone(writer_blobs: RestBlobStore, tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    digest = writer_blobs.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "f"
    Path(str(dest) + ".part").write_bytes(b"\0" * CHUNK_SIZE)
    writer_blobs.get_file(digest, str(dest))
    assert dest.read_bytes() == data
    Path(str(dest) + ".part").write_bytes(os.urandom(3 * CHUNK_SIZE))  # longer than the blob
    writer_blobs.get_file(digest, str(dest))
    assert dest.read_bytes() == data


def test_corrupt_blob_on_the_server_raises_and_leaves_nothing(
    writer_blobs: RestBlobStore, served_blobs: FsspecBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(CHUNK_SIZE + 10)
    digest = writer_blobs.put_stream(io.BytesIO(data)).digest
    _overwrite(served_blobs, digest, b"\1" * len(data))
    dest = tmp_path / "f"
    with pytest.raises(IntegrityError, match=digest):
        writer_blobs.get_file(digest, str(dest))
    assert not dest.exists() and not Path(str(dest) + ".part").exists()


def test_concurrent_downloads_to_one_destination(
    writer_blobs: RestBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(4 * CHUNK_SIZE)
    digest = writer_blobs.put_stream(io.BytesIO(data)).digest
    dest = tmp_path / "shared.bin"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(writer_blobs.get_file, digest, str(dest)) for _ in range(8)]:
            f.result()
    assert dest.read_bytes() == data
    assert not Path(str(dest) + ".part").exists()


def test_concurrent_uploads(writer_blobs: RestBlobStore) -> None:
    payloads = [os.urandom(100_000) for _ in range(4)] * 4
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        entries = list(pool.map(lambda d: writer_blobs.put_stream(io.BytesIO(d)), payloads))
    assert [e.digest for e in entries] == [sha(d) for d in payloads]


def test_missing_and_invalid_digests_match_the_local_store(
    writer_blobs: RestBlobStore, served_blobs: FsspecBlobStore, tmp_path: Path
) -> None:
    missing = sha(b"never stored")
    assert not writer_blobs.exists(missing)
    for call in (
        lambda s: s.open(missing),
        lambda s: s.size(missing),
        lambda s: s.get_file(missing, str(tmp_path / "x")),
    ):
        with pytest.raises(NotFoundError) as remote:
            call(writer_blobs)
        with pytest.raises(NotFoundError) as local:
            call(served_blobs)
        assert remote.value.message == local.value.message
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.part").exists()
    for bad in ["abc123", "a" * 65, "G" * 64, "a" * 64 + "\n", "", "../" + "a" * 61]:
        for call in (
            lambda s, b=bad: s.exists(b),
            lambda s, b=bad: s.open(b),
            lambda s, b=bad: s.delete(b),
            lambda s, b=bad: s.put_stream(io.BytesIO(b"x"), expected_digest=b),
        ):
            with pytest.raises(InvalidInputError) as remote_bad:
                call(writer_blobs)
            with pytest.raises(InvalidInputError) as local_bad:
                call(served_blobs)
            assert remote_bad.value.message == local_bad.value.message


def test_put_file_and_stream_refuse_bad_input(writer_blobs: RestBlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        writer_blobs.put_file(str(tmp_path / "nope.bin"))
    with pytest.raises(InvalidInputError, match="directory"):
        writer_blobs.put_file(str(tmp_path))
    with pytest.raises(InvalidInputError, match="binary"):
        writer_blobs.put_stream(io.StringIO("text"))  # type: ignore[arg-type]


def test_a_failing_stream_stores_nothing(
    writer_blobs: RestBlobStore, served_blobs: FsspecBlobStore
) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            self.calls += 1
            if self.calls > 3:
                raise OSError("disk went away")
            buffer[:1000] = b"x" * 1000
            return 1000

    before = set(served_blobs.iter_digests())
    with pytest.raises((OSError, ModelworksError)):
        writer_blobs.put_stream(Broken())  # type: ignore[arg-type]
    assert set(served_blobs.iter_digests()) == before


def test_iter_digests_pages_and_delete(
    server: LiveServer, writer_blobs: RestBlobStore, served_blobs: FsspecBlobStore
) -> None:
    digests = {writer_blobs.put_stream(io.BytesIO(os.urandom(64))).digest for _ in range(5)}
    assert set(writer_blobs.iter_digests()) == set(served_blobs.iter_digests())
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    seen: list[str] = []
    after = ""
    while True:
        page = httpx.get(
            f"{server.url}/api/v1/blobs", params={"after": after, "limit": 2}, headers=headers
        ).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        after = page["next_page_token"]
        if not after:
            break
    assert seen == sorted(served_blobs.iter_digests())
    gone = digests.pop()
    writer_blobs.delete(gone)
    writer_blobs.delete(gone)
    assert not writer_blobs.exists(gone) and gone not in set(writer_blobs.iter_digests())


def test_streamed_blobs_from_a_non_local_store(tmp_path: Path) -> None:
    """A server whose blobs live in memory:// streams them (no file to hand over) with Range."""
    workspace = tmp_path / "ws"
    WorkspaceConfig(
        root=workspace,
        metadata_uri=f"sqlite:///{workspace / 'modelworks.db'}",
        artifact_uri=f"memory://blobs-{os.getpid()}",
    ).write()
    with LiveServer(workspace) as live:
        blobs = RestBlobStore(live.url, token=live.admin_token)
        data = os.urandom(2 * CHUNK_SIZE + 3)
        digest = blobs.put_stream(io.BytesIO(data)).digest
        assert blobs.size(digest) == len(data)
        with blobs.open(digest) as fh:
            assert fh.read() == data
        headers = {"Authorization": f"Bearer {live.admin_token}"}
        url = f"{live.url}/api/v1/blobs/{digest}"
        tail = httpx.get(url, headers={**headers, "Range": f"bytes={CHUNK_SIZE + 1}-"})
        assert tail.status_code == 206 and tail.content == data[CHUNK_SIZE + 1 :]
        assert (
            tail.headers["content-range"] == f"bytes {CHUNK_SIZE + 1}-{len(data) - 1}/{len(data)}"
        )
        middle = httpx.get(url, headers={**headers, "Range": "bytes=10-19"})
        assert middle.status_code == 206 and middle.content == data[10:20]
        suffix = httpx.get(url, headers={**headers, "Range": "bytes=-5"})
        assert suffix.status_code == 206 and suffix.content == data[-5:]
        assert (
            httpx.get(url, headers={**headers, "Range": f"bytes={len(data)}-"}).status_code == 416
        )
        dest = tmp_path / "out.bin"
        Path(str(dest) + ".part").write_bytes(data[:1000])
        blobs.get_file(digest, str(dest))
        assert dest.read_bytes() == data
        with pytest.raises(NotFoundError, match=sha(b"absent")):
            blobs.open(sha(b"absent"))
