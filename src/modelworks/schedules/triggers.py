"""When a schedule fires: cron expressions and Azure-style recurrences, in a time zone.

Both triggers walk *wall-clock* times in the schedule's zone and turn each into one instant,
so daylight saving behaves as people expect:

- a wall-clock time that does not exist (spring forward, e.g. 02:30 in Los Angeles on the
  second Sunday of March) fires once, at the same offset from the start of the gap (03:30);
- a wall-clock time that happens twice (fall back) fires once, the first time;
- occurrences are strictly increasing instants, so a time that lands on an instant already
  fired (an hourly job shifted out of the gap) is not fired twice.

``next_after(t)`` is the first occurrence strictly after ``t``; every datetime in and out is
timezone-aware (results are in UTC). The cron dialect is the classic five fields (minute,
hour, day of month, month, day of week) with ``*``, lists, ranges, steps and names; when both
day fields are restricted a day matches either, as in Vixie cron.
"""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modelworks.schedules._windows_zones import WINDOWS_ZONES

__all__ = [
    "FREQUENCIES",
    "WEEK_DAYS",
    "CronExpression",
    "CronTrigger",
    "RecurrenceTrigger",
    "Trigger",
    "parse_cron",
    "resolve_time_zone",
]

FREQUENCIES = ("minute", "hour", "day", "week", "month")
#: Azure's week day names, Monday first (``datetime.weekday()`` order).
WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_NAMES = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DOW_NAMES = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_SEARCH_DAYS = 366 * 8  # longer than any valid expression needs (29 Feb on a Monday: 28 years
# would be the worst case, but day fields match *either*, so 8 years covers every pattern)
#: How far before ``after`` (wall clock) candidates start: more than any DST shift.
_LOOKBACK = timedelta(hours=2)
_LOWER_WINDOWS = {k.lower(): v for k, v in WINDOWS_ZONES.items()}


def resolve_time_zone(name: str) -> ZoneInfo:
    """A zone from a Windows name ("Pacific Standard Time", Azure's style) or an IANA name
    ("America/Los_Angeles"); ValueError naming both forms otherwise."""
    text = (name or "").strip()
    iana = _LOWER_WINDOWS.get(text.lower(), text)
    if iana.upper() in ("UTC", "Z", "GMT"):
        iana = "Etc/UTC"
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use a Windows name as Azure ML does (e.g. 'Pacific "
            "Standard Time', 'W. Europe Standard Time', 'UTC') or an IANA name (e.g. "
            "'America/Los_Angeles', 'Europe/Berlin')"
        ) from None


# ----------------------------------------------------------------------------------- cron


