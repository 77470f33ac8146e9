"""A doorbell for the endpoint host: "the desired state changed, look now".

The host polls the database's revision number a few times a second, which is what makes a
change made from any process (and, with PostgreSQL, any machine) reach it. A change made on
this machine also rings the bell — one datagram to a Unix socket named after the workspace —
so the host reconciles at once instead of at its next poll: creating a deployment or moving
traffic then costs no polling delay. Ringing never fails: no host, no bell, nothing happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["Doorbell", "answering", "bell_path", "ring", "socket_dir"]


def socket_dir() -> Path:
    """A short folder for bells and worker sockets (Unix socket paths are limited to ~100
    bytes)."""
    folder = Path(tempfile.gettempdir()) / f"mw-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def answering(path: Path) -> bool:
    """Whether a host listens at the bell ``path`` (a cheap check that needs no database)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(b"!", str(path))
        except BlockingIOError:
            return True  # a host whose queue is full is still a host
        except OSError:
            return False
    return True


def bell_path(runtime_dir: Path, folder: Path) -> Path:
    """The bell of the host serving the workspace whose runtime folder is ``runtime_dir``."""
    key = str(runtime_dir.resolve())
    return folder / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.bell"


def ring(path: Path) -> None:
    """Ring the bell at ``path`` (silently nothing when no host listens)."""
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
    ):
        sock.setblocking(False)
        sock.sendto(b"!", str(path))


class _Bell(asyncio.DatagramProtocol):
    def __init__(self, on_ring: Callable[[], None]) -> None:
        self.on_ring = on_ring

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.on_ring()


class Doorbell:
    """The host's side: calls ``on_ring`` (in the event loop) whenever the bell rings."""

    def __init__(self, path: Path, on_ring: Callable[[], None]) -> None:
        self.path = path
        self.on_ring = on_ring
        self._transport: asyncio.BaseTransport | None = None
        self._inode = 0

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(self.path))
            self._inode = self.path.stat().st_ino
        except OSError:
            sock.close()
            return  # no bell: the host still polls
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Bell(self.on_ring), sock=sock
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            with contextlib.suppress(OSError):
                if self.path.stat().st_ino == self._inode:  # not a newer host's bell
                    self.path.unlink()
