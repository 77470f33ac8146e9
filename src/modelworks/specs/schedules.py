"""Azure ML CLI v2 schedule YAML (``az ml schedule create -f``) as pydantic models::

    $schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
    name: nightly
    display_name: Nightly retraining
    trigger:
      type: cron                      # or: recurrence
      expression: "30 2 * * *"        # MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK
      start_time: "2026-01-01T00:00:00"
      time_zone: "Pacific Standard Time"
    create_job: ./pipeline.yml        # or {job: ./pipeline.yml, inputs: {lr: 0.1}}, or inline

A recurrence trigger has ``frequency`` (minute, hour, day, week, month), ``interval`` and an
optional ``schedule`` pattern {hours, minutes, week_days, month_days}. ``start_time`` and
``end_time`` without an offset are in ``time_zone`` (Windows or IANA name, default UTC).
``missed_occurrences`` (a modelworks key: ``latest``, ``none`` or ``all``) says what happens to
occurrences that passed while no scheduler was running.

Every problem — a bad cron field, an unknown week day or time zone, an end before the start —
is reported with the file and key path before anything is stored.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelworks.errors import SpecError
from modelworks.schedules.triggers import (
    WEEK_DAYS,
    CronTrigger,
    RecurrenceTrigger,
    Trigger,
    parse_cron,
    resolve_time_zone,
)
from modelworks.specs._loading import load_yaml_file, validate_spec
from modelworks.specs.assets import _check_name, _check_tags

__all__ = [
    "MISSED_POLICIES",
    "SCHEDULE_SCHEMA",
    "CreateJobSpec",
    "CronTriggerSpec",
    "RecurrencePatternSpec",
    "RecurrenceTriggerSpec",
    "ScheduleSpec",
    "load_schedule_spec",
    "schedule_spec_from_dict",
]

SCHEDULE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/schedule.schema.json"
MISSED_POLICIES = ("latest", "none", "all")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _time_text(value: Any) -> Any:
    """YAML may hand a timestamp as a datetime; keep ISO text either way."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    raise ValueError(f"must be an ISO 8601 date-time such as '2026-01-01T02:30:00', got {value!r}")


def _parse_time(text: str, zone_name: str, key: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{key} {text!r} is not an ISO 8601 date-time; write e.g. '2026-01-01T02:30:00' "
            "(in time_zone) or '2026-01-01T10:30:00Z'"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=resolve_time_zone(zone_name))
    return value.astimezone(UTC)


class _TriggerSpec(_Spec):
    start_time: str | None = None
    end_time: str | None = None
    time_zone: str = "UTC"

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        return _time_text(value)

    @field_validator("time_zone", mode="before")
    @classmethod
    def _zone(cls, value: Any) -> Any:
        if value is None:
            return "UTC"
        resolve_time_zone(str(value))
        return str(value)

    @model_validator(mode="after")
    def _window(self) -> _TriggerSpec:
        start = self.start_datetime
        end = self.end_datetime
        if start is not None and end is not None and end <= start:
            raise ValueError(
                f"end_time {self.end_time!r} is not after start_time {self.start_time!r}; "
                "the schedule would never fire"
            )
        return self

    @property
    def start_datetime(self) -> datetime | None:
        if self.start_time is None:
            return None
        return _parse_time(self.start_time, self.time_zone, "start_time")

    @property
    def end_datetime(self) -> datetime | None:
        if self.end_time is None:
            return None
        return _parse_time(self.end_time, self.time_zone, "end_time")

    def build(self, created_at: datetime) -> Trigger:  # pragma: no cover - subclasses
        raise NotImplementedError


class CronTriggerSpec(_TriggerSpec):
    """``type: cron``: a five-field cron expression evaluated in ``time_zone``."""

    type: Literal["cron"] = "cron"
    expression: str

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        parse_cron(value)
        return " ".join(value.split())

    def build(self, created_at: datetime) -> Trigger:
        return CronTrigger(
            time_zone=self.time_zone,
            start=self.start_datetime,
            end=self.end_datetime,
            expression=self.expression,
        )


def _int_list(value: Any, low: int, high: int, what: str) -> Any:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValueError(f"{what} must be whole numbers {low}-{high}, got {item!r}")
        if not low <= item <= high:
            raise ValueError(f"{what} must be between {low} and {high}, got {item}")
        out.append(item)
    return out


class RecurrencePatternSpec(_Spec):
    """``trigger.schedule``: the times (hours x minutes) on the chosen days."""

    hours: list[int] = Field(default_factory=list)
    minutes: list[int] = Field(default_factory=list)
    week_days: list[str] = Field(default_factory=list)
    month_days: list[int] = Field(default_factory=list)

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        return [] if value is None else _int_list(value, 0, 23, "hours")

    @field_validator("minutes", mode="before")
    @classmethod
    def _minutes(cls, value: Any) -> Any:
        return [] if value is None else _int_list(value, 0, 59, "minutes")

    @field_validator("month_days", mode="before")
    @classmethod
    def _month_days(cls, value: Any) -> Any:
        return [] if value is None else _int_list(value, 1, 31, "month_days")

    @field_validator("week_days", mode="before")
    @classmethod
    def _week_days(cls, value: Any) -> Any:
        if value is None:
            return []
        out = []
        for item in value if isinstance(value, list) else [value]:
            text = str(item).strip().lower()
            if text not in WEEK_DAYS:
                raise ValueError(f"unknown week day {item!r}; use one of {', '.join(WEEK_DAYS)}")
            out.append(text)
        return out


