"""``results.json`` written as the run goes, so that a run that is killed leaves
what it judged (the final reports are written at the end, from the whole run)."""

from __future__ import annotations

import time
from pathlib import Path

from conformance.report.json_report import write_results
from conformance.results import RunResult

# Writing the whole document after every scenario would cost O(n^2) octets on
# a long run; every couple of seconds keeps the loss small and the cost flat.
EVERY_S = 2.0


class Journal:
    def __init__(self, path: Path, every_s: float = EVERY_S) -> None:
        self.path = path
        self.every_s = every_s
        self._last = 0.0
        self.writes = 0

    def update(self, run: RunResult, *, force: bool = False) -> None:
        """Write ``run`` (the results so far) when it is time to, or now with ``force``."""
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            write_results(run, self.path)
            self._last = now
            self.writes += 1
