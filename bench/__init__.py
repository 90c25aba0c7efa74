"""The project's benchmark: the performance targets of SPEC.md §6, measured.

``make bench`` (or ``python -m testenv.launcher with-redis -- python -m bench``)
runs four scenarios, each against real processes (daphne, a Celery worker with
the thread pool, beat, the simulators) on a database of its own, and reports
every number next to a baseline measured in the same run:

1. ``feedback``  — POST /testing/feedback while GitHub hangs, vs GET /healthz;
2. ``health``    — 500 generic-http endpoints every 20 s: CPU per check, start
   skew, coverage after a restart and memory, vs a minimal check loop;
3. ``api``       — API reads with a million health rows stored, vs GET /healthz;
4. ``dashboard`` — health commit to WebSocket receive, vs Redis PUBLISH to
   SUBSCRIBE.

``--quick`` is a smoke run (under a minute). Results are printed as a table and
written to ``var/bench/results.json``; the exit status is 0 even when a target
is missed (the table and the JSON say which). docs/benchmark.md has the details.
"""
