"""``pop3-conformance requirements``: the catalog, what covers each requirement, and the gaps."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conformance.campaign import default_suite_dirs
from conformance.catalog import load_catalog
from conformance.cli_common import EXIT_FAIL, EXIT_OK, UsageError
from conformance.coverage import Coverage, measure
from conformance.scenario.loader import load_all

NAME = "requirements"
HELP = "list the requirement catalog with the scenarios covering each; --coverage per RFC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suites",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="scenario files or folders instead of the installed ones",
    )
    parser.add_argument("--rfc", action="append", default=[], help="only this RFC (repeatable)")
    parser.add_argument(
        "--coverage", action="store_true", help="covered / testable / untestable per RFC"
    )
    parser.add_argument(
        "--gaps",
        action="store_true",
        help="only testable MUST and SHOULD requirements no scenario covers; exit 1 if any",
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    scenarios, errors = load_all(list(args.suites or default_suite_dirs()))
    if errors:
        raise UsageError("\n".join(str(e) for e in errors))
    coverage = measure(scenarios)
    rfcs = {r.removeprefix("RFC") for r in args.rfc}
    if args.coverage:
        print(render_coverage(coverage, rfcs, args.format), end="")
        return EXIT_OK
    if args.gaps:
        gaps = [r for r in coverage.gaps() if not rfcs or r.rfc in rfcs]
        for r in gaps:
            print(f"{r.id:<22} {r.grade.value:<7} {r.text[:90]}")
        print(f"{len(gaps)} testable MUST/SHOULD requirements without a scenario", file=sys.stderr)
        return EXIT_FAIL if gaps else EXIT_OK
    print(render_listing(coverage, rfcs, args.format), end="")
    return EXIT_OK


def render_listing(coverage: Coverage, rfcs: set[str], fmt: str) -> str:
    rows = []
    for req in load_catalog().values():
        if rfcs and req.rfc not in rfcs:
            continue
        status = coverage.status(req.id)
        rows.append(
            {
                "id": req.id,
                "level": req.level,
                "grade": req.grade.value,
                "flags": list(req.flags),
                "status": status,
                "covered_by": coverage.by_requirement.get(req.id, []),
                "reason": coverage.untestable.get(req.id, ""),
                "note": req.note,
                "text": req.text,
            }
        )
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    lines = []
    if fmt == "markdown":
        lines += ["| requirement | level | status | covered by / reason |", "|---|---|---|---|"]
    for row in rows:
        by = ", ".join(row["covered_by"]) if row["covered_by"] else str(row["reason"])
        if fmt == "markdown":
            by = by.replace("|", "\\|")
            lines.append(f"| {row['id']} | {row['grade']} | {row['status']} | {by} |")
        else:
            lines.append(f"{row['id']:<22} {row['grade']:<7} {row['status']:<10} {by}")
    return "\n".join(lines) + "\n"


def render_coverage(coverage: Coverage, rfcs: set[str], fmt: str) -> str:
    rows = [r for r in coverage.per_rfc if not rfcs or r.rfc in rfcs]
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        "rfc": r.rfc,
                        "total": r.total,
                        "covered": r.covered,
                        "testable": r.testable,
                        "untestable": r.untestable,
                        "gaps": r.gaps,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
    total = [
        sum(getattr(r, f) for r in rows) for f in ("total", "covered", "testable", "untestable")
    ]
    if fmt == "markdown":
        out = [
            "| RFC | requirements | covered | testable | untestable black-box |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {r.rfc} | {r.total} | {r.covered} | {r.testable} | {r.untestable} |" for r in rows
        ]
        out.append(f"| all | {total[0]} | {total[1]} | {total[2]} | {total[3]} |")
        return "\n".join(out) + "\n"
    out = [f"{'RFC':<6} {'total':>6} {'covered':>8} {'testable':>9} {'untestable':>11}"]
    out += [
        f"{r.rfc:<6} {r.total:>6} {r.covered:>8} {r.testable:>9} {r.untestable:>11}" for r in rows
    ]
    out.append(f"{'all':<6} {total[0]:>6} {total[1]:>8} {total[2]:>9} {total[3]:>11}")
    return "\n".join(out) + "\n"
