"""Faults the reference server can inject on purpose: the harness's mutation catalogue.

Each :class:`Defect` breaks exactly one requirement of the catalog
(``conformance/data/requirements.json``) and nothing else, so that a run of the
suite against ``--defect NAME`` shows whether some check catches that rule.
The server consults ``name in config.defects`` at the one point where the
behaviour is decided (see :mod:`conformance.server.session`); the clean path
never changes.

``caught_as`` is the grade a conforming harness gives the defect: ``fail``
for a broken MUST (or an implied rule), ``non-strict`` where the RFC only
recommends the behaviour the defect leaves out.

Like the rest of the server, this module imports nothing from the harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# How long "lock-released-late" keeps a dropped session's lock: longer than
# the 15 s the scenarios' "eventually" steps wait for a release.
LATE_RELEASE_S: Final = 30.0
# "crash-on-long-line" drops the connection on lines longer than this, well
# under the 255 octets RFC 2449 section 4 requires.
CRASH_LINE_OCTETS: Final = 128
# "uidl-too-long": unique-ids padded to this length (RFC 1939 allows 70).
LONG_UID: Final = 71
# "long-status": status lines padded to this many octets (RFC 1939 allows 512).
LONG_STATUS: Final = 600
# "lock-check-then-set": how long the lock stays unset after the check (the
# time a slow maildrop scan would take); a second login inside it gets in too.
LOCK_RACE_WINDOW_S: Final = 0.05
# "status-field-after-retr": the header field a retrieved message gains.
STATUS_FIELD: Final = b"Status: RO\r\n"


@dataclass(frozen=True)
class Defect:
    name: str
    requirement: str  # the requirement ID it violates
    summary: str
    caught_as: str = "fail"  # "fail" or "non-strict": what a correct check grades it
    # Shows only on a server with TLS configured (EmbeddedServer(tls=True)).
    needs_tls: bool = False
    # Shows only when sessions overlap: the sequential suite must not see it
    # (the mutation run checks that it stays clean), and ``pop3-conformance
    # stress`` must (tests/test_stress_run.py).
    concurrent: bool = False


_TABLE: Final = (
    # -- locking -------------------------------------------------------------
    Defect(
        "no-lock",
        "RFC1939-4-2",
        "no exclusive lock: a second session logs in to a maildrop in use and can remove "
        "messages the first session still lists",
    ),
    Defect(
        "in-use-without-code",
        "RFC2449-8.1.2-1",
        "a login refused because the maildrop is locked says -ERR without [IN-USE], "
        "although RESP-CODES is advertised",
        # RFC 2449 section 8 only permits response codes; leaving [IN-USE]
        # out is lenient, not broken.
        caught_as="non-strict",
    ),
    Defect(
        "in-use-auth-code",
        "RFC3206-6-1",
        "a login refused because the maildrop is locked says [AUTH], a credential problem, "
        "although AUTH-RESP-CODE is advertised and the credentials were right",
    ),
    Defect(
        "lock-kept-after-drop",
        "RFC1939-4-2",
        "a session that ends without QUIT never releases the maildrop lock",
    ),
    Defect(
        "lock-check-then-set",
        "RFC1939-4-2",
        f"the maildrop lock is checked at login but set only {LOCK_RACE_WINDOW_S * 1000:g} ms "
        "later: two logins that arrive together both get in",
        concurrent=True,
    ),
    Defect(
        "lock-released-late",
        "RFC1939-4-2",
        f"a session that ends without QUIT releases the maildrop lock only {LATE_RELEASE_S:g} s "
        "later",
    ),
    # -- deletion at UPDATE --------------------------------------------------
    Defect(
        "dele-removes-at-once",
        "RFC1939-5.DELE-3",
        "DELE removes the message from disk at once instead of marking it",
    ),
    Defect("rset-ignored", "RFC1939-5.RSET-1", "RSET answers +OK but leaves the marks in place"),
    Defect(
        "quit-keeps-deleted", "RFC1939-6.QUIT-1", "QUIT answers +OK but removes no marked message"
    ),
    Defect(
        "quit-removes-some",
        "RFC1939-6.QUIT-1",
        "QUIT removes only the lowest-numbered marked message",
    ),
    Defect(
        "quit-rewrites-snapshot",
        "RFC1939-6.QUIT-2",
        "QUIT rewrites the maildrop from the session's snapshot: mail delivered while the "
        "session ran is removed with the marked messages",
        # Not concurrent=True: the delivery scenarios (core.deletion.new-mail-
        # survives-*) bring mail in during a session, so the sequential suite
        # catches it; the stress test catches it under load as well.
    ),
    Defect(
        "quit-loses-new-mail",
        "RFC1939-6.QUIT-2",
        "QUIT writes the maildrop back as it was at login (as an mbox server that rewrites "
        "the file from its snapshot): mail delivered during the session is lost",
    ),
    Defect(
        "drop-applies-deletions",
        "RFC1939-6-2",
        "a session that ends without QUIT removes its marked messages anyway",
    ),
    Defect(
        "renumber-after-dele",
        "RFC1939-5.DELE-4",
        "after DELE, message-number arguments count only the messages not marked as deleted",
    ),
    Defect("list-shows-deleted", "RFC1939-5.LIST-6", "LIST still lists marked messages"),
    Defect("retr-deleted", "RFC1939-5.RETR-2", "RETR still retrieves a marked message"),
    Defect("top-deleted", "RFC1939-7.TOP-3", "TOP still answers for a marked message"),
    Defect("uidl-lists-deleted", "RFC1939-7.UIDL-7", "UIDL still lists marked messages"),
    Defect("stat-counts-deleted", "RFC1939-5.STAT-2", "STAT counts marked messages in both totals"),
    Defect("dele-twice-ok", "RFC1939-5.DELE-2", "DELE of a marked message answers +OK again"),
    # -- states --------------------------------------------------------------
    Defect("noop-before-login", "RFC1939-3-13", "NOOP answers +OK in the AUTHORIZATION state"),
    Defect("user-after-login", "RFC1939-7.USER-1", "USER answers +OK in the TRANSACTION state"),
    Defect("pass-after-login", "RFC1939-7.PASS-1", "PASS answers +OK in the TRANSACTION state"),
    Defect("any-password", "RFC1939-7.PASS-2", "PASS accepts any password for a known user"),
    Defect(
        "pass-without-user",
        "RFC1939-7.PASS-1",
        "PASS without a preceding USER logs in to the account that has this password",
    ),
    Defect("unknown-command-ok", "RFC1939-3-12", "an unknown command is answered +OK"),
    Defect(
        "arguments-ignored",
        "RFC1939-3-12",
        "STAT, NOOP, RSET, CAPA and QUIT after login answer as if an argument they do not "
        "take were not there (NOOP x is +OK)",
    ),
    Defect(
        "retr-number-wraps",
        "RFC1939-5.RETR-3",
        "RETR reads its message-number into 32 bits: RETR 4294967297 retrieves message 1",
    ),
    Defect(
        "case-sensitive-keywords",
        "RFC1939-3-3",
        "keywords are matched case-sensitively: 'stat' is an unknown command",
    ),
    # -- framing -------------------------------------------------------------
    Defect(
        "no-dot-stuffing",
        "RFC1939-5.RETR-1",
        "RETR does not byte-stuff lines that begin with '.'",
    ),
    Defect(
        "missing-terminator",
        "RFC1939-3-8",
        "the LIST listing of a maildrop with no message left ends without the '.' line",
    ),
    Defect("bare-lf", "RFC1939-3-6", "the STAT answer ends in a bare LF instead of CRLF"),
    Defect("lower-case-ok", "RFC1939-3-7", "NOOP answers '+ok' in lower case"),
    Defect(
        "long-status",
        "RFC1939-3-6",
        f"the -ERR to an unknown command is a {LONG_STATUS}-octet line (512 at most)",
    ),
    Defect(
        "extra-line-after-terminator",
        "RFC1939-3-8",
        "the UIDL listing is followed by a stray line after its terminator",
    ),
    # -- sizes and content ---------------------------------------------------
    Defect(
        "size-lf-count",
        "RFC1939-5.LIST-5",
        "LIST and STAT sizes count each line end as one octet (LF), not two (CRLF)",
    ),
    Defect(
        "size-final-crlf-in-stat-only",
        "RFC1939-5.STAT-3",
        "STAT counts the CRLF that RETR adds after a last line stored without a line end, "
        "LIST does not: STAT's total is not the sum of the scan listings",
    ),
    Defect(
        "no-crlf-before-terminator",
        "RFC1939-3-10",
        "RETR and TOP of a message stored without a line end after its last line send the "
        "'.' line right after that line's text: the answer never ends with CRLF.CRLF",
    ),
    Defect(
        "size-counts-stored-cr",
        "RFC1939-5.LIST-5",
        "LIST and STAT count each stored LF as two octets without looking before it: a line "
        "stored with CRLF counts three",
    ),
    Defect(
        "status-field-after-retr",
        "RFC1939-5.RETR-1",
        "RETR marks the message read within the session: later answers for it (RETR, TOP, "
        "LIST, STAT) carry a 'Status: RO' header field it did not have",
    ),
    Defect("retr-drops-last-line", "RFC1939-5.RETR-1", "RETR leaves out the message's last line"),
    Defect("top-extra-line", "RFC1939-7.TOP-1", "TOP n k sends k + 1 body lines"),
    Defect(
        "top-no-blank-line",
        "RFC1939-7.TOP-1",
        "TOP leaves out the blank line between the headers and the body",
    ),
    # -- UIDL ----------------------------------------------------------------
    Defect("uidl-unstable", "RFC1939-7.UIDL-5", "unique-ids change from one session to the next"),
    Defect(
        "uidl-duplicate",
        "RFC1939-7.UIDL-4",
        "message 2 gets the unique-id of message 1 (different content, same id)",
    ),
    Defect(
        "uidl-from-headers",
        "RFC1939-7.UIDL-4",
        "the unique-id is a digest of the header block alone: messages with the same header "
        "fields and different bodies share it",
    ),
    Defect(
        "uidl-from-body",
        "RFC1939-7.UIDL-4",
        "the unique-id is a digest of the body alone: messages with the same body and "
        "different header fields share it",
    ),
    Defect(
        "uidl-too-long",
        "RFC1939-7.UIDL-3",
        f"unique-ids are padded to {LONG_UID} characters (70 at most)",
    ),
    # -- extensions ----------------------------------------------------------
    Defect(
        "top-advertised-not-implemented",
        "RFC2449-6.1-1",
        "CAPA advertises TOP, but TOP answers -ERR",
    ),
    Defect(
        "failed-auth-enters-transaction",
        "RFC5034-4-18",
        "AUTH with wrong credentials answers -ERR but enters the TRANSACTION state",
    ),
    Defect(
        "auth-cancel-ignored",
        "RFC5034-4-6",
        "'*' does not cancel an AUTH exchange: the server sends another empty challenge",
    ),
    Defect(
        "wrong-password-no-auth-code",
        "RFC3206-6-1",
        "a wrong password is refused without [AUTH], although AUTH-RESP-CODE is advertised",
    ),
    Defect(
        "auth-bad-base64-accepted",
        "RFC5034-4-12",
        "base64 in AUTH is decoded leniently: characters outside the alphabet are dropped, so "
        "a valid PLAIN token with an inserted '-' or '.' still logs in",
    ),
    Defect(
        "expire-glued",
        "RFC2449-6.7-1",
        "CAPA lists EXPIRENEVER, the EXPIRE tag glued to its argument (as GNU Mailutils 3.15 does)",
    ),
    # -- TLS -----------------------------------------------------------------
    Defect(
        "stls-in-transaction",
        "RFC2595-4-3",
        "STLS is accepted in the TRANSACTION state (+OK, then a TLS handshake; the session "
        "stays in TRANSACTION)",
        needs_tls=True,
    ),
    Defect(
        "capa-keeps-stls-after-tls",
        "RFC2595-4-2",
        "CAPA still lists STLS once TLS is active (after STLS and on the implicit TLS port), "
        "although STLS is then refused",
        needs_tls=True,
    ),
    Defect(
        "stls-keeps-plaintext",
        "RFC2595-4-8",
        "commands pipelined after STLS in the same segment, before the handshake, are run "
        "after it and answered inside TLS (plaintext command injection)",
        needs_tls=True,
    ),
    # -- UTF8 ----------------------------------------------------------------
    Defect(
        "utf8-in-transaction",
        "RFC6856-2-1",
        "the UTF8 command is accepted (+OK) in the TRANSACTION state",
    ),
    Defect(
        "utf8-headers-without-utf8-mode",
        "RFC6856-2.1-2",
        "RETR and TOP send a message whose header section holds raw UTF-8 as is, without "
        "UTF-8 mode (instead of -ERR [UTF8])",
    ),
    # -- robustness ----------------------------------------------------------
    Defect(
        "crash-on-long-line",
        "RFC2449-4-1",
        f"the session dies (connection closed) on a command line over {CRASH_LINE_OCTETS} "
        "octets, although CAPA is supported",
    ),
    Defect(
        "pipeline-dropped-after-login",
        "RFC2449-6.6-1",
        "commands pipelined behind a successful PASS, APOP or AUTH in the same read are "
        "dropped (the login hands no pending input over to the mailbox session)",
    ),
    Defect(
        "pipeline-partial-line-lost",
        "RFC2449-6.6-1",
        "a read that holds whole command lines loses the unfinished line after them: a "
        "pipelined command split across two writes is never answered",
    ),
    Defect(
        "long-line-tail-runs",
        "RFC1939-3-4",
        "a command line over 255 octets is answered -ERR for its first 255 octets, and the "
        "rest, spaces skipped, is read as a command of its own (a fixed line buffer)",
    ),
    Defect(
        "crash-on-nul",
        "RFC1939-3-12",
        "the session dies (connection closed) on a NUL octet in a command",
    ),
)

DEFECTS: Final[dict[str, Defect]] = {d.name: d for d in _TABLE}


def unknown(names: frozenset[str] | set[str] | list[str]) -> list[str]:
    """The names that are not in :data:`DEFECTS`, sorted."""
    return sorted(set(names) - DEFECTS.keys())


def listing() -> str:
    """One line per defect: name, requirement, summary (``serve --list-defects``)."""
    width = max(len(name) for name in DEFECTS)
    return "\n".join(
        f"{d.name:<{width}}  {d.requirement:<18} {d.summary}"
        + (" (under concurrency: pop3-conformance stress)" if d.concurrent else "")
        for d in DEFECTS.values()
    )
