"""``pop3-conformance matrix RESULTS.json...``: requirements by servers from several runs.

Each results file is one column.  Its label is the matching ``--label`` (in
the order given), else the server's IMPLEMENTATION, else the name of the
folder holding the file; labels that would repeat fall back to the folder
name, then get a number, so every column is told apart.

``--out DIR`` writes ``matrix.md`` and ``matrix.html``; ``--format`` prints
one of them to stdout (Markdown when ``--out`` is not given either).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance.cli_common import EXIT_OK, UsageError, read_run
from conformance.report.matrix import render_matrix_html, render_matrix_markdown, write_matrix
from conformance.results import RunResult

NAME = "matrix"
HELP = "a requirement x server table (Markdown and HTML) from several results.json files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME",
        help="column name of the n-th results file (repeatable, in order)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="write matrix.md and matrix.html")
    parser.add_argument(
        "--format", choices=("markdown", "html"), help="print this rendering to stdout"
    )


def _implementation(run: RunResult) -> str:
    for line in run.target.get("capa") or ():
        name, _, rest = str(line).partition(" ")
        if name.upper() == "IMPLEMENTATION" and rest.strip():
            return rest.strip()
    return ""


def labels_for(paths: list[Path], runs: list[RunResult], given: list[str]) -> list[str]:
    """One distinct label per run (see the module doc for the rule)."""
    if len(given) > len(paths):
        raise UsageError(f"{len(given)} --label options for {len(paths)} results files")
    folder = [p.resolve().parent.name or str(p) for p in paths]
    labels = [
        given[i] if i < len(given) else (_implementation(run) or folder[i])
        for i, run in enumerate(runs)
    ]
    automatic = list(labels)
    for i in range(len(given), len(labels)):
        if automatic.count(automatic[i]) > 1:
            labels[i] = folder[i]
    out: list[str] = []
    for label in labels:
        name, n = label, 1
        while name in out:
            n += 1
            name = f"{label} ({n})"
        out.append(name)
    return out


def run(args: argparse.Namespace) -> int:
    paths: list[Path] = list(args.results)
    runs = [read_run(p) for p in paths]
    labelled = list(zip(labels_for(paths, runs, list(args.label)), runs, strict=True))
    if args.out is not None:
        write_matrix(labelled, args.out)
        print(f"matrix written to {args.out}/matrix.md and matrix.html", file=sys.stderr)
    if args.format == "html":
        sys.stdout.write(render_matrix_html(labelled))
    elif args.format == "markdown" or args.out is None:
        sys.stdout.write(render_matrix_markdown(labelled))
    return EXIT_OK
