"""Settings of the worker and beat that the monitoring tests start.

The checks and notifications go to a queue of the test's own (other test runs
may share the Redis server), and the dispatcher looks ahead just past its
1 s period.
"""

from __future__ import annotations

import os

from testenv.settings import *  # noqa: F403

MONITOR_QUEUE = os.environ["TEST_MONITOR_QUEUE"]
MONITOR_NOTIFY_QUEUE = MONITOR_QUEUE
MONITOR_DISPATCH_LOOKAHEAD_SECONDS = 1.5
