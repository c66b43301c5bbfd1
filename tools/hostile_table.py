"""Run the harness against every hostile mode and print a Markdown table of what it did.

    PYTHONPATH=. python tools/hostile_table.py [--pythonpath CHECKOUT] [--mode NAME ...]

Each mode of ``tests/hostile/server.py`` runs with seeded content and
without; for each run the table gives the harness's exit code, its wall time,
its peak RSS (the harness process alone), its outcome counts (scenarios and
passive findings) and what went wrong: killed at the time limit, a
traceback, a secret in an output, a missing or oversized report.
``--pythonpath`` names the checkout of the harness that is judged (default:
this one), so that an old checkout and a new one give a before/after table;
the servers always come from this checkout.  Runs go one at a time, so that
the wall times and RSS figures do not disturb each other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.hostile.measure import REPO, SELECTION, TIMEOUT, Measured, run_mode
from tests.hostile.server import MODES

ORDER = ("pass", "fail", "non-strict", "info", "unsupported", "waived", "error", "nondeterministic")
REPORT_LIMIT_MB = 5.0


def describe(pythonpath: Path) -> str:
    """The checkout's commit, for the table's heading."""
    found = subprocess.run(
        ["git", "-C", str(pythonpath), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or "(not a git checkout)"


def row(m: Measured) -> str:
    counts = m.outcomes()
    outcomes = ", ".join(f"{counts[o]} {o}" for o in ORDER if counts[o]) or "-"
    notes = [m.killed] if m.killed else []
    if m.traceback():
        notes.append("traceback")
    leaked = sorted({where for _, where in m.leaks()})
    if leaked:
        notes.append("secret in " + ", ".join(leaked))
    notes += m.report_problems(REPORT_LIMIT_MB)
    exit_code = "killed" if m.exit_code is None else str(m.exit_code)
    cells = [
        m.mode,
        "with" if m.content else "without",
        exit_code,
        f"{m.wall_s:.1f}",
        f"{m.peak_rss_mb:.0f}",
        outcomes,
        "; ".join(notes).replace("|", "/"),
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pythonpath",
        type=Path,
        default=REPO,
        metavar="CHECKOUT",
        help="the harness checkout to judge (its PYTHONPATH; default: this checkout)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=sorted(MODES),
        help="run only this mode (repeatable; default: every mode)",
    )
    parser.add_argument(
        "--content",
        choices=("both", "with", "without"),
        default="both",
        help="with seeded content, without, or both (default)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=120.0,
        metavar="S",
        help="kill a harness run after this long (default %(default)s)",
    )
    args = parser.parse_args(argv)
    modes = args.mode or list(MODES)
    variants = {"both": (True, False), "with": (True,), "without": (False,)}[args.content]
    print(
        f"Harness `{args.pythonpath}` at {describe(args.pythonpath)}: `--timeout {TIMEOUT:g}`, "
        f"{len(SELECTION)} scenarios selected, each run killed after {args.time_limit:g} s."
    )
    print()
    print("| mode | content | exit | wall s | peak RSS MB | outcomes | problems |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="hostile-table-") as scratch:
        for mode in modes:
            for content in variants:
                work = Path(scratch) / f"{mode}-{'with' if content else 'without'}"
                measured = run_mode(
                    mode,
                    content=content,
                    work=work,
                    time_limit=args.time_limit,
                    pythonpath=args.pythonpath,
                )
                print(row(measured), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
