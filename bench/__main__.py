"""``python -m bench``: see bench/cli.py and docs/benchmark.md."""

from __future__ import annotations

import sys

from bench.cli import main

sys.exit(main())
