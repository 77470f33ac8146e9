"""``ws.schedules``: create, inspect, pause and delete schedules (``az ml schedule``).

Creating a schedule validates its YAML and its job, snapshots the job's folder into the blob
store and stores the trigger; the scheduler inside ``modelworks server`` / ``modelworks up``
fires it. Through a server URL the YAML is validated and the snapshot uploaded here, and the
server stores the schedule. :meth:`ScheduleOperations.trigger_due` runs one scheduler pass in
this process (for scripts and tests on a workspace folder without a server).
"""

from __future__ import annotations

import builtins
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import now_ms
from modelworks.errors import SpecError
from modelworks.schedules.entities import Schedule, ScheduleFire, to_ms
from modelworks.schedules.scheduler import Scheduler, build_trigger, first_after, upcoming
from modelworks.schedules.template import capture_job

if TYPE_CHECKING:
    from modelworks.specs.schedules import ScheduleSpec
    from modelworks.store.rest.triggers import RestSchedules
    from modelworks.store.sql.triggers import TriggerStore
    from modelworks.workspace import Workspace

__all__ = ["ScheduleOperations", "check_schedule_values", "set_enabled"]

RECENT_FIRES = 20


def set_enabled(store: TriggerStore, name: str, enabled: bool) -> Schedule:
    """Disable a schedule, or enable it from the next occurrence after now (the occurrences
    of its disabled time are never fired)."""
    if not enabled:
        return store.update_schedule(name, enabled=False)
    schedule = store.get_schedule(name)
    now = now_ms()
    last = max(schedule.last_occurrence_at or now, now)
    return store.update_schedule(
        name,
        enabled=True,
        last_occurrence_at=last,
        next_fire_at=first_after(build_trigger(schedule), last),
    )


def check_schedule_values(values: dict[str, Any]) -> dict[str, Any]:
    """Re-validate what a client sends to create a schedule (the server trusts nothing)."""
    from modelworks.errors import InvalidInputError
    from modelworks.schedules.template import JobTemplate
    from modelworks.specs.schedules import MISSED_POLICIES

    allowed = {
        "name", "display_name", "description", "tags", "trigger", "action", "spec",
        "missed_policy", "enabled", "origin_at", "last_occurrence_at", "next_fire_at",
    }  # fmt: skip
    unknown = set(values) - allowed
    if unknown or not isinstance(values.get("trigger"), dict):
        raise InvalidInputError(f"Not a schedule: unexpected keys {sorted(unknown)} or no trigger.")
    if values.get("missed_policy") not in MISSED_POLICIES:
        raise InvalidInputError(f"missed_policy must be one of {', '.join(MISSED_POLICIES)}.")
    probe = Schedule(
        id="",
        created_at=0,
        updated_at=0,
        **{k: values.get(k) for k in allowed},  # type: ignore[arg-type]
    )
    try:
        build_trigger(probe)
        JobTemplate.from_dict(dict(values.get("action") or {}))
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"Invalid schedule {values.get('name')!r}: {e}") from e
    return values


class ScheduleOperations:
    """Schedules of one workspace (a local folder or a PostgreSQL-backed one)."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._store_: TriggerStore | RestSchedules | None = None

    @property
    def _store(self) -> TriggerStore | RestSchedules:
        if self._store_ is None:
            if self._ws.is_remote:
                from modelworks.store.rest.triggers import RestSchedules

                self._store_ = RestSchedules(self._ws.meta)
            else:
                from modelworks.store.sql.triggers import open_trigger_store

                self._store_ = open_trigger_store(self._ws, "Schedules")
        return self._store_

    def create(self, schedule: ScheduleSpec | str | os.PathLike[str]) -> Schedule:
        """Store a schedule from a YAML path or a :class:`ScheduleSpec` (whose relative paths
        resolve against the current folder). Its job is validated and snapshotted now."""
        from modelworks.specs._loading import load_yaml_file
        from modelworks.specs.schedules import CreateJobSpec, schedule_spec_from_dict

        if isinstance(schedule, str | os.PathLike):
            source = os.fspath(schedule)
            spec = schedule_spec_from_dict(load_yaml_file(source), source=source)
            base_dir = str(Path(source).resolve().parent)
        else:
            spec, source, base_dir = schedule, f"schedule {schedule.name!r}", os.getcwd()
        created = datetime.now(UTC).replace(microsecond=0)
        trigger = spec.build_trigger(created)
        first = trigger.next_after(created - timedelta(milliseconds=1))
        if first is None:
            raise SpecError(
                f"{source}: trigger never fires (its end_time has passed or its expression "
                "matches no date); fix trigger.end_time or trigger.expression."
            )
        action = spec.create_job
        if isinstance(action, CreateJobSpec):
            job: str | dict[str, Any] = action.job
            overrides = action.overrides()
        else:
            job, overrides = action, {}
        template = capture_job(
            self._ws,
            job,
            base_dir=base_dir,
            overrides=overrides,
            source=source,
            default_experiment=spec.name,
        )
        return self._store.create_schedule(
            {
                "name": spec.name,
                "display_name": spec.display_name,
                "description": spec.description,
                "tags": dict(spec.tags),
                "trigger": spec.trigger.model_dump(mode="json"),
                "action": template.to_dict(),
                "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                "missed_policy": spec.missed_occurrences,
                "enabled": spec.is_enabled,
                "origin_at": to_ms(created),
                "last_occurrence_at": None,
                "next_fire_at": to_ms(first),
            }
        )

    def get(self, name: str) -> Schedule:
        """A schedule with its most recent fires; NotFoundError naming similar ones."""
        return self._store.get_schedule(name, fires=RECENT_FIRES)

    def list(self) -> builtins.list[Schedule]:
        return self._store.list_schedules()

    def list_fires(
        self, name: str, *, max_results: int = RECENT_FIRES
    ) -> builtins.list[ScheduleFire]:
        """The occurrences a schedule fired, newest first, with their jobs."""
        return self._store.list_fires(name, limit=max_results)

    def disable(self, name: str) -> Schedule:
        """Stop firing; occurrences while disabled are never fired later."""
        return self._set_enabled(name, False)

    def enable(self, name: str) -> Schedule:
        """Fire again from the next occurrence after now."""
        return self._set_enabled(name, True)

    def _set_enabled(self, name: str, enabled: bool) -> Schedule:
        from modelworks.store.rest.triggers import RestSchedules

        store = self._store
        if isinstance(store, RestSchedules):
            return store.set_enabled(name, enabled)
        return set_enabled(store, name, enabled)

    def delete(self, name: str) -> None:
        """Delete a schedule and its fire records (the jobs it created stay)."""
        self._store.delete_schedule(name)

    def next_occurrences(self, name: str, *, count: int = 5) -> builtins.list[datetime]:
        """The next ``count`` times (UTC) the schedule fires, if it stays enabled."""
        return upcoming(self._store.get_schedule(name), count)

    def trigger_due(self, **options: Any) -> builtins.list[ScheduleFire]:
        """Run one scheduler pass here: fire what is due now (``Scheduler`` options apply).
        Needs a workspace folder (through a URL, the server's own scheduler fires)."""
        scheduler = Scheduler(self._ws, **options)
        try:
            return scheduler.tick()
        finally:
            scheduler.close()
