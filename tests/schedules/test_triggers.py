"""Trigger maths: cron fields, recurrences, time zones and daylight-saving days."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from modelworks.schedules._windows_zones import WINDOWS_ZONES
from modelworks.schedules.triggers import (
    CronTrigger,
    RecurrenceTrigger,
    parse_cron,
    resolve_time_zone,
)

LA = ZoneInfo("America/Los_Angeles")


def _local(times: list[datetime], zone: ZoneInfo = LA) -> list[str]:
    return [t.astimezone(zone).strftime("%m-%d %H:%M %Z") for t in times]


def test_daily_0230_fires_once_on_both_dst_days() -> None:
    trigger = CronTrigger(expression="30 2 * * *", time_zone="Pacific Standard Time")
    spring = trigger.next_occurrences(datetime(2026, 3, 7, 12, tzinfo=UTC), 3)
    # 02:30 does not exist on 8 March: it fires once, an hour later on the wall clock.
    assert _local(spring) == ["03-08 03:30 PDT", "03-09 02:30 PDT", "03-10 02:30 PDT"]
    fall = trigger.next_occurrences(datetime(2026, 10, 31, 12, tzinfo=UTC), 3)
    assert _local(fall) == ["11-01 02:30 PST", "11-02 02:30 PST", "11-03 02:30 PST"]
    # 01:30 happens twice on 1 November: it fires the first time only.
    early = CronTrigger(expression="30 1 * * *", time_zone="America/Los_Angeles")
    once = early.next_occurrences(datetime(2026, 11, 1, 7, tzinfo=UTC), 2)
    assert _local(once) == ["11-01 01:30 PDT", "11-02 01:30 PST"]


@pytest.mark.parametrize(
    ("day", "count"), [(datetime(2026, 3, 8), 23), (datetime(2026, 11, 1), 24)]
)
def test_hourly_cron_never_fires_an_instant_twice_on_dst_days(day: datetime, count: int) -> None:
    trigger = CronTrigger(expression="30 * * * *", time_zone="America/Los_Angeles")
    start = day.replace(tzinfo=LA)
    end = (day + timedelta(days=1)).replace(tzinfo=LA)
    times = [t for t in trigger.next_occurrences(start, 30) if t < end]
    assert len(times) == count
    assert all(b > a for a, b in itertools.pairwise(times))


def test_cron_fields_lists_ranges_steps_names_and_day_or_rule() -> None:
    cron = parse_cron("*/15 9-17/4 1,15 jan-mar MON")
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (9, 13, 17)
    assert cron.months == (1, 2, 3)
    assert cron.week_days == (1,)
    # Both day fields restricted: a day matches either (1st, 15th, or a Monday).
    trigger = CronTrigger(expression="0 12 1 * 1")
    times = trigger.next_occurrences(datetime(2026, 6, 1, tzinfo=UTC), 4)
    assert [t.strftime("%a %d") for t in times] == ["Mon 01", "Mon 08", "Mon 15", "Mon 22"]
    assert parse_cron("0 0 * * 7").week_days == (0,)  # 7 is Sunday too


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("60 * * * *", "minute field: 60 is out of range 0-59"),
        ("* 24 * * *", "hour field: 24"),
        ("* * 0 * *", "day of month field: 0"),
        ("* * * 13 *", "month field: 13"),
        ("* * * * 8", "day of week field: 8"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "goes backwards"),
        ("* * * *", "has 4 fields"),
        ("a * * * *", "not a number"),
    ],
)
def test_bad_cron_fields_are_named(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_cron_window_and_impossible_dates() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
    trigger = CronTrigger(expression="* * * * *", start=start, end=end)
    assert [t.minute for t in trigger.next_occurrences(start - timedelta(days=1), 10)] == [
        0,
        1,
        2,
        3,
    ]
    assert CronTrigger(expression="0 0 30 2 *").next_after(start) is None


def test_recurrences() -> None:
    start = datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
    every_5 = RecurrenceTrigger(frequency="minute", interval=5, start=start)
    assert every_5.next_after(start) == start + timedelta(minutes=5)
    assert every_5.next_after(start - timedelta(days=3)) == start
    weekly = RecurrenceTrigger(
        frequency="week",
        interval=2,
        start=datetime(2026, 1, 1, tzinfo=UTC),  # a Thursday
        hours=[9],
        minutes=[0, 30],
        week_days=["monday", "friday"],
    )
    times = weekly.next_occurrences(datetime(2026, 1, 1, tzinfo=UTC), 6)
    assert [t.strftime("%a %d %H:%M") for t in times] == [
        "Fri 02 09:00",
        "Fri 02 09:30",
        "Mon 12 09:00",
        "Mon 12 09:30",
        "Fri 16 09:00",
        "Fri 16 09:30",
    ]
    monthly = RecurrenceTrigger(
        frequency="month", interval=1, start=datetime(2026, 1, 31, tzinfo=UTC)
    )
    assert [t.month for t in monthly.next_occurrences(start, 3)] == [1, 3, 5]  # no 31 Feb/Apr
    days = RecurrenceTrigger(
        frequency="month", interval=1, start=datetime(2026, 1, 1, tzinfo=UTC), month_days=[1, 15]
    )
    assert [t.day for t in days.next_occurrences(start, 3)] == [15, 1, 15]
    # A daily recurrence keeps its wall-clock time across the DST change.
    daily = RecurrenceTrigger(
        frequency="day",
        interval=1,
        start=datetime(2026, 3, 7, 9, tzinfo=LA),
        time_zone="America/Los_Angeles",
    )
    assert _local(daily.next_occurrences(datetime(2026, 3, 7, tzinfo=UTC), 3)) == [
        "03-07 09:00 PST",
        "03-08 09:00 PDT",
        "03-09 09:00 PDT",
    ]


def test_every_windows_zone_of_the_table_resolves() -> None:
    for windows, iana in WINDOWS_ZONES.items():
        assert resolve_time_zone(windows).key == iana
        assert resolve_time_zone(windows.lower()).key == iana
    assert resolve_time_zone("UTC").key == "Etc/UTC"
    with pytest.raises(ValueError, match="unknown time zone 'Nowhere/Land'"):
        resolve_time_zone("Nowhere/Land")
