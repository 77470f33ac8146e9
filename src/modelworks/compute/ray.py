"""``RayExecutor``: a job's command as a Ray job (the Ray Jobs API) on a cluster at an address.

The worker prepares the job as for local compute, then submits its command with the prepared
working folder as the Ray job's ``working_dir`` and the job's variables as ``env_vars``. Status
and output are mirrored back by polling the Jobs API; cancellation is ``stop_job`` (Ray
terminates the job's process tree). After the command, a small shell epilogue copies
``./outputs`` and ``./logs`` back to the worker's job folder, and named outputs are written
to absolute paths there: Ray nodes must see that folder — one machine, or a shared file
system — as they must see the inputs. The environment's interpreter is put first on the
job's PATH the same way (``${PATH}`` keeps the node's own).

The address may be the dashboard URL (``http://host:8265``), the GCS address
(``host:6379``) or ``ray://host:10001``. Ray is imported only here, when a Ray compute is used
(``pip install "modelworks[ray]"``).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from modelworks.compute.base import Execution, Executor, ProcessSpec
from modelworks.errors import MissingDependencyError, StoreUnavailableError

__all__ = ["RayExecution", "RayExecutor"]

#: How often the Jobs API is asked for status and logs.
STATUS_INTERVAL_S = 0.25
LOG_INTERVAL_S = 0.5
#: Lines Ray's job manager writes into a job's log (they are not the job's output).
_RAY_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(INFO|WARNING|DEBUG)\s+\S+\.py:\d+ -- "
    r"|Running entrypoint for job \S+: )"
)
#: The script the Ray job runs: the command in a subshell, then copying outputs back.
ENTRY_SCRIPT = ".modelworks-ray-entry.sh"

#: Variables a job needs from the worker's environment (the rest belongs to the node).
_JOB_VARS_PREFIXES = ("MODELWORKS_", "MLFLOW_", "AZUREML_")
_JOB_VARS = ("PYTHONUNBUFFERED", "VIRTUAL_ENV")


_LOOPBACK = ("127.", "localhost", "[::1]")


def _host(address: str) -> str:
    text = address.split("://", 1)[-1]
    return text.rsplit(":", 1)[0] if ":" in text.strip("[]") else text


def _client(address: str) -> Any:
    if _host(address).startswith(_LOOPBACK):
        # A cluster on this machine listens on loopback only; without this Ray resolves
        # 127.0.0.1 to the machine's network address (read once, when Ray is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as e:
        raise MissingDependencyError(
            'Ray computes need Ray with its Jobs API: pip install "modelworks[ray]".'
        ) from e
    try:
        return JobSubmissionClient(address)
    except Exception as e:
        raise StoreUnavailableError(
            f"Cannot reach the Ray cluster at {address!r}: {e}. Check that the head is "
            "running (`ray start --head`) and the compute's address."
        ) from e


class RayExecution(Execution):
    """A submitted Ray job."""

    def __init__(self, client: Any, submission_id: str) -> None:
        self.client = client
        self.submission_id = submission_id
        self._seen = 0
        self._partial = ""
        self._pending = ""
        self._code: int | None = None
        self._last_status = 0.0
        self._last_logs = 0.0

    def _status(self) -> int | None:
        from ray.job_submission import JobStatus

        if self._code is not None:
            return self._code
        status = self.client.get_job_status(self.submission_id)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            info = self.client.get_job_info(self.submission_id)
            code = getattr(info, "driver_exit_code", None)
            if code is None:
                code = (
                    0
                    if status == JobStatus.SUCCEEDED
                    else (-15 if status == JobStatus.STOPPED else 1)
                )
            self._code = int(code)
        return self._code

    def _fetch_logs(self, *, final: bool = False) -> None:
        """Append new output, leaving out Ray's own job-manager lines (whole lines only, so a
        line still being written waits for its end)."""
        text = self.client.get_job_logs(self.submission_id) or ""
        new, self._seen = text[self._seen :], len(text)
        self._partial += new
        lines = self._partial.split("\n")
        self._partial = lines.pop()
        if final and self._partial:
            lines.append(self._partial)
            self._partial = ""
        kept = [line for line in lines if not _RAY_LINE.match(line)]
        if kept:
            self._pending += "\n".join(kept) + ("\n" if not final or text.endswith("\n") else "")

    def read(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        if now - self._last_logs >= LOG_INTERVAL_S:
            self._last_logs = now
            self._fetch_logs()
        out, self._pending = self._pending, ""
        return [("stdout", out)] if out else []

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if now - self._last_status >= STATUS_INTERVAL_S:
                self._last_status = now
                code = self._status()
                if code is not None:
                    self._fetch_logs(final=True)
                    return code
            if deadline is not None and now >= deadline:
                return None
            pause = STATUS_INTERVAL_S - (time.monotonic() - self._last_status)
            if deadline is not None:
                pause = min(pause, deadline - time.monotonic())
            time.sleep(max(0.005, pause))

    def cancel(self, grace_s: float = 3.0) -> None:
        if self._status() is None:
            self.client.stop_job(self.submission_id)
        deadline = time.monotonic() + grace_s + 15.0
        while self._status() is None and time.monotonic() < deadline:
            time.sleep(0.2)

    def describe(self) -> dict[str, Any]:
        return {"ray_job_id": self.submission_id}


class RayExecutor(Executor):
    """Submits commands to a Ray cluster through its Jobs API."""

    kind = "ray"

    def __init__(self, address: str, *, config: dict[str, Any] | None = None) -> None:
        self.address = address
        self.config = dict(config or {})
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _client(self.address)
        return self._client

    def start(self, spec: ProcessSpec) -> RayExecution:
        env_vars = {
            k: v
            for k, v in spec.env.items()
            if k.startswith(_JOB_VARS_PREFIXES) or k in _JOB_VARS or k in spec.job_vars
        }
        env_vars["MW_JOB_DIR"] = spec.cwd
        if spec.path_prefix:
            env_vars["PATH"] = f"{spec.path_prefix}:${{PATH}}"
        script = (
            f"(\n{spec.command}\n)\nrc=$?\n"
            'for d in outputs logs; do if [ -d "$d" ]; then mkdir -p "$MW_JOB_DIR/$d" '
            '&& cp -R "$d"/. "$MW_JOB_DIR/$d"/; fi; done\nexit $rc\n'
        )
        (Path(spec.cwd) / ENTRY_SCRIPT).write_text(script)
        entrypoint = f"/bin/sh {ENTRY_SCRIPT}"
        submission_id = f"mw-{spec.name or 'job'}-{uuid.uuid4().hex[:8]}"
        runtime_env: dict[str, Any] = {"working_dir": spec.cwd, "env_vars": env_vars}
        runtime_env.update(self.config.get("runtime_env") or {})
        try:
            self.client.submit_job(
                entrypoint=entrypoint, submission_id=submission_id, runtime_env=runtime_env
            )
        except (MissingDependencyError, StoreUnavailableError):
            raise
        except Exception as e:
            raise StoreUnavailableError(
                f"Submitting the job to the Ray cluster at {self.address!r} failed: {e}"
            ) from e
        return RayExecution(self.client, submission_id)
