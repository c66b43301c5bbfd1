"""Every check the runner grades itself, each next to the requirement it cites.

Most verdicts come from ``S:`` lines (:mod:`conformance.verdicts`).  These are
the others: what the runner judges around the scenario's own lines, such as
the greeting, QUIT and the close after it, TLS, snapshots and retried logins.
"""

from __future__ import annotations

from dataclasses import replace

from conformance.outcomes import Outcome
from conformance.pop3 import MAX_COMMAND_LINE, Response
from conformance.results import CheckResult
from conformance.verdicts import broken, make_check

GREETING = "RFC1939-3-2"  # a positive one-line greeting
QUIT_IN_AUTHORIZATION = "RFC1939-4.QUIT-1"
QUIT_IN_TRANSACTION = "RFC1939-6.QUIT-1"
CLOSE_AFTER_QUIT = "RFC1939-6.QUIT-3"
CLOSE_NOTIFY = "RFC8314-3.4-1"  # a TLS close_notify before the TCP close
TLS_AFTER_CRLF = "RFC2595-4-4"  # nothing in the clear after the +OK to STLS
CIPHER_SUITE = "RFC8314-4-5"  # a suite RFC 7525 recommends
QUIT_CLOSE_WITHIN_S = 5.0
CLOSE_AFTER_AUTHORIZATION_ERR = "RFC1939-4-6"
LINE_END = "RFC1939-3-4"  # "All commands are terminated by a CRLF pair."


def _graded(requirement: str, ok: bool) -> Outcome:
    return Outcome.PASS if ok else broken(requirement)


def greeting(response: Response, where: str) -> CheckResult:
    return make_check(
        GREETING,
        _graded(GREETING, response.ok),
        "a positive one-line greeting",
        response.describe(),
        where,
    )


def quit_answered(response: Response, in_transaction: bool, where: str) -> CheckResult:
    requirement = QUIT_IN_TRANSACTION if in_transaction else QUIT_IN_AUTHORIZATION
    return make_check(
        requirement, _graded(requirement, response.ok), "+OK", response.describe(), where
    )


def closed_after_quit(closed: bool, where: str) -> CheckResult:
    return make_check(
        CLOSE_AFTER_QUIT,
        _graded(CLOSE_AFTER_QUIT, closed),
        "the server closes the connection after QUIT",
        "closed" if closed else f"still open {QUIT_CLOSE_WITHIN_S:g} s after QUIT",
        where,
    )


def close_notify(ragged: bool, where: str) -> CheckResult:
    return make_check(
        CLOSE_NOTIFY,
        _graded(CLOSE_NOTIFY, not ragged),
        "a TLS close_notify alert before the TCP close",
        "a bare TCP close" if ragged else "close_notify, then the close",
        where,
    )


def tls_established(requirement: str, version: str, where: str) -> CheckResult:
    return make_check(
        requirement,
        Outcome.PASS,
        "a TLS handshake (TLS 1.2 or later) that completes",
        f"TLS established: {version}",
        where,
    )


def tls_failed(
    requirement: str, outcome: Outcome, detail: str, where: str, note: str
) -> CheckResult:
    return make_check(
        requirement,
        outcome,
        "a TLS handshake (TLS 1.2 or later) that completes",
        detail,
        where,
        note,
    )


def clear_text_after_stls(octets: bytes, where: str) -> CheckResult:
    return make_check(
        TLS_AFTER_CRLF,
        broken(TLS_AFTER_CRLF),
        "TLS starts right after the CRLF of the +OK",
        f"{len(octets)} octets followed in the clear: {octets[:40]!r}",
        where,
    )


def cipher_suite(version: str, where: str) -> CheckResult:
    # RFC 7525 section 4.2: TLS 1.3 suites, or ECDHE with an AEAD cipher.
    recommended = version.startswith("TLSv1.3") or (
        "ECDHE" in version and ("GCM" in version or "CHACHA20" in version)
    )
    return make_check(
        CIPHER_SUITE,
        _graded(CIPHER_SUITE, recommended),
        "a cipher suite RFC 7525 recommends",
        version,
        where,
    )


def closed_within(requirement: str, closed: bool, within: float, where: str) -> CheckResult:
    return make_check(
        requirement,
        _graded(requirement, closed),
        f"the server closes the connection within {within:g} s",
        "closed" if closed else "still open",
        where,
    )


def login_within(
    requirement: str, ok: bool, within: float, attempts: int, last: str, where: str
) -> CheckResult:
    actual = (
        f"logged in after {attempts} attempt(s)"
        if ok
        else f"refused {attempts} time(s); last: {last}"
    )
    return make_check(
        requirement,
        _graded(requirement, ok),
        f"a login succeeds within {within:g} s",
        actual,
        where,
    )


