"""Progress of a run on the console, while it runs.

Two shapes, chosen by whether the stream is a terminal:

- on a terminal, one status line that is rewritten in place (``\\r``, then
  "erase to end of line") after every scenario: done/total, the counts by
  outcome, the elapsed time and the scenario that just finished.  A result
  that fails the run is also printed as a line of its own above it, so it
  is still on screen when the status line is gone.  :meth:`Progress.finish`
  erases the status line, leaving the terminal clean for the report;
- anywhere else (CI logs, a pipe, a file), one plain line per scenario,
  ``  pass             core.basic.greeting``, because a log cannot be
  rewritten and ``\\r`` would only garble it.

The status line is cut to the terminal's width: a line that wraps can no
longer be rewritten by ``\\r``.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from conformance.outcomes import Outcome, fails_run
from conformance.report.escape import visible
from conformance.results import ScenarioResult

ERASE_LINE = "\x1b[K"  # erase from the cursor to the end of the line (ANSI EL)

# Outcomes in the order the status line counts them; absent ones are left out.
_ORDER = [
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.NONDETERMINISTIC,
    Outcome.NON_STRICT,
    Outcome.WAIVED,
    Outcome.UNSUPPORTED,
    Outcome.INFO,
]


def plain_line(result: ScenarioResult) -> str:
    """The line a non-terminal gets for one finished scenario."""
    return f"  {result.outcome.value:<16} {visible(result.id)}"


def elapsed_text(seconds: float) -> str:
    """``9.4s``, ``1m05s``, ``1h02m``: short enough for a status line."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Reports each finished scenario on ``stream`` (see the module doc for the two shapes).

    ``live`` forces the shape (default: ``stream.isatty()``); ``columns`` the
    width of the status line (default: the terminal's); ``clock`` the time
    source, for tests.  ``update`` may be called from several threads only
    if the caller serialises the calls, as ``run_campaign`` does.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        strict: bool = False,
        columns: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.strict = strict
        self._columns = columns
        self._clock = clock
        self._started = 0.0
        self.total = 0
        self.done = 0
        self.counts: Counter[Outcome] = Counter()
        self._last = ""
        self._shown = False  # a status line is on screen

    def start(self, total: int) -> None:
        """Begin a run of ``total`` scenarios."""
        self.total = total
        self.done = 0
        self.counts.clear()
        self._started = self._clock()
        if self.live:
            self._draw()

    def update(self, result: ScenarioResult) -> None:
        """Record one finished scenario and show it."""
        self.done += 1
        self.counts[result.outcome] += 1
        self._last = visible(result.id)
        if not self.live:
            self._write(plain_line(result) + "\n")
            return
        if fails_run(result.outcome, self.strict):
            # Erase the status line, leave the failure for good, redraw below it.
            self._write(f"\r{ERASE_LINE}{plain_line(result)}\n")
            self._shown = False
        self._draw()

    def finish(self) -> None:
        """Erase the status line (terminal); nothing to do for plain lines."""
        if self.live and self._shown:
            self._write(f"\r{ERASE_LINE}")
            self._shown = False

    def status_line(self) -> str:
        """The text of the status line as it would be drawn now, cut to the width."""
        counts = ", ".join(f"{self.counts[o]} {o.value}" for o in _ORDER if self.counts[o])
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {elapsed_text(self._clock() - self._started)}"
        if counts:
            line += f"  {counts}"
        if self._last:
            line += f"  {self._last}"
        # One column spare: writing into the last one wraps on some terminals.
        limit = max(10, self._width() - 1)
        return line if len(line) <= limit else line[: limit - 1] + "…"

    def _width(self) -> int:
        if self._columns is not None:
            return self._columns
        return shutil.get_terminal_size(fallback=(80, 24)).columns

    def _draw(self) -> None:
        self._write(f"\r{self.status_line()}{ERASE_LINE}")
        self._shown = True

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
