"""``modelworks schedule ...``: cron and recurrence schedules that create jobs (``az ml
schedule``). The scheduler runs inside ``modelworks server`` / ``modelworks up``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelworks.cli._common import (
    Output,
    OutputOpt,
    emit,
    fmt_time,
    kv_table,
    print_renderable,
    rows_table,
    say,
    workspace,
)

if TYPE_CHECKING:
    from modelworks.schedules.entities import Schedule

app = typer.Typer(
    help="Schedules: create jobs on a cron expression or a recurrence, in a time zone.",
    no_args_is_help=True,
)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Schedule name.")]


def _trigger_text(schedule: Schedule) -> str:
    trigger = schedule.trigger
    zone = trigger.get("time_zone") or "UTC"
    if trigger.get("type") == "cron":
        return f"cron '{trigger.get('expression')}' ({zone})"
    text = f"every {trigger.get('interval')} {trigger.get('frequency')}(s)"
    pattern = {k: v for k, v in (trigger.get("schedule") or {}).items() if v}
    if pattern:
        text += " at " + ", ".join(f"{k}={v}" for k, v in pattern.items())
    return f"{text} ({zone})"


def _show(schedule: Schedule) -> None:
    action = schedule.action
    print_renderable(
        kv_table(
            [
                ("name", schedule.name),
                ("display_name", schedule.display_name),
                ("enabled", schedule.enabled),
                ("trigger", _trigger_text(schedule)),
                ("next fire", fmt_time(schedule.next_fire_at) if schedule.enabled else ""),
                ("missed occurrences", schedule.missed_policy),
                ("job", action.get("job_file") or "inline job"),
                ("job type", action.get("job_type")),
                ("snapshot", action.get("owner")),
                ("description", schedule.description),
                ("tags", schedule.tags),
                ("created", fmt_time(schedule.created_at)),
            ],
            title=f"Schedule {schedule.name}",
        )
    )
    if schedule.recent_fires:
        print_renderable(
            rows_table(
                ["occurrence", "state", "job", "skipped before", "error"],
                [
                    [fmt_time(f.occurrence_at), f.state, f.job_name, f.missed or "", f.error]
                    for f in schedule.recent_fires
                ],
                title="Recent fires",
                optional=["skipped before", "error"],
            )
        )


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="Azure ML schedule YAML.")],
    output: OutputOpt = Output.table,
) -> None:
    """Create a schedule; its job's folder is snapshotted now."""
    schedule = workspace(ctx).schedules.create(file)

    def render() -> None:
        say("Created schedule ", (schedule.name, "bold"), f": {_trigger_text(schedule)}")
        say(f"  next fire: {fmt_time(schedule.next_fire_at)} (the scheduler runs in ")
        say("  `modelworks up` / `modelworks server`)")

    emit(output, schedule.to_dict(), render)


@app.command("show")
def show(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Show a schedule, its next fire and its recent fires with their jobs."""
    schedule = workspace(ctx).schedules.get(name)
    emit(output, schedule.to_dict(), lambda: _show(schedule))


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the workspace's schedules."""
    schedules = workspace(ctx).schedules.list()
    emit(
        output,
        [s.to_dict() for s in schedules],
        lambda: print_renderable(
            rows_table(
                ["name", "enabled", "trigger", "next fire", "job"],
                [
                    [
                        s.name,
                        s.enabled,
                        _trigger_text(s),
                        fmt_time(s.next_fire_at) if s.enabled else "",
                        s.action.get("job_file") or "inline job",
                    ]
                    for s in schedules
                ],
            )
        ),
    )


@app.command("disable")
def disable(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Stop firing (occurrences while disabled are not fired later)."""
    schedule = workspace(ctx).schedules.disable(name)
    emit(output, schedule.to_dict(), lambda: say("Disabled schedule ", (name, "bold")))


@app.command("enable")
def enable(ctx: typer.Context, name: NameOpt, output: OutputOpt = Output.table) -> None:
    """Fire again, from the next occurrence on."""
    schedule = workspace(ctx).schedules.enable(name)
    emit(
        output,
        schedule.to_dict(),
        lambda: say(
            "Enabled schedule ", (name, "bold"), f"; next fire {fmt_time(schedule.next_fire_at)}"
        ),
    )


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameOpt,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a schedule (the jobs it created stay)."""
    if not yes:
        typer.confirm(f"Delete schedule {name}?", abort=True)
    workspace(ctx).schedules.delete(name)
    say("Deleted schedule ", (name, "bold"))


@app.command("next")
def next_(
    ctx: typer.Context,
    name: NameOpt,
    count: Annotated[int, typer.Option("--count", "-c", min=1, max=1000, help="How many.")] = 5,
    output: OutputOpt = Output.table,
) -> None:
    """The next times the schedule fires, in UTC and in its time zone."""
    from modelworks.schedules.triggers import resolve_time_zone

    ws = workspace(ctx)
    schedule = ws.schedules.get(name)
    times = ws.schedules.next_occurrences(name, count=count)
    zone_name = str(schedule.trigger.get("time_zone") or "UTC")
    zone = resolve_time_zone(zone_name)
    emit(
        output,
        [t.isoformat() for t in times],
        lambda: print_renderable(
            rows_table(
                ["UTC", zone_name],
                [
                    [
                        t.strftime("%Y-%m-%d %H:%M:%S"),
                        t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
                    ]
                    for t in times
                ],
            )
        ),
    )
