"""Reports rendered from a :class:`~conformance.results.RunResult`.

``results.json`` is the source of truth (``json_report``); the JUnit XML
(``junit_report``) and the console text (``console``) are rendered from the
same data, so any report can be rebuilt from a results file of an earlier
run.  ``escape`` holds the one scheme that makes control characters visible
in all of them.
"""

from __future__ import annotations

from conformance.report.console import render_console
from conformance.report.json_report import read_results, write_results
from conformance.report.junit_report import write_junit

__all__ = ["read_results", "render_console", "write_junit", "write_results"]
