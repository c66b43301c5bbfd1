"""Reports rendered from a :class:`~conformance.results.RunResult`.

``results.json`` is the source of truth (``json_report``); the JUnit XML
(``junit_report``), the console text (``console``), the Markdown summary
(``summary``), the HTML page (``html``) and the comparison of two runs
(``diff``) are rendered from the same data, so any report can be rebuilt
from a results file of an earlier run.  ``escape`` holds the one scheme that
makes control characters visible in all of them.
"""

from __future__ import annotations

from conformance.report.console import render_console
from conformance.report.diff import RunDiff, diff_runs, is_regression, render_diff
from conformance.report.html import render_html, write_html
from conformance.report.json_report import read_results, write_results
from conformance.report.junit_report import write_junit
from conformance.report.summary import render_summary, write_summary

__all__ = [
    "RunDiff",
    "diff_runs",
    "is_regression",
    "read_results",
    "render_console",
    "render_diff",
    "render_html",
    "render_summary",
    "write_html",
    "write_junit",
    "write_results",
    "write_summary",
]
