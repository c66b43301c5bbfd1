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
from conformance.login import LoginError, logged_in
from conformance.model import Maildrop
from conformance.pop3 import Response, parse_stat, parse_uid_line
from conformance.probe import ServerProfile
from conformance.provision import Reading
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError

MAX_PASSES = 4


class CalibrationError(Exception):
    """The server did not let the harness read the seeded mailbox."""


class _NeedsUtf8(CalibrationError):
    """RETR was refused outside UTF-8 mode, which RFC 6856 section 2.1 permits."""


def _read_all(
    target: Target,
    account: Account,
    profile: ServerProfile,
    count: int | None,
    transcript: Transcript,
    utf8: bool = False,
) -> Reading:
    """Every message (and unique-id) in one read-only session; ``count`` None takes STAT's."""
    try:
        with logged_in(target, account, profile, transcript, "calibrate", utf8=utf8) as session:
            stat = session.command("STAT")
            totals = parse_stat(stat.text) if stat.ok else None
            if totals is None or (count is not None and totals[0] != count):
                raise CalibrationError(f"{count} messages seeded, STAT answered {stat.describe()}")
            uids = None
            if profile.advertises("UIDL"):
                # As a client does: a server that assigns unique-ids lazily
                # (Mailutils writes an X-UIDL field into each message) does it
                # now, before the scenario, not in the middle of it.
                uids = _uids(session.command("UIDL"), totals[0])
            contents = []
            for n in range(1, totals[0] + 1):
                retr = session.command(f"RETR {n}")
                refused = retr.kind == "status" and not retr.ok
                if refused and not utf8 and profile.advertises("UTF8"):
                    raise _NeedsUtf8(f"RETR {n}: {retr.describe()}")
                if retr.kind != "multi" or not retr.ok:
                    raise CalibrationError(f"RETR {n}: {retr.describe()}")
                if retr.truncated:
                    raise CalibrationError(
                        f"RETR {n}: {retr.payload_octets} octets, more than the reader keeps"
                    )
                contents.append(retr.payload)
            # QUIT lets a server that rewrites at session end do so now, before
            # the scenario; with EXPIRE 0 a QUIT could remove what was read, so
            # then the session is dropped instead.
            if profile.expire_zero:
                session.reset()
            else:
                session.command("QUIT", timeout=min(target.timeout, 5.0))
                session.close()
            return Reading(contents, uids)
    except LoginError as e:
        raise CalibrationError(str(e)) from e


def _uids(uidl: Response, count: int) -> list[str] | None:
    """The unique-ids of a UIDL listing in message order, or None if it is not one."""
    if not uidl.ok or uidl.kind != "multi":
        return None
    parsed = [p for p in (parse_uid_line(line) for line in uidl.lines) if p is not None]
    if sorted(p.number for p in parsed) != list(range(1, count + 1)):
        return None
    return [p.uid.decode("latin-1") for p in sorted(parsed, key=lambda p: p.number)]


def read_stable(
    target: Target,
    account: Account,
    profile: ServerProfile,
    transcript: Transcript,
    count: int | None = None,
) -> tuple[Reading, int]:
    """The mailbox as two consecutive read-only sessions return it; and the passes taken.

    ``count`` is the number of messages expected (a CalibrationError if STAT
    says otherwise); None reads whatever is there.
    """
    # Each pass is compared with the one before; the first never settles it,
    # since a server may rewrite only when that first session ends (Mailutils
    # adds status headers at QUIT and returns the seed until then).
    previous: Reading | None = None
    passes = 0
    utf8 = False
    while True:
        passes += 1
        try:
            reading = _read_all(target, account, profile, count, transcript, utf8)
        except _NeedsUtf8:
            if utf8:
                raise
            # A message with UTF-8 header fields may be refused outside UTF-8
            # mode (RFC 6856 section 2.1); in it, the server sends what it stores.
            utf8, passes = True, passes - 1
            continue
        if previous is not None and _digest(reading.contents) == _digest(previous.contents):
            return reading, passes
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
            return reading, passes
        previous = reading


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
    reading, passes = read_stable(target, account, profile, transcript, count)
    for index, data in enumerate(reading.contents):
        maildrop.replace_content(index, data)
    return passes


def learn(
    target: Target, account: Account, profile: ServerProfile, transcript: Transcript
) -> list[bytes]:
    """The messages of a mailbox nobody seeded, as the server returns them (read-only)."""
    reading, _ = read_stable(target, account, profile, transcript)
    return reading.contents


def recalibrate(
    target: Target,
    account: Account,
    maildrop: Maildrop,
    profile: ServerProfile,
    transcript: Transcript,
    seeded: frozenset[bytes],
    fresh: frozenset[int] = frozenset(),
) -> list[int] | None:
    """After a session ended: learn header fields the server added since (Mailutils).

    Only a message that differs in nothing but fields the seed did not have
    is learned again; any other difference (a lost message, a changed body)
    stays for the scenario's own checks to find.  The messages at the 0-based
    indexes ``fresh`` (delivered during the scenario, never read) are learned
    as they are, as calibration learns a seeded mailbox: a mail system adds
    trace fields the seed may already have had (mail judged as it is).
    Returns the 0-based indexes learned again, or None when the mailbox
    cannot be read now (a lock, or a message count the model does not expect).
    """
    count = len(maildrop.messages)
    if count == 0:
        return []
    try:
        reading, _ = read_stable(target, account, profile, transcript, count)
    except (CalibrationError, ConnectError):
        return None
    learned = []
    for index, (known, data) in enumerate(zip(maildrop.messages, reading.contents, strict=True)):
        if known.data != data and (
            index in fresh or same_but_server_fields(known.data, data, seeded)
        ):
            maildrop.replace_content(index, data)
            learned.append(index)
    return learned


def _digest(contents: list[bytes]) -> list[str]:
    return [hashlib.sha256(c).hexdigest() for c in contents]
