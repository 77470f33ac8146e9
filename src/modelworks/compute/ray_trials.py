"""``RayTrialExecutor``: AutoML trials as tasks of Ray actors on a cluster.

The adapter of AutoML's :class:`~modelworks.automl._executor.TrialExecutor` port for a Ray
compute. It keeps ``n_workers`` actors (one CPU each); the trial data goes to the cluster's
object store once and each actor keeps it, with its own featurization cache, for its life —
as a local worker process does. A trial's fold models come back as bytes with its result and
are written to the AutoML run's folder here, so nodes need no file system in common with this
machine (they do need modelworks and the learners' libraries installed: ``runtime_env`` in
the compute's config can add them). A trial past its deadline (plus grace) has its actor
killed and is reported ``timeout``; an actor that dies is reported ``failed``; either way a
new actor takes its place.

Ray is imported only here and in :mod:`modelworks.compute.ray`. The address is the one
``ray.init`` takes: ``auto``, the GCS address ``host:6379`` or ``ray://host:10001``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import time
from typing import Any

from modelworks.automl._executor import THREAD_ENV
from modelworks.automl._trial import TrialResult, TrialSpec, stopped_result
from modelworks.compute.ray import _LOOPBACK
from modelworks.errors import MissingDependencyError, StoreUnavailableError

__all__ = ["RayTrialExecutor"]


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise MissingDependencyError(
            'AutoML trials on a Ray compute need Ray: pip install "modelworks[ray]".'
        ) from e
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a GCS address nobody answers (``ray.init`` would retry for minutes)."""
    text = address.split("://", 1)[-1]
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except OSError as e:
        raise StoreUnavailableError(
            f"Cannot reach the Ray cluster at {address!r} for AutoML trials ({e}). Check that "
            "the head is running (`ray start --head`) and that the compute's address is its "
            "GCS address (host:6379) or Ray Client address (ray://host:10001)."
        ) from e


class _TrialActor:
    """Runs trials on the data it was created with (the body of the Ray actor)."""

    def __init__(self, data: Any) -> None:
        import tempfile
        import warnings

        from modelworks.automl._trial import FoldCache

        warnings.simplefilter("ignore")
        if hasattr(data, "model_dir"):  # tabular trials save fold models; forecasts keep none
            data = dataclasses.replace(data, model_dir=tempfile.mkdtemp(prefix="mw-trials-"))
        self.data = data
        self.cache = FoldCache()

    def ready(self) -> int:
        return os.getpid()

    def run(self, spec: TrialSpec) -> tuple[TrialResult, bytes | None]:
        from modelworks.automl._worker import run_one

        result = run_one(self.data, spec, self.cache)
        result.extra["executor"] = f"ray:{socket.gethostname()}:{os.getpid()}"
        blob = None
        if result.model_path is not None:
            with open(result.model_path, "rb") as fh:
                blob = fh.read()
            os.remove(result.model_path)
            result.model_path = None
        return result, blob


@dataclasses.dataclass
class _Slot:
    actor: Any
    ping: Any = None  # ObjectRef of ready() until the actor is up
    pid: int | None = None  # the actor's process id, once up
    ref: Any = None  # ObjectRef of the running trial
    spec: TrialSpec | None = None
    started: float = 0.0


