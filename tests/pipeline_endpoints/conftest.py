from _schedules_support import sched_ws  # noqa: F401 - fixtures
