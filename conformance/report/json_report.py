"""``results.json``: the one source of truth every other report is rendered from."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conformance.report.files import write_atomically
from conformance.results import RunResult

# A transcript may hold a lone surrogate (a byte kept by "surrogateescape").
# UTF-8 cannot encode it, but JSON can spell it as \udcXX, which json.loads
# reads back to the same character: the file stays valid UTF-8 and exact.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def to_json(run: RunResult) -> str:
    """The results document as text: UTF-8-ready, sorted keys, indent 1."""
    text = json.dumps(run.to_dict(), ensure_ascii=False, sort_keys=True, indent=1)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) + "\n"


def write_results(run: RunResult, path: Path) -> None:
    """Write ``run`` to ``path`` atomically (temporary file, then rename)."""
    write_atomically(path, to_json(run))


def read_results(path: Path) -> RunResult:
    """Read a results file written by :func:`write_results` (any run of this schema)."""
    return RunResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
