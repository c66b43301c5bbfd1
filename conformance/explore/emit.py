"""A failing exploration, written out as an ordinary scenario file.

The file has the usual header (``suites/README.md``) and the very lines the
exploration ran, so ``pop3-conformance run --suites FILE`` replays it through
the same loader, runner and model.  Its name and id carry the seed and a
digest of the steps: the same failure found again gets the same file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.scenario.loader import parse_scenario
from conformance.scenario.steps import Scenario
from conformance.scenario.writer import header

DEFAULT_DIR = Path("suites") / "regressions"


@dataclass(frozen=True)
class Emitted:
    path: Path
    scenario: Scenario


def scenario_id(seed: int, lines: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]
    return f"regression.explore.{seed}-{digest}"


def scenario_text(
    *,
    seed: int,
    lines: Sequence[str],
    requirements: Sequence[str],
    mailbox: str,
    pipelined: bool,
    found_against: str,
    summary: str,
    timeout_s: float,
) -> str:
    """The text of the regression file for a failing step list.

    ``requirements``: the ones the failing checks cite, the first being the
    primary one; ``summary`` one line saying what failed (for the title);
    ``timeout_s`` the exploration's wait for each answer.
    """
    reqs = list(dict.fromkeys(requirements)) or ["RFC1939-5-1"]
    day = dt.datetime.now(dt.UTC).date().isoformat()
    needs = [("needs", "PIPELINING")] if pipelined else []
    fields = [
        ("id", scenario_id(seed, lines)),
        ("title", f"explore seed {seed}: {_one_line(summary)}"),
        ("requirements", ", ".join(reqs)),
        ("tags", "regression, explore"),
        *needs,
        ("mailbox", mailbox),
        ("destructive", "yes"),
        # The exploration's own wait: a replay that waited longer could pass
        # where the exploration failed, and be graded nondeterministic.
        ("timeout", f"{timeout_s:g}"),
        (
            "description",
            f"The minimal command sequence that 'pop3-conformance explore --seed {seed}' "
            f"found against {found_against} on {day}. Each answer is judged by the "
            "mailbox model.",
        ),
        (
            "expectation",
            "Every answer is the one the mailbox model computes for a conforming server.",
        ),
    ]
    return "\n".join([*header(fields), *lines]) + "\n"


def write_scenario(text: str, directory: Path) -> Emitted:
    """Write ``text`` as ``<id>.pop3`` under ``directory`` (made if needed); parse it back.

    Parsing the written file is the proof that it loads: an exploration bug
    that wrote bad grammar shows up here, not at the next replay.
    """
    directory.mkdir(parents=True, exist_ok=True)
    first = text.split("\n", 1)[0]
    name = first.removeprefix("id: ").removeprefix("regression.")
    path = directory / f"{name}.pop3"
    path.write_text(text, encoding="utf-8")
    return Emitted(path, parse_scenario(text, str(path)))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 100 else line[:97] + "..."
