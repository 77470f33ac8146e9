"""The scheduler inside the API server (and so inside ``modelworks up``).

The server's lifespan calls :func:`start_scheduler`. Firing a schedule creates jobs through the
server's own workspace (:func:`modelworks.server.workspace.server_workspace`); an app that does
not know its workspace folder (one built on bare stores in tests) runs no scheduler.
``MODELWORKS_SCHEDULER=0`` turns it off (several servers on one database are safe anyway: each
occurrence fires once); ``MODELWORKS_SCHEDULER_POLL`` is the longest sleep between passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import types
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread

from modelworks.errors import InvalidInputError

if TYPE_CHECKING:
    from fastapi import Request

    from modelworks.workspace import Workspace

__all__ = ["ENV_SCHEDULER", "ENV_SCHEDULER_POLL", "start_scheduler", "stop_scheduler"]

ENV_SCHEDULER = "MODELWORKS_SCHEDULER"
ENV_SCHEDULER_POLL = "MODELWORKS_SCHEDULER_POLL"
logger = logging.getLogger("modelworks.schedules")


def _workspace(app: Any) -> Workspace | None:
    from modelworks.server.workspace import server_workspace

    try:
        return server_workspace(cast("Request", types.SimpleNamespace(app=app)))
    except InvalidInputError:
        return None


async def _run(app: Any) -> None:
    from modelworks.schedules.scheduler import Scheduler

    ws = await anyio.to_thread.run_sync(_workspace, app)
    if ws is None:
        logger.info("No workspace folder: the scheduler is not running.")
        return
    poll = float(os.environ.get(ENV_SCHEDULER_POLL, "1.0"))
    scheduler = Scheduler(ws, poll_s=poll)
    try:
        while True:
            try:
                await anyio.to_thread.run_sync(scheduler.tick)
                wait = await anyio.to_thread.run_sync(scheduler.seconds_to_next)
            except Exception:  # keep scheduling after a transient database error
                logger.exception("Scheduler pass failed; retrying in %.1f s", poll)
                wait = poll
            await asyncio.sleep(max(wait, 0.01))
    finally:
        scheduler.close()


def start_scheduler(app: Any) -> asyncio.Task[None] | None:
    """Start the scheduler task (None when turned off with ``MODELWORKS_SCHEDULER=0``)."""
    if os.environ.get(ENV_SCHEDULER, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return asyncio.create_task(_run(app))


async def stop_scheduler(task: asyncio.Task[None] | None) -> None:
    """Cancel the scheduler task and wait for it (a pass in progress finishes first)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