def unchanged(
    requirement: str, since: str, before: str, differences: list[str], after: str, where: str
) -> CheckResult:
    return make_check(
        requirement,
        _graded(requirement, not differences),
        f"the maildrop as at snapshot {since!r}: {before}",
        after if not differences else "; ".join(differences),
        where,
    )


def lost_at_quit(
    requirement: str, message: str, holder: str, seen: int, expected: int, where: str
) -> CheckResult:
    """A message stored while a session was in TRANSACTION is gone after its QUIT."""
    return make_check(
        requirement,
        broken(requirement),
        f"{message}, delivered while session {holder} was in TRANSACTION, still in the "
        f"maildrop after {holder}'s QUIT",
        f"gone: STAT shows {seen} messages, {expected} expected",
        where,
        "RFC 1939 section 6: in no case may the server remove any messages not marked as deleted",
    )


def snapshot_refused(
    requirement: str, expected: str, response: Response, where: str
) -> CheckResult:
    return make_check(
        requirement,
        broken(requirement),
        expected,
        response.describe(),
        where,
        "while taking a snapshot of the maildrop",
    )


def timestamps_differ(
    requirement: str, first: tuple[str, str], second: tuple[str, str], where: str
) -> CheckResult:
    same = first[1] == second[1]
    return make_check(
        requirement,
        _graded(requirement, not same),
        "a different timestamp in each greeting",
        f"{first[0]}: {first[1]}, {second[0]}: {second[1]}",
        where,
    )


def body_lines(requirement: str, ok: bool, wanted: str, actual: str, where: str) -> CheckResult:
    return make_check(requirement, _graded(requirement, ok), wanted, actual, where)


def nothing_to_inspect(
    requirement: str, wanted: str, response: Response, where: str
) -> CheckResult:
    # The S: check before has graded the status; lines there are none.
    return make_check(
        requirement,
        Outcome.INFO,
        wanted,
        f"no multi-line answer to inspect: {response.describe()}",
        where,
    )


def harness_error(
    requirement: str, expected: str, actual: str, where: str, note: str = ""
) -> CheckResult:
    """Not the server's doing: the harness, the scenario or the environment."""
    return make_check(requirement, Outcome.ERROR, expected, actual, where, note)


def unsolicited(requirement: str, where: str, stray: bytes, file: str) -> CheckResult:
    """RFC 1939 section 3: the server answers commands; nothing arrives unasked."""
    note = "a flood of unsolicited data: no later answer on this session can be trusted"
    if requirement == LINE_END:
        note = "a second answer to one line: the server ran part of it as a command of its own"
    return make_check(
        requirement,
        broken(requirement),
        f"nothing from the server {where} until the next command",
        f"{len(stray)} octets unasked: {stray[:80]!r}",
        file,
        note,
    )


def split_line(line: str) -> str | None:
    """What in a command line a server may have cut it at: a bare CR, or a length over
    the 255 octets of RFC 2449 section 4 (None: neither)."""
    if "\r" in line:
        return "a bare CR inside"
    octets = len(line.encode("utf-8", "surrogatepass")) + 2
    return f"{octets} octets" if octets > MAX_COMMAND_LINE else None


def permitted_close(previous_keyword: str, where: str) -> CheckResult:
    """RFC 1939 section 4: "After returning a negative status indicator, the server may
    close the connection." One rule for every scenario, not a line in each."""
    return make_check(
        CLOSE_AFTER_AUTHORIZATION_ERR,
        Outcome.INFO,
        "an answer, or a close after the -ERR before it",
        f"the connection was closed after the -ERR to {previous_keyword}",
        where,
        "RFC 1939 section 4 permits a close after a negative status indicator in AUTHORIZATION",
    )


def lock_left_behind(graded: CheckResult) -> CheckResult:
    """An answer that named the lock a dropped session may still hold: not judged."""
    return replace(
        graded,
        outcome=Outcome.INFO,
        note=(
            "not judged: the refusal names the maildrop's lock, which a session the "
            "harness dropped may still hold. RFC 1939 section 6 says only that such a "
            'session "does not enter the UPDATE state", and sets no time for the lock\'s '
            "release"
        ),
    )


def login_unanswered(requirement: str, response: Response, where: str) -> CheckResult:
    """A login command answered by neither +OK nor -ERR: the server's fault."""
    return make_check(
        requirement,
        broken(requirement),
        "+OK or -ERR",
        response.describe(),
        where,
        "the server gave no status answer to a login command (credentials cannot be judged)",
    )