class RecurrenceTriggerSpec(_TriggerSpec):
    """``type: recurrence``: every ``interval`` units of ``frequency``, optionally at a pattern."""

    type: Literal["recurrence"] = "recurrence"
    frequency: Literal["minute", "hour", "day", "week", "month"]
    interval: int = Field(ge=1)
    schedule: RecurrencePatternSpec | None = None

    @field_validator("frequency", mode="before")
    @classmethod
    def _frequency(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pattern(self) -> RecurrenceTriggerSpec:
        pattern = self.schedule
        if pattern is None:
            return self
        if self.frequency in ("minute", "hour"):
            raise ValueError(
                f"a schedule pattern (hours, minutes, week_days) needs frequency day, week or "
                f"month, not {self.frequency!r}; drop 'schedule' or change the frequency"
            )
        if self.frequency == "day" and (pattern.week_days or pattern.month_days):
            raise ValueError(
                "with frequency day the pattern takes only hours and minutes; use frequency "
                "week for week_days or month for month_days"
            )
        if self.frequency == "week" and pattern.month_days:
            raise ValueError("month_days needs frequency month, not week")
        return self

    def build(self, created_at: datetime) -> Trigger:
        pattern = self.schedule or RecurrencePatternSpec()
        return RecurrenceTrigger(
            time_zone=self.time_zone,
            start=self.start_datetime or created_at,
            end=self.end_datetime,
            frequency=self.frequency,
            interval=self.interval,
            hours=tuple(pattern.hours),
            minutes=tuple(pattern.minutes),
            week_days=tuple(pattern.week_days),
            month_days=tuple(pattern.month_days),
        )


class CreateJobSpec(_Spec):
    """``create_job: {job: ./pipeline.yml, inputs: {...}, settings: {...}}``: a job file (or
    an ``azureml:`` job reference) with overrides applied at each fire."""

    job: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    experiment_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None

    @field_validator("inputs", "outputs", "settings", "tags", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return _check_tags(value)

    def overrides(self) -> dict[str, Any]:
        """The keys set on the job mapping at each fire."""
        out: dict[str, Any] = {}
        for key in ("inputs", "outputs", "settings", "tags"):
            if getattr(self, key):
                out[key] = dict(getattr(self, key))
        for key in ("experiment_name", "display_name", "description", "compute"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


TriggerSpec = Annotated[CronTriggerSpec | RecurrenceTriggerSpec, Field(discriminator="type")]


class ScheduleSpec(_Spec):
    """A schedule: a name, a trigger and the job to create at each occurrence."""

    spec_kind: ClassVar[str] = "schedule"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str
    display_name: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    trigger: TriggerSpec
    create_job: str | CreateJobSpec | dict[str, Any]
    missed_occurrences: Literal["latest", "none", "all"] = "latest"
    is_enabled: bool = True

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return _check_name("schedule", value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("trigger", mode="before")
    @classmethod
    def _trigger_type(cls, value: Any) -> Any:
        if isinstance(value, dict):
            kind = value.get("type")
            if kind is None:
                raise ValueError("needs 'type: cron' (with expression) or 'type: recurrence'")
            if isinstance(kind, str) and kind.lower() in ("cron", "recurrence"):
                return {**value, "type": kind.lower()}
        return value

    @field_validator("create_job", mode="before")
    @classmethod
    def _create_job(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("must be a job file path, an inline job or azureml:<job name>")
            return value.strip()
        if isinstance(value, dict):
            if "job" in value:
                return CreateJobSpec.model_validate(value)
            if "type" not in value and "command" not in value:
                raise ValueError(
                    "an inline job needs 'type' (command, sweep, pipeline...); or write "
                    "{job: ./job.yml, inputs: {...}} to point at a job file"
                )
            return value
        raise ValueError(
            f"must be a job file path, an inline job mapping or {{job: ..., inputs: ...}}, got "
            f"{type(value).__name__}"
        )

    def build_trigger(self, created_at: datetime) -> Trigger:
        return self.trigger.build(created_at)


def schedule_spec_from_dict(
    data: dict[str, Any], *, source: str = "<schedule>", base_dir: str | None = None
) -> ScheduleSpec:
    """Validate a schedule mapping; SpecError with file and key paths otherwise."""
    from modelworks.specs.jobs import _check_keys

    if not isinstance(data, dict):
        raise SpecError(f"{source}: a schedule is a mapping of keys, got {type(data).__name__}.")
    trigger = data.get("trigger")
    if isinstance(trigger, dict):
        kind = str(trigger.get("type", "")).lower()
        model = RecurrenceTriggerSpec if kind == "recurrence" else CronTriggerSpec
        _check_keys(model, trigger, ("trigger",), source)
    spec = validate_spec(ScheduleSpec, data, source=source, base_dir=base_dir)
    return spec


def load_schedule_spec(path: str | os.PathLike[str]) -> ScheduleSpec:
    """Load and validate a schedule YAML file (nothing is stored yet)."""
    source = os.fspath(path)
    return schedule_spec_from_dict(load_yaml_file(source), source=source)
