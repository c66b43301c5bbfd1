"""The actions of an exploration, written as scenario lines.

Every action the state machine takes is first written down as lines of the
scenario grammar (``suites/README.md``) and then parsed by the ordinary
loader into the steps the runner carries out.  The text is the one source of
truth: what ran during the exploration is, line for line, what the emitted
regression file replays, so a replay cannot drift from the exploration.

All lines act on session ``A`` (the explored session) unless they say
otherwise; ``B`` is only the short-lived second login.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

from conformance.scenario.loader import parse_scenario
from conformance.scenario.steps import Step

# How long a re-login may wait for the lock of the session that just ended:
# some servers release it a little after the close (style.md).
RELOGIN_WITHIN_S: Final = 15
# How long an answer may take where a lock is involved: the locking scenarios'
# timeout (core.locking.second-login), for the same reason.
LOCK_WAIT_S: Final = 20.0
# The ways a session may end before the next login (runner step names).
ENDINGS: Final = ("quit", "close", "reset", "half-close", "mid-command")
# The filler command that lets a scenario read each answer of a pipelined
# batch: see :func:`pipelined`.
FILLER: Final = b"NOOP\r\n"
MAX_BATCH: Final = len(FILLER) - 1

# A header that parses; only the steps after it are kept.  The two ``open``
# lines tell the loader that sessions A and B exist (it rejects a session
# used before it is opened), and are dropped again.
_PREFIX: Final = "id: explore.fragment\ntitle: fragment\nrequirements: RFC1939-5-1\n---\n"
_OPENS: Final = ("open B", "open A")


def parse_fragment(lines: Sequence[str]) -> list[Step]:
    """The steps of scenario ``lines`` that follow the opening of sessions A and B.

    Raises :class:`~conformance.scenario.errors.ScenarioError` if a line is
    not valid scenario grammar (an exploration bug, never a server's fault).
    """
    return list(_parsed(tuple(lines)))


@functools.lru_cache(maxsize=4096)
def _parsed(lines: tuple[str, ...]) -> tuple[Step, ...]:
    # An exploration sends the same few fragments thousands of times; steps
    # are frozen, so one parse serves them all.
    text = _PREFIX + "\n".join((*_OPENS, *lines)) + "\n"
    return tuple(parse_scenario(text, "explore").steps[len(_OPENS) :])


def login() -> list[str]:
    """Log session A in, waiting for the lock a previous session may still hold."""
    return ["check RFC1939-4-2", f"eventually {RELOGIN_WITHIN_S} s: login A"]


def command(line: str) -> list[str]:
    """One command on session A, judged by the mailbox model."""
    return [f"C: {line}", "S: model"]


def end_and_login(how: str) -> list[str]:
    """End session A (QUIT, FIN, RST, half-close, a cut command), then log in again."""
    if how not in ENDINGS:
        raise ValueError(f"unknown ending {how!r}; known: {', '.join(ENDINGS)}")
    end = "drop A mid-command" if how == "mid-command" else f"{how} A"
    return [end, *login()]


def second_login(n: int) -> list[str]:
    """A second, concurrent login to A's mailbox, graded as the locking scenarios grade it.

    ``n`` makes the labels of this attempt unique in the scenario (labels
    are global to a run, and a later attempt must not see an earlier one's).
    A refusal passes (the maildrop is locked); a server that lets B in is
    graded by the model on B's view; a close instead of -ERR is non-strict
    (RFC1939-4-3).
    """
    return [
        "check RFC1939-4-3",
        "open B",
        "C: USER {user}",
        "S: +OK",
        "C: PASS {password}",
        f'S: -ERR => as locked{n} "the mailbox is locked: the second login is refused"',
        f'S: +OK => as shared{n} "a second session got in: the model judges its view"',
        f"S: closed => non-strict as gone{n} "
        '"the server closed the connection instead of answering PASS with -ERR"',
        f"when shared{n}",
        "  C: STAT",
        "  S: model",
        "end",
        f"when not gone{n}",
        "  close B",
        "end",
        "use A",
    ]


def pipelined(batch: Sequence[str]) -> list[str]:
    """Send ``batch`` in one segment and judge each answer in turn (RFC 2449 section 6.6).

    The grammar reads an answer only right after a ``raw:`` line, so after
    the first answer each further read is preceded by one more piece of a
    filler NOOP (``N``, ``O``, ...), which the server only buffers; the last
    piece completes the NOOP, whose answer is read last.  Every answer of
    the batch is judged, and the session is left with nothing pending.
    """
    if not 1 <= len(batch) <= MAX_BATCH:
        raise ValueError(f"a pipelined batch has 1 to {MAX_BATCH} commands")
    wire = "".join(f"{c}\\r\\n" for c in batch)
    lines = ["check RFC2449-6.6-1", f"raw: {wire}", "S: model"]
    # len(batch) - 1 single-octet pieces, then the rest of the filler.
    pieces = [FILLER[i : i + 1] for i in range(len(batch) - 1)]
    pieces.append(FILLER[len(batch) - 1 :])
    for piece in pieces:
        text = piece.decode("ascii").replace("\r", "\\r").replace("\n", "\\n")
        lines += [f"raw: {text}", "S: model"]
    return lines
