"""One of two processes racing over the same due maintenance windows (run by the test).

Both wait for the same start time, then run the scheduler's maintenance jobs once, with a
pause inside each transition that gives the other process every chance to act on the same
window. Usage: python -m tests.faults.maintenance_racer START_EPOCH NOW_ISO
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

from statuspage import create_app
from statuspage import maintenance as maint

start_at, now = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                  "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]})
original = maint.start_maintenance
finish = maint.inc.resolve_incident


def slow_start(*args, **kwargs):  # type: ignore[no-untyped-def]
    time.sleep(0.2)
    return original(*args, **kwargs)


def slow_finish(*args, **kwargs):  # type: ignore[no-untyped-def]
    time.sleep(0.2)
    return finish(*args, **kwargs)


maint.start_maintenance = slow_start
maint.inc.resolve_incident = slow_finish
with app.app_context():
    time.sleep(max(start_at - time.time(), 0))
    queued = maint.enqueue_reminders(now=now)
    done = maint.run_due_transitions(now=now)
    print(f"reminders={queued} transitions={len(done)}")
