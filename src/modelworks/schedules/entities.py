"""What ``ws.schedules`` returns: a schedule and the record of each occurrence it fired."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

__all__ = ["Schedule", "ScheduleFire", "from_ms", "to_ms"]


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return round(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    """The UTC datetime of milliseconds since the epoch."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)


@dataclasses.dataclass
class ScheduleFire:
    """One occurrence a scheduler took: ``state`` is ``claimed`` (the job is being created),
    ``submitted`` (``job_name`` exists) or ``failed`` (``error`` says why). ``missed`` counts the
    earlier occurrences skipped under the ``latest``/``none`` policies."""

    schedule_name: str
    occurrence_at: int
    state: str
    job_name: str | None = None
    error: str | None = None
    missed: int = 0
    claimed_by: str = ""
    claimed_at: int = 0
    finished_at: int | None = None

    @property
    def occurrence(self) -> datetime:
        return from_ms(self.occurrence_at)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["occurrence"] = self.occurrence.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScheduleFire:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass
class Schedule:
    """A stored schedule. ``trigger`` is the validated trigger mapping; ``action`` names the
    snapshotted job definition; ``last_occurrence_at`` / ``next_fire_at`` are epoch ms."""

    id: str
    name: str
    display_name: str | None
    description: str
    tags: dict[str, str]
    trigger: dict[str, Any]
    action: dict[str, Any]
    spec: dict[str, Any]
    missed_policy: str
    enabled: bool
    origin_at: int
    last_occurrence_at: int | None
    next_fire_at: int | None
    created_at: int
    updated_at: int
    recent_fires: list[ScheduleFire] = dataclasses.field(default_factory=list)

    @property
    def is_enabled(self) -> bool:
        return self.enabled

    @property
    def next_fire(self) -> datetime | None:
        return from_ms(self.next_fire_at) if self.next_fire_at is not None else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "recent_fires"}
        out["next_fire"] = self.next_fire.isoformat() if self.next_fire else None
        out["recent_fires"] = [f.to_dict() for f in self.recent_fires]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        names = {f.name for f in dataclasses.fields(cls)} - {"recent_fires"}
        fires = [ScheduleFire.from_dict(f) for f in data.get("recent_fires") or []]
        return cls(**{k: v for k, v in data.items() if k in names}, recent_fires=fires)
