"""Runs one scenario in a process of its own: ``python -m bench.scenario NAME``.

The orchestrator (``bench.cli``) gives each scenario a fresh database and Redis
database through the environment, so no scenario sees another's rows, and a
crash or Ctrl-C stops every process the scenario started.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import traceback
from pathlib import Path

from bench.common import Processes, Row, log, raise_keyboard_interrupt_on_sigterm

SCENARIOS = {
    "feedback": "bench.feedback_latency",
    "health": "bench.health_checks",
    "api": "bench.api_reads",
    "dashboard": "bench.dashboard_latency",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scenario")
    parser.add_argument("name", choices=sorted(SCENARIOS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    raise_keyboard_interrupt_on_sigterm()

    import os

    import django

    django.setup()

    from bench.stack import Context

    processes = Processes(args.run_dir)
    ctx = Context(args.name, args.quick, args.run_dir, dict(os.environ), processes)
    module = importlib.import_module(SCENARIOS[args.name])
    rows: list[Row] = []
    error = None
    try:
        rows = module.run(ctx)
    except KeyboardInterrupt:
        error = "interrupted"
        log("interrupted: stopping the processes of this scenario")
    except Exception as exc:
        error = f"{exc.__class__.__name__}: {exc}"
        log(f"scenario {args.name} failed:\n{traceback.format_exc()}")
    finally:
        # A second Ctrl-C (or the orchestrator's SIGTERM) must not cut the
        # clean-up short and leave a worker or daphne behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
        args.out.write_text(
            json.dumps(
                {
                    "rows": [row.to_json() for row in rows],
                    "error": error,
                    "info": ctx.info,
                },
                default=str,
                indent=1,
            )
        )
    if error == "interrupted":
        return 130
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