class RayTrialExecutor:
    """Trials on ``n_workers`` Ray actors of the cluster at ``address`` (by default one per
    CPU of the cluster). ``runtime_env`` is Ray's, for the actors (``pip``, ``env_vars``, ...)."""

    def __init__(
        self,
        data_path: str,
        *,
        address: str,
        n_workers: int | None = None,
        grace: float = 1.0,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        self.grace = grace
        self.address = address
        loopback = address.split("://", 1)[-1].startswith(_LOOPBACK)
        if loopback:
            # A head on loopback only: without this Ray swaps 127.0.0.1 for the machine's
            # network address (read once, when Ray is imported) and waits there for ever.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = _ray()
        self._ray = ray
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            _check_reachable(address)
            options: dict[str, Any] = {"_node_ip_address": "127.0.0.1"} if loopback else {}
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR", **options)
            except Exception as e:
                raise StoreUnavailableError(
                    f"Cannot reach the Ray cluster at {address!r} for AutoML trials: {e}. "
                    "Check that the head is running (`ray start --head`) and the address."
                ) from e
        self._closed = False
        self._slots: list[_Slot] = []
        try:
            # n_workers None: as many trials at once as the cluster has CPUs.
            cpus = int(ray.cluster_resources().get("CPU", 1))
            self.capacity = max(1, int(n_workers) if n_workers is not None else cpus)
            with open(data_path, "rb") as fh:
                data = pickle.load(fh)
            self._model_dir = str(getattr(data, "model_dir", ""))
            self._data_ref = ray.put(data)
            env = {
                **dict.fromkeys(THREAD_ENV, "1"),
                **dict((runtime_env or {}).get("env_vars") or {}),
            }
            self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(_TrialActor).options(
                runtime_env={**(runtime_env or {}), "env_vars": env}
            )
            self._slots = [self._start() for _ in range(self.capacity)]
        except BaseException:
            self.shutdown()
            raise

    def _start(self) -> _Slot:
        actor = self._actor_class.remote(self._data_ref)
        return _Slot(actor, ping=actor.ready.remote())

    # -- the port ---------------------------------------------------------------------------
    def idle(self) -> int:
        """Actors up and free now."""
        pings = [s.ping for s in self._slots if s.ping is not None]
        if pings:
            done, _ = self._ray.wait(pings, num_returns=len(pings), timeout=0)
            for slot in self._slots:
                if slot.ping is not None and slot.ping in done:
                    try:
                        slot.pid = int(self._ray.get(slot.ping))
                    except Exception:  # noqa: BLE001 - it died starting: start another
                        self._slots[self._slots.index(slot)] = self._start()
                        continue
                    slot.ping = None
        return sum(1 for s in self._slots if s.ping is None and s.spec is None)

    def submit(self, spec: TrialSpec) -> None:
        slot = next((s for s in self._slots if s.ping is None and s.spec is None), None)
        if slot is None:
            raise RuntimeError("no idle actor; call submit only when idle() > 0")
        slot.spec, slot.started = spec, time.time()
        slot.ref = slot.actor.run.remote(spec)

    def running(self) -> list[TrialSpec]:
        return [s.spec for s in self._slots if s.spec is not None]

    def wait(self, timeout: float) -> list[TrialResult]:
        busy = [s for s in self._slots if s.spec is not None]
        results: list[TrialResult] = []
        if busy:
            now = time.time()
            limit = min(s.spec.deadline + self.grace for s in busy if s.spec) - now
            refs = [s.ref for s in busy]
            ready, _ = self._ray.wait(refs, num_returns=1, timeout=max(0.0, min(timeout, limit)))
            if ready:  # and whatever else finished meanwhile
                ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
            for slot in busy:
                if slot.ref in ready:
                    results.append(self._collect(slot))
        elif timeout > 0:
            time.sleep(min(timeout, 0.05))
        now = time.time()
        for slot in self._slots:
            if slot.spec is not None and now > slot.spec.deadline + self.grace:
                results.append(
                    self._replace(slot, "timeout", "stopped: it ran past its time limit")
                )
        return results

    def _collect(self, slot: _Slot) -> TrialResult:
        spec = slot.spec
        assert spec is not None
        try:
            result, blob = self._ray.get(slot.ref)
        except Exception as e:  # noqa: BLE001 - the actor died or the result did not come back
            reason = str(e).strip().splitlines()
            return self._replace(
                slot,
                "failed",
                "the Ray actor running it failed: " + (reason[-1] if reason else type(e).__name__),
            )
        if blob is not None:
            path = os.path.join(self._model_dir, f"trial-{spec.number}.pkl")
            with open(path + ".tmp", "wb") as fh:
                fh.write(blob)
            os.replace(path + ".tmp", path)
            result.model_path = path
        slot.spec, slot.ref = None, None
        return result

    def _replace(self, slot: _Slot, status: str, error: str) -> TrialResult:
        spec = slot.spec
        assert spec is not None
        self._kill(slot.actor)
        index = self._slots.index(slot)
        if not self._closed:
            self._slots[index] = self._start()
        return stopped_result(spec, status, error, slot.started)

    def shutdown(self) -> None:
        self._closed = True
        for slot in self._slots:
            self._kill(slot.actor)
        self._slots = []
        if self._owns_connection and self._ray.is_initialized():
            self._ray.shutdown()

    def _kill(self, actor: Any) -> None:
        try:
            self._ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone, or the cluster is
            return
