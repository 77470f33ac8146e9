"""Azure schedule YAML: what loads, and each problem reported with file and key path."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelworks.errors import SpecError
from modelworks.specs.schedules import (
    CreateJobSpec,
    CronTriggerSpec,
    RecurrenceTriggerSpec,
    load_schedule_spec,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedule.yml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _load(tmp_path: Path, text: str) -> object:
    return load_schedule_spec(_write(tmp_path, text))


def test_cron_schedule_with_windows_time_zone_and_create_job_overrides(tmp_path: Path) -> None:
    spec = load_schedule_spec(
        _write(
            tmp_path,
            """
            $schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
            name: nightly
            display_name: Nightly
            tags: {team: ml, priority: 1}
            trigger:
              type: cron
              expression: "30  2 * * *"
              start_time: "2026-01-01T00:00:00"
              end_time: 2026-12-31T00:00:00
              time_zone: Pacific Standard Time
            create_job:
              job: ./pipeline.yml
              inputs: {lr: 0.1}
              settings: {force_rerun: true}
            """,
        )
    )
    assert isinstance(spec.trigger, CronTriggerSpec)
    assert spec.trigger.expression == "30 2 * * *"
    assert spec.tags == {"team": "ml", "priority": "1"}
    # A start time without an offset is in the schedule's zone (PST is UTC-8 in January).
    assert spec.trigger.start_datetime == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert isinstance(spec.create_job, CreateJobSpec)
    assert spec.create_job.overrides() == {
        "inputs": {"lr": 0.1},
        "settings": {"force_rerun": True},
    }
    assert spec.missed_occurrences == "latest"


def test_recurrence_with_pattern_and_iana_zone(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
        name: weekly
        trigger:
          type: recurrence
          frequency: week
          interval: 2
          schedule: {hours: [9, 17], minutes: 0, week_days: [Monday, friday]}
          time_zone: Europe/Berlin
        create_job: ./job.yml
        missed_occurrences: all
        """,
    )
    trigger = spec.trigger  # type: ignore[attr-defined]
    assert isinstance(trigger, RecurrenceTriggerSpec)
    assert trigger.schedule is not None
    assert trigger.schedule.hours == [9, 17]
    assert trigger.schedule.minutes == [0]
    assert trigger.schedule.week_days == ["monday", "friday"]
    assert spec.create_job == "./job.yml"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("{type: cron, expression: '61 2 * * *'}", ["trigger.cron.expression", "minute", "61"]),
        ("{type: cron, expression: '0 2 * *'}", ["trigger.cron.expression", "5"]),
        ("{type: cron, expression: '0 2 * * funday'}", ["day of week", "funday"]),
        (
            "{type: recurrence, frequency: week, interval: 1, schedule: {week_days: [someday]}}",
            ["trigger.recurrence.schedule.week_days", "someday", "monday"],
        ),
        (
            "{type: cron, expression: '0 2 * * *', time_zone: Mars Standard Time}",
            ["time_zone", "Mars Standard Time", "Pacific Standard Time"],
        ),
        (
            "{type: cron, expression: '0 2 * * *', start_time: '2026-02-01T00:00:00', "
            "end_time: '2026-01-01T00:00:00'}",
            ["end_time", "start_time", "never fire"],
        ),
        (
            "{type: recurrence, frequency: minute, interval: 5, schedule: {hours: [1]}}",
            ["frequency day, week or month"],
        ),
        ("{type: recurrence, frequency: fortnight, interval: 1}", ["frequency", "fortnight"]),
        ("{type: recurrence, frequency: day, interval: 0}", ["interval"]),
        ("{type: cron, expression: '0 2 * * *', start_time: 'tomorrow'}", ["start_time", "ISO"]),
        ("{expression: '0 2 * * *'}", ["trigger", "type: cron"]),
    ],
)
def test_bad_triggers_name_the_file_and_key(
    tmp_path: Path, trigger: str, expected: list[str]
) -> None:
    path = _write(tmp_path, f"name: s\ntrigger: {trigger}\ncreate_job: ./job.yml\n")
    with pytest.raises(SpecError) as info:
        load_schedule_spec(path)
    message = info.value.message
    assert str(path) in message
    for part in expected:
        assert part in message


def test_missing_create_job_and_bad_inline_job(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="create_job: required key is missing"):
        _load(tmp_path, "name: s\ntrigger: {type: cron, expression: '* * * * *'}\n")
    with pytest.raises(SpecError, match="inline job needs 'type'"):
        _load(
            tmp_path,
            "name: s\ntrigger: {type: cron, expression: '* * * * *'}\ncreate_job: {inputs: {}}\n",
        )


def test_unknown_nested_key_warns_with_a_hint(tmp_path: Path) -> None:
    from modelworks.specs import SpecWarning

    with pytest.warns(SpecWarning, match="timezone.*time_zone"):
        _load(
            tmp_path,
            """
            name: s
            trigger: {type: cron, expression: '* * * * *', timezone: UTC}
            create_job: ./job.yml
            """,
        )
