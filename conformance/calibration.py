"""Learn the seeded messages as the server itself returns them.

Servers change what they store: mbox servers quote body lines that start
with "From ", Cyrus adds Received and other headers, Mailutils adds status
headers when a session ends.  The RFCs do not forbid that.  What they do
forbid is a message that changes *between* answers, so with calibration on,
the model's content is what the server returned just before the scenario,
never the seed file.

A server that rewrites at the end of a session (Mailutils) returns one
content before the first QUIT and another after it, so the messages are
read in passes until a pass agrees with the one before (at most four).
"""

from __future__ import annotations

import hashlib

from conformance.model import Maildrop
from conformance.placeholders import apop_digest
from conformance.probe import ServerProfile, apop_timestamp
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import Session

MAX_PASSES = 4


class CalibrationError(Exception):
    """The server did not let the harness read the seeded mailbox."""


def _read_all(
    target: Target, account: Account, profile: ServerProfile, count: int, transcript: Transcript
) -> list[bytes]:
    session = Session(
        "calibrate",
        target.host,
        target.port,
        transcript,
        timeout=target.timeout,
        connect_timeout=target.connect_timeout,
    )
    try:
        greeting = session.connect()
        if not greeting.ok:
            raise CalibrationError(f"greeting: {greeting.describe()}")
        stamp = apop_timestamp(greeting.status_line.decode("latin-1"))
        if stamp and (account.apop or (profile.has_capa and not profile.advertises("USER"))):
            answer = session.command(f"APOP {account.user} {apop_digest(stamp, account.password)}")
        else:
            answer = session.command(f"USER {account.user}")
            if answer.ok:
                answer = session.command(f"PASS {account.password}")
        if not answer.ok:
            raise CalibrationError(f"login as {account.user!r} refused: {answer.describe()}")
        stat = session.command("STAT")
        fields = stat.text.split()
        if not stat.ok or not fields or not fields[0].isdigit() or int(fields[0]) != count:
            raise CalibrationError(f"{count} messages seeded, STAT answered {stat.describe()}")
        contents = []
        for n in range(1, count + 1):
            retr = session.command(f"RETR {n}")
            if retr.kind != "multi" or not retr.ok:
                raise CalibrationError(f"RETR {n}: {retr.describe()}")
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
    # The first pass is compared with the seed, each later one with the pass before.
    previous = [m.data for m in maildrop.messages]
    passes = 0
    while True:
        passes += 1
        contents = _read_all(target, account, profile, count, transcript)
        if _digest(contents) == _digest(previous):
            break
        if passes == MAX_PASSES:
            raise CalibrationError(
                f"the messages changed in each of {MAX_PASSES} sessions that only read them"
            )
        previous = contents
    for index, data in enumerate(contents):
        maildrop.replace_content(index, data)
    return passes


def _digest(contents: list[bytes]) -> list[str]:
    return [hashlib.sha256(c).hexdigest() for c in contents]
