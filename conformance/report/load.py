"""A load run's own views, rendered from ``results.json`` alone (its ``load`` part and
its ``stress.*`` results): ``stress.html`` and the console table.

``stress.html`` is one self-contained page: the verdict, what the run did,
latency percentiles (p50, p95, p99) per command, throughput and failures per
second and users and latency over time as inline SVG charts, every invariant
with its verdict, the violations with their transcripts (the same markup as
``report.html``), and the names of Locust's own CSV files written beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.outcomes import fails_run
from conformance.report.charts import Chart, Series, line_chart
from conformance.report.escape import visible
from conformance.report.files import write_atomically
from conformance.report.html import SESSION_COLOURS, ScenarioView, scenario_view
from conformance.report.summary import verdict
from conformance.report.templating import ENV
from conformance.results import RunResult

COLUMNS = ("requests", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms", "rps")


def charts(load: dict[str, Any]) -> list[Chart]:
    """Throughput and failures per second; latency percentiles and users over time."""
    seconds = load.get("per_second", [])
    samples = load.get("samples", [])
    return [
        line_chart(
            "Throughput and failures",
            [
                Series("requests/s", "s-requests", [(r["t"], r["requests"]) for r in seconds]),
                Series("failures/s", "s-failures", [(r["t"], r["failures"]) for r in seconds]),
            ],
            "seconds into the run",
            "per second",
        ),
        line_chart(
            "Latency (last 10 s)",
            [
                Series("p50 ms", "s-p50", [(s["t"], s["p50"]) for s in samples]),
                Series("p95 ms", "s-p95", [(s["t"], s["p95"]) for s in samples]),
            ],
            "seconds into the run",
            "milliseconds",
        ),
        line_chart(
            "Users",
            [Series("users", "s-users", [(s["t"], s["users"]) for s in samples])],
            "seconds into the run",
            "users",
        ),
    ]


def _violations(run: RunResult) -> list[ScenarioView]:
    return [scenario_view(s, run.strict) for s in run.scenarios if fails_run(s.outcome, run.strict)]


def render_load_page(run: RunResult) -> str:
    load = run.load
    return ENV.get_template("load.html.j2").render(
        verdict=verdict(run),
        tool_version=visible(run.tool_version),
        started=visible(run.started),
        target=visible(f"{run.target.get('host', '?')}:{run.target.get('port', '?')}"),
        load={k: v for k, v in load.items() if k not in ("commands", "total", "failures")},
        commands=[{k: visible(str(v)) for k, v in row.items()} for row in load.get("commands", [])],
        total={k: visible(str(v)) for k, v in load.get("total", {}).items()},
        columns=COLUMNS,
        failures=[{k: visible(str(v)) for k, v in f.items()} for f in load.get("failures", [])],
        charts=charts(load),
        invariants=[scenario_view(s, run.strict) for s in run.scenarios],
        violations=_violations(run),
        session_colours=SESSION_COLOURS,
    )


def write_load_page(run: RunResult, path: Path) -> None:
    write_atomically(path, render_load_page(run))


def render_load_text(load: dict[str, Any]) -> str:
    """The per-command table and the run's figures, for the console."""
    header = f"{'command':<16}" + "".join(f"{c:>10}" for c in COLUMNS)
    rows = [header, "-" * len(header)]
    for row in [*load.get("commands", []), {**load.get("total", {}), "name": "(all)"}]:
        rows.append(f"{str(row['name'])[:16]:<16}" + "".join(f"{row[c]:>10}" for c in COLUMNS))
    total = load.get("total", {})
    rows.append(
        f"{load.get('users')} users, {load.get('duration_s')} s "
        f"({load.get('stopped')}), {load.get('mode')}"
        + (f" with {load.get('workers')} workers" if load.get("workers") else "")
        + f": {total.get('requests', 0)} requests, {total.get('rps', 0)}/s; "
        f"lock policy {load.get('policy')}"
    )
    rows += [f"task {task} not run: {why}" for task, why in load.get("skipped", {}).items()]
    return "\n".join(rows)
