"""Schedules: cron and recurrence triggers that create jobs (``ws.schedules``).

- :mod:`~modelworks.schedules.triggers`: when a trigger fires (time zones, DST);
- :mod:`~modelworks.schedules.template`: the snapshotted job a schedule (or a pipeline
  endpoint) creates;
- :mod:`~modelworks.schedules.scheduler`: the loop that fires due occurrences exactly once;
- :mod:`~modelworks.schedules.service`: that loop inside the API server.
"""

from modelworks.schedules.entities import Schedule, ScheduleFire

__all__ = ["Schedule", "ScheduleFire"]
