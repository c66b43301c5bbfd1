"""A load run's figures, from Locust's statistics, as the ``load`` part of results.json.

Everything a report shows about the load comes from here, so that the HTML
page and the console are rendered from ``results.json`` alone: per command
the requests, failures and latency percentiles (p50, p95, p99), the
throughput and the failures of every second, the users and the recent
percentiles sampled every second, Locust's failure messages (scrubbed), and
what the run did (its mix, its login methods, its ledger's counts).
"""

from __future__ import annotations

from typing import Any

from locust.stats import RequestStats, StatsEntry

from conformance.secrets import Secrets
from conformance.stress.engine import Outcome
from conformance.stress.options import StressOptions
from conformance.stress.preparation import Facts


def _entry(entry: StatsEntry, duration_s: float) -> dict[str, Any]:
    count = entry.num_requests
    return {
        "name": entry.name,
        "requests": count,
        "failures": entry.num_failures,
        "p50_ms": entry.get_response_time_percentile(0.5) if count else 0,
        "p95_ms": entry.get_response_time_percentile(0.95) if count else 0,
        "p99_ms": entry.get_response_time_percentile(0.99) if count else 0,
        "max_ms": round(entry.max_response_time or 0, 1),
        "avg_ms": round(entry.avg_response_time, 1),
        "rps": round(count / duration_s, 1) if duration_s > 0 else 0.0,
    }


def _per_second(
    stats: RequestStats, started_wall: float, duration_s: float
) -> list[dict[str, Any]]:
    total = stats.total
    first = int(started_wall)
    last = int(started_wall + duration_s)
    return [
        {
            "t": second - first,
            "requests": total.num_reqs_per_sec.get(second, 0),
            "failures": total.num_fail_per_sec.get(second, 0),
        }
        for second in range(first, last + 1)
    ]


def load_figures(
    outcome: Outcome, options: StressOptions, facts: Facts, secrets: Secrets
) -> dict[str, Any]:
    stats = outcome.environment.stats
    duration = outcome.duration_s
    runner = outcome.environment.runner
    exceptions = list(runner.exceptions.values()) if runner is not None else []
    return {
        "users": options.users,
        "spawn_rate": options.spawn_rate,
        "run_time_s": options.run_time,
        "duration_s": round(duration, 2),
        "mode": options.role,
        "workers": outcome.workers,
        "stopped": outcome.stopped,
        "policy": facts.policy,
        "mix": facts.mix,
        "skipped": facts.skipped,
        "login_methods": facts.methods,
        "commands": [_entry(e, duration) for e in sorted(stats.entries.values(), key=_order)],
        "total": _entry(stats.total, duration),
        "per_second": _per_second(stats, outcome.started_wall, duration),
        "samples": outcome.monitor.samples,
        "failures": [
            {"name": e.name, "error": secrets.scrub(str(e.error)), "count": e.occurrences}
            for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)
        ],
        "exceptions": [
            {"count": x["count"], "message": secrets.scrub(str(x["msg"]))} for x in exceptions
        ],
        "ledger": outcome.ledger.figures(),
        "csv": outcome.csv_files,
    }


def _order(entry: StatsEntry) -> tuple[int, str]:
    order = ["CONNECT", "USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "UIDL", "RETR", "TOP"]
    base = entry.name.split(" ")[0]
    return (order.index(base) if base in order else len(order), entry.name)
