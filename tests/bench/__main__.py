"""`make bench`: the full webhook under gunicorn against WeRoBot 1.13.1, in one run.

Variants, all under gunicorn with 2 sync workers and driven by wrk on loopback:
ours (signature, dedupe row + message log committed, dispatch of 帮助), ours in safe mode,
WeRoBot default (SQLite sessions on) and WeRoBot bare (sessions off). Rounds alternate the
variants; medians are printed with ratios against WeRoBot measured in the same run.
"""

from __future__ import annotations

import os
import sys

from tests.bench.webhook import main

if __name__ == "__main__":
    sys.exit(main(os.environ.get("BENCH_ROUNDS")))
