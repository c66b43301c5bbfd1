"""The matrix: requirements by servers, after Autobahn's cases by implementations.

Rows are the requirements any of the runs cites, grouped by RFC in catalog
order; columns are the runs, in the order given; a cell is the requirement's
folded outcome in that run (:mod:`conformance.report.by_requirement`), or
``—`` where the run did not cover it.  Under the table, every ``fail`` is
listed with its server, requirement, scenario and one-line reason.

Nothing here depends on the clock or on dict order of the input: the same
results files give byte-identical output, so a generated matrix can be
committed and diffed.  :func:`render_matrix_markdown` is the library entry
point (a README section is made from committed baselines with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conformance.catalog import load_catalog
from conformance.outcomes import Outcome
from conformance.report.by_requirement import (
    Failure,
    RequirementResult,
    failures,
    order_key,
    requirement_results,
    rfc_of,
)
from conformance.report.escape import visible
from conformance.report.files import write_atomically
from conformance.report.findings import root_causes
from conformance.report.summary import cell, verdict
from conformance.report.templating import ENV
from conformance.results import RunResult

NOT_RUN = "—"
MAX_REASON = 160  # characters of a failure's reason in the list

# The word a cell shows: FAIL shouts, the rest stay lower case.
WORDS: dict[Outcome, str] = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "FAIL",
    Outcome.NON_STRICT: "non-strict",
    Outcome.INFO: "info",
    Outcome.UNSUPPORTED: "unsupported",
    Outcome.WAIVED: "waived",
    Outcome.ERROR: "error",
    Outcome.NONDETERMINISTIC: "nondet",
}


@dataclass
class Row:
    id: str
    grade: str
    text: str
    cells: list[Outcome | None]  # one per run; None: not covered


@dataclass
class Matrix:
    labels: list[str]
    runs: list[RunResult]
    groups: list[tuple[str, list[Row]]]  # (RFC, rows), RFCs in numeric order
    failures: list[tuple[str, Failure]]  # (label, failure)


def build_matrix(runs: list[tuple[str, RunResult]]) -> Matrix:
    """The matrix of ``runs`` (label, run), columns in the given order."""
    per_run: list[dict[str, RequirementResult]] = [
        {r.id: r for r in requirement_results(run)} for _, run in runs
    ]
    catalog = load_catalog()
    ids = sorted({rid for rows in per_run for rid in rows}, key=order_key)
    groups: dict[str, list[Row]] = {}
    for rid in ids:
        known = catalog.get(rid)
        first = next(rows[rid] for rows in per_run if rid in rows)
        groups.setdefault(rfc_of(rid), []).append(
            Row(
                id=rid,
                grade=known.grade.value if known else first.grade,
                text=known.text if known else first.text,
                cells=[rows[rid].outcome if rid in rows else None for rows in per_run],
            )
        )
    # Requirement first, then column order: a requirement's failures read together.
    numbered = [(i, label, f) for i, (label, run) in enumerate(runs) for f in failures(run)]
    numbered.sort(key=lambda t: (order_key(t[2].requirement), t[0], t[2].scenario, t[2].reason))
    listed = [(label, f) for _, label, f in numbered]
    return Matrix(
        labels=[label for label, _ in runs],
        runs=[run for _, run in runs],
        groups=sorted(groups.items(), key=lambda g: _rfc_key(g[0])),
        failures=listed,
    )


def _rfc_key(rfc: str) -> tuple[int, str]:
    digits = rfc.removeprefix("RFC")
    return (int(digits), rfc) if digits.isdigit() else (1 << 30, rfc)


def word(outcome: Outcome | None) -> str:
    return NOT_RUN if outcome is None else WORDS[outcome]


def _implementation(run: RunResult) -> str:
    for line in run.target.get("capa") or ():
        name, _, rest = str(line).partition(" ")
        if name.upper() == "IMPLEMENTATION":
            return rest.strip()
    return ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_matrix_markdown(runs: list[tuple[str, RunResult]]) -> str:
    """The matrix of ``runs`` (label, run) as Markdown: run table, one table per RFC, failures."""
    m = build_matrix(runs)
    heads = [cell(label) for label in m.labels]
    out = [
        "## POP3 conformance matrix",
        "",
        "| server | implementation | verdict | scenarios | distinct findings | harness | started |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for label, run in zip(m.labels, m.runs, strict=True):
        out.append(
            f"| {cell(label)} | {cell(_implementation(run))} | {verdict(run)} "
            f"| {len(run.scenarios)} | {len(root_causes(run))} "
            f"| {cell(run.tool_version)} | {cell(run.started)} |"
        )
    out += [
        "",
        f"Cells: {', '.join(WORDS.values())}; {NOT_RUN} where a run did not cover the requirement.",
    ]
    for rfc, rows in m.groups:
        out += [
            "",
            f"### {cell(rfc)}",
            "",
            "| requirement | level | " + " | ".join(heads) + " |",
            "|---|---|" + "---|" * len(heads),
        ]
        for row in rows:
            cells = " | ".join(word(c) for c in row.cells)
            out.append(f"| {cell(row.id)} | {cell(row.grade)} | {cells} |")
    out += ["", f"### Failures ({len(m.failures)})", ""]
    if not m.failures:
        out.append("None.")
    for label, f in m.failures:
        out.append(
            f"- **{cell(label)}** {cell(f.requirement)} in {cell(f.scenario)}: "
            f"{cell(f.reason, MAX_REASON)}"
        )
    return "\n".join(out) + "\n"


def render_matrix_html(runs: list[tuple[str, RunResult]]) -> str:
    """The matrix as one self-contained HTML page (template: matrix.html.j2)."""
    m = build_matrix(runs)
    return ENV.get_template("matrix.html.j2").render(
        servers=[
            {
                "label": visible(label),
                "implementation": visible(_implementation(run)),
                "verdict": verdict(run),
                "scenarios": len(run.scenarios),
                "version": visible(run.tool_version),
                "started": visible(run.started),
            }
            for label, run in zip(m.labels, m.runs, strict=True)
        ],
        groups=[
            (
                visible(rfc),
                [
                    {
                        "id": visible(row.id),
                        "grade": visible(row.grade),
                        "text": visible(row.text),
                        "cells": [
                            (c.value if c is not None else "not-run", word(c)) for c in row.cells
                        ],
                    }
                    for row in rows
                ],
            )
            for rfc, rows in m.groups
        ],
        failures=[
            {
                "label": visible(label),
                "requirement": visible(f.requirement),
                "scenario": visible(f.scenario),
                "reason": visible(_shorten(f.reason, MAX_REASON * 2)),
            }
            for label, f in m.failures
        ],
        words=list(WORDS.items()),
        not_run=NOT_RUN,
    )


def write_matrix(runs: list[tuple[str, RunResult]], out_dir: Path) -> None:
    """Write ``matrix.md`` and ``matrix.html`` into ``out_dir``."""
    write_atomically(out_dir / "matrix.md", render_matrix_markdown(runs))
    write_atomically(out_dir / "matrix.html", render_matrix_html(runs))
