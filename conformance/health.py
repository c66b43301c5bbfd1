"""Whether the target still answers, so that a dead target ends a run in seconds.

Defensics checks its target between test cases; the harness counts
connections that got no greeting.  A few in a row (refused, silent, closed
before the greeting) mean the target is down, not that it breaks a rule: the
run stops with exit 3 and writes what it judged so far.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MISSES_IN_A_ROW = 3


class TargetDown(Exception):
    """The target stopped answering; the message says how."""


@dataclass
class Health:
    limit: int = MISSES_IN_A_ROW
    _misses: int = 0
    _last: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the run ends early (interrupted, target down): the long waits
    # of the slow scenarios end with it instead of holding the exit for minutes.
    stopping: threading.Event = field(default_factory=threading.Event)

    def greeted(self) -> None:
        with self._lock:
            self._misses = 0

    def missed(self, why: str) -> None:
        """A connection got no greeting; raises TargetDown at the limit."""
        with self._lock:
            self._misses += 1
            self._last = why
            down = self._misses >= self.limit
        if down:
            raise TargetDown(self.reason)

    @property
    def down(self) -> bool:
        return self._misses >= self.limit

    @property
    def reason(self) -> str:
        return f"{self._misses} connections in a row got no greeting; the last: {self._last}"