@dataclasses.dataclass(frozen=True)
class CronExpression:
    """The parsed fields of a five-field cron expression (sorted allowed values)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    week_days: tuple[int, ...]  # 0 = Sunday
    day_restricted: bool
    week_day_restricted: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.week_days
        if self.day_restricted and self.week_day_restricted:
            return in_days or in_week
        return in_days and in_week


_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day of week", 0, 7, _DOW_NAMES),
)


def _value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    key = text.lower()
    if key in names:
        return names[key]
    if not text.isdigit():
        known = f" or a name ({', '.join(n.upper() for n in names)})" if names else ""
        raise ValueError(f"{field} field: {text!r} is not a number {low}-{high}{known}")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{field} field: {number} is out of range {low}-{high}")
    return number


def _parse_field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{field} field: empty list item in {text!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{field} field: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(first, field, low, high, names)
            end = _value(last, field, low, high, names)
            if end < start:
                raise ValueError(f"{field} field: range {base!r} goes backwards")
        else:
            start = _value(base, field, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return values


@functools.lru_cache(maxsize=256)
def parse_cron(expression: str) -> CronExpression:
    """Parse ``MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK``; ValueError names the bad field."""
    parts = str(expression).split()
    if len(parts) != 5:
        raise ValueError(
            f"cron expression {expression!r} has {len(parts)} fields; expected 5: "
            "'MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK', e.g. '30 2 * * *' (02:30 every day)"
        )
    parsed = [
        _parse_field(text, field, low, high, names)
        for text, (field, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    week_days = {d % 7 for d in parsed[4]}
    return CronExpression(
        minutes=tuple(sorted(parsed[0])),
        hours=tuple(sorted(parsed[1])),
        days=tuple(sorted(parsed[2])),
        months=tuple(sorted(parsed[3])),
        week_days=tuple(sorted(week_days)),
        day_restricted=parts[2] != "*",
        week_day_restricted=parts[4] != "*",
    )


# ------------------------------------------------------------------------------- triggers


def _instant(local: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of a naive wall-clock time (fold=0: a gap time moves forward by the
    gap, a repeated time is its first pass)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class Trigger:
    """Common part of both triggers: the zone and the [start, end] window."""

    time_zone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        return resolve_time_zone(self.time_zone)

    def _candidates(self, after: datetime) -> Iterator[datetime]:
        """Naive local times in increasing order, starting at or before the first one after
        ``after`` (subclasses)."""
        raise NotImplementedError

    def _wall_start(self, after: datetime) -> datetime:
        """The naive wall-clock time to start candidates from: ``after``'s own, or a little
        earlier when the offset changed just before (a time in a spring-forward gap maps to a
        later instant, so it may still be ahead)."""
        zone = self.zone
        here = after.astimezone(zone)
        if (after - _LOOKBACK).astimezone(zone).utcoffset() != here.utcoffset():
            return here.replace(tzinfo=None) - _LOOKBACK
        return here.replace(tzinfo=None)

    def next_after(self, after: datetime) -> datetime | None:
        """The first occurrence strictly after ``after`` (UTC), or None when there is none."""
        after = _require_aware(after, "after")
        if self.start is not None and after < self.start:
            after = self.start - timedelta(microseconds=1)
        zone = self.zone
        for local in self._candidates(after):
            instant = _instant(local, zone)
            if self.end is not None and instant > self.end:
                return None
            if instant > after:
                return instant
        return None

    def next_occurrences(self, after: datetime, count: int = 5) -> list[datetime]:
        """The next ``count`` occurrences after ``after``."""
        out: list[datetime] = []
        current: datetime | None = after
        while len(out) < count and current is not None:
            current = self.next_after(current)
            if current is not None:
                out.append(current)
        return out


@dataclasses.dataclass(frozen=True)
class CronTrigger(Trigger):
    """``type: cron``: fires at the wall-clock times an expression names."""

    expression: str = "* * * * *"

    def _candidates(self, after: datetime) -> Iterator[datetime]:
        cron = parse_cron(self.expression)
        local = self._wall_start(after)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if cron.matches_day(day):
                first_day = day == local.date()
                for hour in cron.hours:
                    if first_day and hour < local.hour:
                        continue
                    for minute in cron.minutes:
                        candidate = datetime(day.year, day.month, day.day, hour, minute)
                        if candidate >= local:
                            yield candidate
            day += timedelta(days=1)


def _add_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + (day.month - 1) + months
    return index // 12, index % 12 + 1


@dataclasses.dataclass(frozen=True)
class RecurrenceTrigger(Trigger):
    """``type: recurrence``: every ``interval`` minutes/hours/days/weeks/months from ``start``
    (required here: the schedule stores its creation time when the YAML has none), optionally
    at the ``hours`` x ``minutes`` of a pattern on some ``week_days`` / ``month_days``."""

    frequency: str = "day"
    interval: int = 1
    hours: Sequence[int] = ()
    minutes: Sequence[int] = ()
    week_days: Sequence[str] = ()
    month_days: Sequence[int] = ()

    @property
    def has_pattern(self) -> bool:
        return bool(self.hours or self.minutes or self.week_days or self.month_days)

    def _origin(self) -> datetime:
        if self.start is None:
            raise ValueError("a recurrence needs a start time")
        return self.start.astimezone(self.zone).replace(tzinfo=None)

    def next_after(self, after: datetime) -> datetime | None:
        if self.frequency in ("minute", "hour"):
            return self._next_fixed(_require_aware(after, "after"))
        return super().next_after(after)

    def _next_fixed(self, after: datetime) -> datetime | None:
        """Minute and hour recurrences step in absolute time (DST does not bend them)."""
        assert self.start is not None
        step = timedelta(minutes=self.interval * (60 if self.frequency == "hour" else 1))
        start = self.start.astimezone(UTC)
        found = start if after < start else start + step * ((after - start) // step + 1)
        if self.end is not None and found > self.end:
            return None
        return found

    def _times(self, origin: datetime) -> list[tuple[int, int, int]]:
        if not self.has_pattern:
            return [(origin.hour, origin.minute, origin.second)]
        hours = sorted(set(self.hours)) or [origin.hour]
        minutes = sorted(set(self.minutes)) or [origin.minute]
        return [(h, m, 0) for h in hours for m in minutes]

    def _days_of_period(self, origin: datetime, index: int) -> list[date]:
        """The days of period ``index`` (0 = the period holding ``start``) that may fire."""
        first = origin.date()
        if self.frequency == "day":
            return [first + timedelta(days=index * self.interval)]
        if self.frequency == "week":
            monday = (
                first - timedelta(days=first.weekday()) + timedelta(weeks=index * self.interval)
            )
            wanted = [WEEK_DAYS.index(d) for d in self.week_days] or [first.weekday()]
            return [monday + timedelta(days=d) for d in sorted(set(wanted))]
        year, month = _add_months(first, index * self.interval)
        length = calendar.monthrange(year, month)[1]
        if self.month_days:
            return [date(year, month, d) for d in sorted(set(self.month_days)) if d <= length]
        if self.week_days:
            chosen = {WEEK_DAYS.index(d) for d in self.week_days}
            return [
                date(year, month, d)
                for d in range(1, length + 1)
                if date(year, month, d).weekday() in chosen
            ]
        return [date(year, month, first.day)] if first.day <= length else []

    def _period_index(self, origin: datetime, local: datetime) -> int:
        if self.frequency == "day":
            return (local.date() - origin.date()).days // self.interval
        if self.frequency == "week":
            weeks = (local.date() - origin.date()).days // 7
            return weeks // self.interval
        months = (local.year - origin.year) * 12 + local.month - origin.month
        return months // self.interval

    def _candidates(self, after: datetime) -> Iterator[datetime]:
        origin = self._origin()
        local = self._wall_start(after)
        index = max(0, self._period_index(origin, local) - 1)
        times = self._times(origin)
        floor = origin.replace(microsecond=0)
        for offset in range(index, index + _SEARCH_DAYS):
            for day in self._days_of_period(origin, offset):
                skip = 0
                if day == local.date():
                    skip = bisect.bisect_left(times, (local.hour, local.minute, local.second))
                elif day < local.date():
                    continue
                for hour, minute, second in times[skip:]:
                    candidate = datetime(day.year, day.month, day.day, hour, minute, second)
                    if candidate >= local and candidate >= floor:
                        yield candidate
