"""The scheduler: finds due occurrences in the database and creates their jobs.

Any number of schedulers may run on one database (one per ``modelworks server`` / ``up``
process); each occurrence still fires once, because firing starts with
:meth:`~modelworks.store.sql.triggers.TriggerStore.claim_fire` — one transaction that moves the
schedule past the occurrence *and* inserts the ``(schedule, occurrence)`` row. The job is
created after that commit, under a name derived from the occurrence, and the row is marked
``submitted`` (or ``failed`` with the reason). A scheduler that dies between the two leaves a
``claimed`` row, which another scheduler takes over after ``claim_timeout_s`` and completes
(creating the job unless a job of that name already exists).

State lives only in the database, so a restarted scheduler carries on where the last one
stopped. Occurrences that passed while no scheduler ran follow the schedule's
``missed_occurrences`` policy:

- ``latest`` (default): fire the most recent missed occurrence once; skip the older ones (the
  fire records how many were skipped);
- ``none``: fire only occurrences less than ``grace_s`` late; skip the rest;
- ``all``: fire every missed occurrence, oldest first (at most ``MAX_CATCH_UP`` of them).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from modelworks.errors import AlreadyExistsError, ModelworksError, NotFoundError
from modelworks.schedules.entities import Schedule, ScheduleFire, from_ms, to_ms
from modelworks.schedules.template import JobTemplate
from modelworks.schedules.triggers import Trigger

if TYPE_CHECKING:
    from modelworks.store.sql.triggers import TriggerStore
    from modelworks.workspace import Workspace

__all__ = ["MAX_CATCH_UP", "Scheduler", "build_trigger", "fire_job_name", "upcoming"]

logger = logging.getLogger("modelworks.schedules")

#: Most occurrences one catch-up (policy ``all``) fires; older ones are skipped.
MAX_CATCH_UP = 1000
_SCAN_LIMIT = 200_000


def build_trigger(schedule: Schedule) -> Trigger:
    """The trigger of a stored schedule (its validated ``trigger`` mapping)."""
    from modelworks.specs.schedules import CronTriggerSpec, RecurrenceTriggerSpec

    data = schedule.trigger
    model = RecurrenceTriggerSpec if data.get("type") == "recurrence" else CronTriggerSpec
    return model.model_validate(data).build(from_ms(schedule.origin_at))


def first_after(trigger: Trigger, after_ms: int) -> int | None:
    found = trigger.next_after(from_ms(after_ms))
    return to_ms(found) if found is not None else None


def fire_job_name(schedule: Schedule, occurrence: int) -> str:
    """The job of an occurrence: ``<schedule>-<UTC time>-<id>``, unique per occurrence."""
    stamp = from_ms(occurrence).strftime("%Y%m%d-%H%M%S")
    return f"{schedule.name[:200]}-{stamp}-{schedule.id[:4]}"


class Scheduler:
    """Fires the due schedules of one workspace: :meth:`tick` once, or :meth:`run` in a loop.

    ``clock`` returns the current time in seconds since the epoch (tests pass a fast clock);
    ``start_workers`` lets created jobs start a local worker when none is alive.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        clock: Callable[[], float] = time.time,
        poll_s: float = 1.0,
        grace_s: float = 60.0,
        claim_timeout_s: float = 300.0,
        start_workers: bool = True,
    ) -> None:
        self.ws = ws
        self.clock = clock
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.claim_timeout_s = claim_timeout_s
        self.start_workers = start_workers
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._store: TriggerStore | None = None

    @property
    def store(self) -> TriggerStore:
        if self._store is None:
            from modelworks.store.sql.triggers import open_trigger_store

            self._store = open_trigger_store(self.ws, "Schedules")
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- one pass ---------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[ScheduleFire]:
        """Fire every due occurrence (per the policies); returns the fires this call made."""
        now_ms = int((self.clock() if now is None else now) * 1000)
        made: list[ScheduleFire] = []
        # Claims carry wall-clock times (whatever ``clock`` says), so staleness does too.
        stale_before = int(time.time() * 1000) - int(self.claim_timeout_s * 1000)
        for schedule_id, occurrence in self.store.retake_stale_claims(stale_before, self.identity):
            schedule = self.store.get_schedule_by_id(schedule_id)
            if schedule is not None:
                made.append(self._submit(schedule, occurrence, missed=0))
        for schedule in self.store.due_schedules(now_ms):
            try:
                made.extend(self._fire_due(schedule, now_ms))
            except ModelworksError as e:  # one broken schedule must not stop the others
                logger.error("Schedule %s: %s", schedule.name, e.message)
            except Exception:  # idem, with the traceback
                logger.exception("Schedule %s could not be fired", schedule.name)
        return made

    def _due(self, schedule: Schedule, now_ms: int) -> tuple[list[int], int | None]:
        """Occurrences in (last, now] and the first one after ``now``."""
        trigger = build_trigger(schedule)
        current = (
            schedule.last_occurrence_at
            if schedule.last_occurrence_at is not None
            else schedule.origin_at - 1
        )
        due: list[int] = []
        for _ in range(_SCAN_LIMIT):
            found = first_after(trigger, current)
            if found is None or found > now_ms:
                return due, found
            due.append(found)
            if len(due) > MAX_CATCH_UP:
                due.pop(0)
            current = found
        return due, first_after(trigger, current)

    def _fire_due(self, schedule: Schedule, now_ms: int) -> list[ScheduleFire]:
        due, upcoming = self._due(schedule, now_ms)
        if not due:
            self.store.advance(schedule, schedule.last_occurrence_at, upcoming)
            return []
        policy = schedule.missed_policy
        if policy == "all":
            chosen = due
        elif policy == "none":
            late = now_ms - int(self.grace_s * 1000)
            chosen = [o for o in due if o >= late]
        else:
            chosen = due[-1:]
        skipped = len(due) - len(chosen)
        if not chosen:
            self.store.advance(schedule, due[-1], upcoming)
            logger.info("Schedule %s: skipped %d missed occurrence(s)", schedule.name, skipped)
            return []
        made = []
        for i, occurrence in enumerate(chosen):
            following = chosen[i + 1] if i + 1 < len(chosen) else upcoming
            missed = skipped if i == 0 else 0
            if not self.store.claim_fire(
                schedule, occurrence, following, missed=missed, claimed_by=self.identity
            ):
                break  # another scheduler took it (and goes on with the rest)
            schedule.last_occurrence_at = occurrence
            made.append(self._submit(schedule, occurrence, missed=missed))
        return made

    def _submit(self, schedule: Schedule, occurrence: int, *, missed: int) -> ScheduleFire:
        """Create the job of a claimed occurrence and record the outcome."""
        name = fire_job_name(schedule, occurrence)
        fire = ScheduleFire(schedule.name, occurrence, "submitted", job_name=name, missed=missed)
        try:
            try:
                self.ws.jobs.get(name)
            except NotFoundError:
                template = JobTemplate.from_dict(schedule.action)
                spec = template.build(
                    self.ws,
                    name=name,
                    tags={
                        "mw.schedule.name": schedule.name,
                        "mw.schedule.occurrence": from_ms(occurrence).isoformat(),
                    },
                )
                self.ws.jobs.create(spec, start_worker=self.start_workers)
        except AlreadyExistsError:
            pass  # created by a scheduler that took this claim before us
        except Exception as e:  # noqa: BLE001 - a bad job must not stop the scheduler
            message = e.message if isinstance(e, ModelworksError) else f"{type(e).__name__}: {e}"
            fire.state, fire.error, fire.job_name = "failed", message, None
            logger.error("Schedule %s: the job of %s failed: %s", schedule.name, name, message)
        self.store.finish_fire(
            schedule.id, occurrence, state=fire.state, job_name=fire.job_name, error=fire.error
        )
        if fire.state == "submitted":
            logger.info("Schedule %s fired %s", schedule.name, name)
        return fire

    # -- loop -------------------------------------------------------------------------------
    def seconds_to_next(self) -> float:
        """How long to sleep: until the earliest due schedule, at most ``poll_s``."""
        earliest = self.store.earliest_next_fire()
        if earliest is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, earliest / 1000 - self.clock()))

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; errors are logged and retried after ``poll_s``."""
        while not stop.is_set():
            try:
                self.tick()
                wait = self.seconds_to_next()
            except Exception:
                logger.exception("Scheduler pass failed; retrying in %.1f s", self.poll_s)
                wait = self.poll_s
            stop.wait(max(wait, 0.01))


def upcoming(schedule: Schedule, count: int, *, after: datetime | None = None) -> list[datetime]:
    """The next ``count`` occurrences of a schedule after ``after`` (default: now, or its last
    fired occurrence if that is later)."""
    trigger = build_trigger(schedule)
    if after is None:
        after = datetime.now(UTC)
        if schedule.last_occurrence_at is not None:
            after = max(after, from_ms(schedule.last_occurrence_at))
    return trigger.next_occurrences(after, count)
