"""A scheduler process for the exactly-once test: ``python _scheduler_proc.py WS BASE T0
SPEED UNTIL``. Its clock runs ``SPEED`` times faster than real time from ``BASE`` (epoch
seconds) at real time ``T0``, so processes given the same arguments agree on the time; it
ticks until its clock passes ``UNTIL``."""

from __future__ import annotations

import sys
import time

import modelworks as mw
from modelworks.schedules.scheduler import Scheduler


def main() -> None:
    location, base, t0, speed, until = sys.argv[1], *map(float, sys.argv[2:6])

    def clock() -> float:
        return base + (time.time() - t0) * speed

    ws = mw.Workspace(location)
    scheduler = Scheduler(ws, clock=clock, start_workers=False)
    fired = 0
    while clock() < until:
        fired += len(scheduler.tick())
        time.sleep(0.01)
    scheduler.close()
    ws.close()
    print(fired)


if __name__ == "__main__":
    main()
