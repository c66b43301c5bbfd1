"""Watching a run from Locust's statistics: is the server still there, and how it goes.

A server that dies mid-run shows as connections that fail and none that
succeed: when a few seconds of ``CONNECT`` requests are all failures the run
stops, with the verdict that the server stopped answering and the statistics
so far written.  The statistics of a distributed run reach the master every
few seconds, so the window ends a few seconds back.

Every second the monitor also notes the users running and the latency
percentiles of the last seconds, for the charts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from locust.stats import RequestStats

from conformance.stress.locust_user import REQUEST_TYPE

WINDOW_S = 5  # seconds of CONNECT requests looked at
LAG_S = 3  # how far back the window ends (workers report every 3 s)
DOWN_AFTER = 3  # failed connections, and none that worked, in the window


@dataclass
class Monitor:
    stats: RequestStats
    started_wall: float
    samples: list[dict[str, Any]] = field(default_factory=list)
    down_since: float | None = None  # run seconds: when connections started failing
    down_reason: str = ""
    _last_sample: float = 0.0

    def sample(self, users: int) -> None:
        now = time.time()
        if now - self._last_sample < 1.0:
            return
        self._last_sample = now
        total = self.stats.total
        self.samples.append(
            {
                "t": round(now - self.started_wall, 1),
                "users": users,
                "p50": total.get_current_response_time_percentile(0.5) or 0,
                "p95": total.get_current_response_time_percentile(0.95) or 0,
            }
        )

    def server_down(self) -> bool:
        """Whether the last seconds' connections all failed (at least DOWN_AFTER of them)."""
        entry = self.stats.entries.get(("CONNECT", REQUEST_TYPE))
        if entry is None:
            return False
        end = int(time.time()) - LAG_S
        seconds = range(end - WINDOW_S, end)
        tried = sum(entry.num_reqs_per_sec.get(s, 0) for s in seconds)
        failed = sum(entry.num_fail_per_sec.get(s, 0) for s in seconds)
        if failed < DOWN_AFTER or tried > failed:
            return False
        first = min(s for s in seconds if entry.num_fail_per_sec.get(s, 0))
        self.down_since = max(0.0, first - self.started_wall)
        self.down_reason = (
            f"from {self.down_since:.0f} s into the run, every connection failed "
            f"({failed} in {WINDOW_S} s, none greeted): the server stopped answering"
        )
        return True
