"""Learn the seeded messages as the server itself returns them.

Servers change what they store: mbox servers quote body lines that start
with "From ", Cyrus adds Received and other headers, Mailutils adds status
headers when a session ends.  The RFCs do not forbid that.  What they do
forbid is a message that changes *between* answers, so with calibration on,
the model's content is what the server returned just before the scenario,
never the seed file.

A server that rewrites at the end of a session (Mailutils) returns one
content before the first QUIT and another after it, so the messages are
read in passes until a pass agrees with the one before (at least two, at most
four).
"""

from __future__ import annotations

import hashlib

from conformance.drift import same_but_server_fields
from conformance.login import log_in
from conformance.model import Maildrop
from conformance.pop3 import parse_stat
from conformance.probe import ServerProfile
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

MAX_PASSES = 4


class CalibrationError(Exception):
    """The server did not let the harness read the seeded mailbox."""


def _read_all(
    target: Target,
    account: Account,
    profile: ServerProfile,
    count: int | None,
    transcript: Transcript,
) -> list[bytes]:
    """Every message, read in one session that changes nothing; ``count``: how many
    there must be (None: as many as STAT says)."""
    session = Session.to(target, "calibrate", transcript)
    try:
        greeting = session.connect()
        if not greeting.ok:
            raise CalibrationError(f"greeting: {greeting.describe()}")
        answer = log_in(session.command, account, profile, greeting.status_text())
        if not answer.ok:
            raise CalibrationError(f"login as {account.user!r} refused: {answer.describe()}")
        stat = session.command("STAT")
        totals = parse_stat(stat.text) if stat.ok else None
        if totals is None or (count is not None and totals[0] != count):
            seeded = f"{count} messages seeded, " if count is not None else ""
            raise CalibrationError(f"{seeded}STAT answered {stat.describe()}")
        count = totals[0]
        if profile.advertises("UIDL"):
            # As a client does: a server that assigns unique-ids lazily
            # (Mailutils writes an X-UIDL field into each message) does it now,
            # before the scenario, not in the middle of it.
            session.command("UIDL")
        contents = []
        for n in range(1, count + 1):
            retr = session.command(f"RETR {n}")
            if retr.kind != "multi" or not retr.ok:
                raise CalibrationError(f"RETR {n}: {retr.describe()}")
            if retr.truncated:
                raise CalibrationError(
                    f"RETR {n}: {retr.payload_octets} octets, more than the reader keeps"
                )
            contents.append(retr.payload)
        # QUIT lets a server that rewrites at session end do so now, before the
        # scenario; with EXPIRE 0 a QUIT could remove what was read, so then
        # the session is dropped instead.
        if profile.expire_zero:
            session.reset()
        else:
            session.command("QUIT", timeout=min(target.timeout, 5.0))
            session.close()
        return contents
    finally:
        session.abandon()


def _stable_read(
    target: Target,
    account: Account,
    count: int | None,
    profile: ServerProfile,
    transcript: Transcript,
) -> tuple[list[bytes], int]:
    """The messages as two consecutive read-only sessions return them; and the passes taken."""
    # Each pass is compared with the one before; the first never settles it,
    # since a server may rewrite only when that first session ends (Mailutils
    # adds status headers at QUIT and returns the seed until then).
    previous: list[bytes] | None = None
    passes = 0
    while True:
        passes += 1
        contents = _read_all(target, account, profile, count, transcript)
        if previous is not None and _digest(contents) == _digest(previous):
            return contents, passes
        if passes == MAX_PASSES:
            # Some servers build a message anew for every session (Courier's
            # RFC 6856 surrogate for a UTF-8 message carries a fresh MIME
            # boundary each time).  That is permitted; the last read stands,
            # and only a later content check of that message can show it.
            transcript.event(
                "calibrate",
                f"the messages differ in each of {MAX_PASSES} read-only sessions; "
                "the last read stands",
            )
            return contents, passes
        previous = contents


def calibrate(
    target: Target,
    account: Account,
    maildrop: Maildrop,
    profile: ServerProfile,
    transcript: Transcript,
) -> int:
    """Replace the model's content of each message with the server's; the passes it took."""
    count = len(maildrop.messages)
    if count == 0:
        return 0
    contents, passes = _stable_read(target, account, count, profile, transcript)
    for index, data in enumerate(contents):
        maildrop.replace_content(index, data)
    return passes


def learn(
    target: Target, account: Account, profile: ServerProfile, transcript: Transcript
) -> list[bytes]:
    """The messages of a mailbox nobody seeded, as the server returns them.

    Read-only, like calibration: sessions that RETR every message and QUIT
    without a DELE, until two agree.  Raises CalibrationError or ConnectError.
    """
    contents, _ = _stable_read(target, account, None, profile, transcript)
    return contents


def recalibrate(
    target: Target,
    account: Account,
    maildrop: Maildrop,
    profile: ServerProfile,
    transcript: Transcript,
    seeded: frozenset[bytes],
) -> list[int] | None:
    """After a session ended: learn header fields the server added since (Mailutils).

    Only a message that differs in nothing but fields the seed did not have
    is learned again; any other difference (a lost message, a changed body)
    stays for the scenario's own checks to find.  Returns the 0-based indexes
    learned again, or None when the mailbox cannot be read now (a lock, or a
    message count the model does not expect).
    """
    count = len(maildrop.messages)
    if count == 0:
        return []
    try:
        contents, _ = _stable_read(target, account, count, profile, transcript)
    except (CalibrationError, ConnectError):
        return None
    learned = []
    for index, (known, data) in enumerate(zip(maildrop.messages, contents, strict=True)):
        if known.data != data and same_but_server_fields(known.data, data, seeded):
            maildrop.replace_content(index, data)
            learned.append(index)
    return learned


def _digest(contents: list[bytes]) -> list[str]:
    return [hashlib.sha256(c).hexdigest() for c in contents]
