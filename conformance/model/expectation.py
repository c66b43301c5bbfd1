"""What the model says a conforming server answers, and how an answer differs from it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from conformance.pop3 import ArgumentProblem, Response, State
from conformance.pop3.spec import spec_for

OK, ERR = "+OK", "-ERR"
# At most this many examples per requirement in one discrepancy: a server that
# gets every size wrong in a 10 000-message listing needs one line, not 10 000.
EXAMPLES = 5


@dataclass(frozen=True)
class Discrepancy:
    """One way a response differs from what a conforming server answers."""

    requirement: str
    expected: str
    actual: str
    # A deviation the catalog lets a server make (the argument rule's spacing
    # and leading zeros): recorded as info, never graded as broken.
    tolerated: bool = False

    def __str__(self) -> str:
        return f"{self.requirement}: expected {self.expected}; got {self.actual}"


@dataclass(frozen=True)
class Expectation:
    """What a conforming server answers to one command line in one state.

    ``status`` is the right answer; ``also_accepted`` is a second status that
    conforms too (an optional command may be refused, a credential may be
    wrong); ``tolerated`` is a status the catalog lets a server give instead,
    graded info (the argument rule's spacing and leading zeros).  ``payload``
    is the expected body of RETR and TOP (unstuffed, CRLF line ends) when the
    model knows it, ``values`` the numbers of a single-line answer (STAT:
    count and size; LIST n: n and size; UIDL n: n).
    """

    status: str
    requirement: str
    reason: str
    payload: bytes | None = None
    values: tuple[int, ...] | None = None
    also_accepted: str | None = None
    # The SHA-256 of ``payload`` when already known (a message's own digest).
    payload_sha256: str | None = None
    # A status the catalog lets a server give instead (conformance.pop3.arguments):
    # recorded as info against the requirement ``tolerated_by``, with
    # ``payload`` and ``values`` still judging a +OK's content.
    tolerated: str | None = None
    tolerated_by: str = ""

    def accepts(self, status: str | None) -> bool:
        return status == self.status or (status is not None and status == self.also_accepted)

    def tolerates(self, status: str | None) -> bool:
        return status is not None and status == self.tolerated

    def describe(self) -> str:
        head = self.status
        if self.values is not None and self.status == OK:
            head += " " + " ".join(str(v) for v in self.values)
        if self.also_accepted:
            head += f" (or {self.also_accepted})"
        if self.tolerated:
            head += f" ({self.tolerated} is recorded as info, {self.tolerated_by})"
        return f"{head}: {self.reason}"


class Problems:
    """Collects what is wrong, grouped by requirement, with a few examples each."""

    def __init__(self) -> None:
        self._by_requirement: dict[str, list[str]] = {}

    def add(self, requirement: str, detail: str) -> None:
        self._by_requirement.setdefault(requirement, []).append(detail)

    def discrepancies(self, expected: dict[str, str]) -> list[Discrepancy]:
        out = []
        for requirement, details in self._by_requirement.items():
            shown = "; ".join(details[:EXAMPLES])
            if len(details) > EXAMPLES:
                shown += f"; and {len(details) - EXAMPLES} more"
            out.append(Discrepancy(requirement, expected.get(requirement, requirement), shown))
        return out


def wrong_state_or_unknown(state: State, keyword: str, known: bool) -> Expectation:
    """RFC 1939 section 3: -ERR to a command of another state, or to no command at all."""
    if known:
        if keyword == "PASS" and state is State.AUTHORIZATION:
            return Expectation(ERR, "RFC1939-7.PASS-1", "PASS only right after a successful USER")
        spec = spec_for(keyword)
        requirement = spec.state_requirement if spec is not None else "RFC1939-3-13"
        return Expectation(ERR, requirement, f"{keyword} is not allowed in {state.value}")
    shown = keyword if keyword else "an empty line"
    return Expectation(ERR, "RFC1939-3-12", f"{shown!s} is not a POP3 command")


def tolerate(exp: Expectation, problem: ArgumentProblem) -> Expectation:
    """The argument rule's lesser grade (:data:`conformance.pop3.RULE`) applied to ``exp``.

    Spacing: -ERR is right, a +OK whose content is ``exp``'s is recorded.
    Leading zeros: ``exp`` (the number is still decimal) is right, -ERR is
    recorded.  An ``exp`` that already refuses leaves nothing to tolerate.
    """
    if exp.status != OK:
        return exp
    by = problem.requirement
    if problem.kind == "zeros":
        if exp.also_accepted == ERR:
            return exp  # refusing is already right (an optional command)
        return replace(
            exp,
            reason=f"{exp.reason} ({problem.reason}: still a decimal number)",
            tolerated=ERR,
            tolerated_by=by,
        )
    return replace(
        exp,
        status=ERR,
        reason=f"{problem.reason}; taken as single-spaced: {exp.describe()}",
        also_accepted=None,
        tolerated=OK,
        tolerated_by=by,
    )


def no_answer(response: Response) -> str:
    partial = f" (partial: {response.partial[:80]!r})" if response.partial else ""
    if response.kind == "timeout":
        return "no response before the deadline" + partial
    if response.kind == "overflow":
        return response.describe()
    return "connection closed" + partial


def numbers(ns: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in ns[:10])
    return shown + (f" and {len(ns) - 10} more" if len(ns) > 10 else "")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def first_difference(expected: bytes, actual: bytes) -> str:
    """Where two payloads first differ, for a human reading Expected / Actual."""
    limit = min(len(expected), len(actual))
    i = 0
    # Skip equal blocks first: a byte loop over a 1 MB message is slow.
    while i + 4096 <= limit and expected[i : i + 4096] == actual[i : i + 4096]:
        i += 4096
    while i < limit and expected[i] == actual[i]:
        i += 1
    line = expected.count(b"\n", 0, i) + 1
    return (
        f"{len(actual)} octets, sha256 {sha(actual)}; first difference at octet {i} "
        f"(line {line}): expected {expected[i : i + 40]!r}, got {actual[i : i + 40]!r}"
    )
