"""Tokens and roles, against a real server process: who may read, write and manage tokens."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _live_server import LiveServer, free_port
from modelworks.config import load_config
from modelworks.entities import Metric
from modelworks.errors import ConflictError, PermissionDeniedError, UnauthenticatedError
from modelworks.server.auth import _secret_from_header, required_role
from modelworks.server.main import create_token as create_workspace_token
from modelworks.server.main import ensure_admin_token
from modelworks.server.tokens import hash_token, new_token, role_allows, validate_role
from modelworks.store.rest import RestBlobStore, RestMetadataStore
from modelworks.store.sql import SqlMetadataStore


def _uniq() -> str:
    return os.urandom(4).hex()


# -- pure helpers -------------------------------------------------------------------------------
def test_new_tokens_are_prefixed_random_and_stored_as_sha256() -> None:
    a, b = new_token(), new_token()
    assert a.startswith("mw_") and b.startswith("mw_") and a != b
    assert len(a) == 3 + 43
    assert len(hash_token(a)) == 64 and hash_token(a) != hash_token(b)
    assert hash_token(a) == hash_token(a)


def test_roles_are_ranked() -> None:
    assert role_allows("admin", "writer") and role_allows("writer", "reader")
    assert not role_allows("reader", "writer") and not role_allows("writer", "admin")
    assert not role_allows("superuser", "reader")
    with pytest.raises(Exception, match="expected one of reader, writer, admin"):
        validate_role("superuser")


def test_required_role_by_route() -> None:
    assert required_role("GET", "/api/v1/runs/abc") == "reader"
    assert required_role("HEAD", "/api/v1/blobs/abc") == "reader"
    assert required_role("POST", "/api/v1/runs/search") == "reader"
    assert required_role("POST", "/api/v1/runs/abc/log-batch") == "writer"
    assert required_role("DELETE", "/api/v1/models/m") == "writer"
    assert required_role("GET", "/api/v1/tokens") == "admin"
    assert required_role("DELETE", "/api/v1/tokens/abc") == "admin"


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1))
def test_bearer_and_basic_headers_carry_the_token(secret: str) -> None:
    assert _secret_from_header(f"Bearer {secret}") == secret
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    assert _secret_from_header(f"Basic {basic}") == secret
    only_user = base64.b64encode(f"{secret.replace(':', '')}:".encode()).decode()
    assert _secret_from_header(f"Basic {only_user}") == (secret.replace(":", "") or None)
    assert _secret_from_header(f"Digest {secret}") is None


# -- over HTTP ----------------------------------------------------------------------------------
def test_health_and_docs_are_public(server: LiveServer) -> None:
    for path in ("/health", "/api/v1/health"):
        body = httpx.get(server.url + path).json()
        assert body["status"] == "ok" and body["version"]
    assert httpx.get(server.url + "/docs").status_code == 200
    assert httpx.get(server.url + "/openapi.json").status_code == 200


def test_missing_token_is_401_and_says_how_to_pass_one(server: LiveServer) -> None:
    response = httpx.get(server.url + "/api/v1/experiments")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    store = RestMetadataStore(server.url, token=None)
    with pytest.raises(UnauthenticatedError, match="Authorization: Bearer"):
        store.list_experiments()


def test_wrong_token_is_401(server: LiveServer) -> None:
    store = RestMetadataStore(server.url, token=new_token())
    with pytest.raises(UnauthenticatedError, match="unknown or revoked"):
        store.list_experiments()
    response = httpx.get(server.url + "/api/v1/experiments", headers={"Authorization": "Token x"})
    assert response.status_code == 401


def test_token_from_environment(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWORKS_TOKEN", server.admin_token)
    store = RestMetadataStore(server.url)
    assert store.whoami()["role"] == "admin"


def test_basic_auth_with_token_as_password(server: LiveServer, tokens: Any) -> None:
    response = httpx.get(server.url + "/api/v1/auth/whoami", auth=("anyone", tokens.reader))
    assert response.status_code == 200
    assert response.json() == {"name": "test-reader", "role": "reader", "auth": True}


def test_reader_reads_but_may_not_write(
    reader_meta: RestMetadataStore, writer_meta: RestMetadataStore
) -> None:
    exp = writer_meta.create_experiment(f"auth-{_uniq()}")
    assert reader_meta.get_experiment(exp.id) == exp
    assert reader_meta.search_runs([exp.id]).items == []  # a read, though it is a POST
    with pytest.raises(PermissionDeniedError, match="needs the 'writer' role") as info:
        reader_meta.create_experiment(f"auth-{_uniq()}")
    assert "has role 'reader'" in info.value.message
    with pytest.raises(PermissionDeniedError):
        reader_meta.update_experiment(exp.id, tags={"a": "b"})


def test_writer_writes_but_may_not_manage_tokens(writer_meta: RestMetadataStore) -> None:
    exp = writer_meta.create_experiment(f"auth-{_uniq()}")
    run = writer_meta.create_run(exp.id)
    writer_meta.log_batch(run.id, metrics=[Metric("loss", 0.5, step=1, timestamp=1)])
    assert writer_meta.get_run(run.id).metrics == {"loss": 0.5}
    with pytest.raises(PermissionDeniedError, match="needs the 'admin' role"):
        writer_meta.list_tokens()
    with pytest.raises(PermissionDeniedError, match="admin"):
        writer_meta.create_token(name="sneaky", role="admin", token_hash=hash_token(new_token()))


def test_admin_creates_and_revokes_tokens(
    server: LiveServer, admin_meta: RestMetadataStore
) -> None:
    secret = new_token()
    token = admin_meta.create_token(
        name=f"ci-{_uniq()}", role="writer", token_hash=hash_token(secret)
    )
    assert token.role == "writer" and not token.revoked
    assert token.id in {t.id for t in admin_meta.list_tokens()}
    assert admin_meta.get_token_by_hash(hash_token(secret)).id == token.id

    user = RestMetadataStore(server.url, token=secret)
    assert user.whoami()["name"] == token.name  # works (and is now in the server's cache)
    admin_meta.revoke_token(token.id)
    with pytest.raises(UnauthenticatedError, match="unknown or revoked"):
        user.whoami()
    assert admin_meta.get_token_by_hash(hash_token(secret)).revoked


def test_reader_uploading_a_large_blob_gets_403_not_a_broken_pipe(
    server: LiveServer, tokens: Any
) -> None:
    blobs = RestBlobStore(server.url, token=tokens.reader)
    with pytest.raises(PermissionDeniedError, match="writer"):
        blobs.put_stream(io.BytesIO(os.urandom(16 * 1024 * 1024)))


# -- the admin token at start-up ----------------------------------------------------------------
def test_first_admin_token_is_created_once(tmp_path: Path) -> None:
    meta = SqlMetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        first = ensure_admin_token(meta)
        assert first is not None and first.startswith("mw_")
        assert meta.get_token_by_hash(hash_token(first)).role == "admin"
        assert ensure_admin_token(meta) is None
        assert [t.role for t in meta.list_tokens()] == ["admin"]
    finally:
        meta.close()


def test_env_admin_token_is_registered_and_checked(tmp_path: Path) -> None:
    meta = SqlMetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        secret = new_token()
        assert ensure_admin_token(meta, env_token=secret) is None
        token = meta.get_token_by_hash(hash_token(secret))
        assert token.role == "admin"
        assert ensure_admin_token(meta, env_token=secret) is None  # idempotent
        assert len(meta.list_tokens()) == 1
        meta.revoke_token(token.id)
        with pytest.raises(ConflictError, match="MODELWORKS_ADMIN_TOKEN"):
            ensure_admin_token(meta, env_token=secret)
    finally:
        meta.close()


def _start_and_stop(workspace: Path, port: int) -> str:
    """Run the server until /health answers, stop it, return everything it printed."""
    env = {k: v for k, v in os.environ.items() if k != "MODELWORKS_ADMIN_TOKEN"}
    cmd = [sys.executable, "-m", "modelworks.server", "--workspace", str(workspace)]
    cmd += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    return out.decode()


@pytest.mark.slow
def test_server_prints_a_new_admin_token_once(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    first = _start_and_stop(workspace, free_port())
    lines = [ln for ln in first.splitlines() if ln.startswith("Admin token (shown once")]
    assert len(lines) == 1, first
    secret = lines[0].rsplit(" ", 1)[1]
    assert "Admin token" not in _start_and_stop(workspace, free_port())
    meta = SqlMetadataStore(load_config(workspace).metadata_uri)
    try:  # the printed token is the workspace's admin token
        assert meta.get_token_by_hash(hash_token(secret)).role == "admin"
    finally:
        meta.close()


def test_cli_helper_creates_working_tokens(server: LiveServer, tmp_path: Path) -> None:
    # Against the running server's URL with the admin token ...
    secret = create_workspace_token(
        server.url, f"cli-{_uniq()}", "reader", token=server.admin_token
    )
    assert RestMetadataStore(server.url, token=secret).whoami()["role"] == "reader"
    # ... and directly on a workspace folder (here: the server's own, shared database).
    secret = create_workspace_token(str(server.workspace), f"cli-{_uniq()}", "writer")
    assert RestMetadataStore(server.url, token=secret).whoami()["role"] == "writer"
