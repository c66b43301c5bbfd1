"""The TRANSACTION state's commands: STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT.

Each handler is a function of the :class:`~conformance.server.session.Session`
and the :class:`~conformance.server.vocabulary.Command`; the session's table
(:data:`~conformance.server.session.HANDLERS`) says in which phase each one
answers.  Messages are numbered from 1 on the wire and indexed from 0 here;
DELE only marks them (``Session.deleted``); QUIT enters the UPDATE state and
removes them.

Like the rest of the server this imports nothing from the harness.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Final

from conformance.server import defects as d
from conformance.server import extension_handlers as extension
from conformance.server.config import IMPLEMENTATION
from conformance.server.maildrop import top
from conformance.server.vocabulary import CRLF, Command, Phase, Reply, err, log, multiline, ok

if TYPE_CHECKING:
    from conformance.server.session import Session

_DIGITS: Final = re.compile(r"[0-9]+")


def _message(session: Session, argument: str, *, deleted_ok: bool = False) -> int | Reply:
    """The 0-based index a message-number argument names, or the -ERR to send."""
    if not _DIGITS.fullmatch(argument):
        return Reply(err("invalid message number"))
    digits = argument.lstrip("0")
    # Bounded before int(): a message count never has 19 digits.
    number = int(digits) if 0 < len(digits) < 19 else 0
    if session.defect("renumber-after-dele"):
        live = _live(session)
        return live[number - 1] if 1 <= number <= len(live) else Reply(err("no such message"))
    if not 1 <= number <= len(session.drop):
        return Reply(err("no such message"))
    if number - 1 in session.deleted and not deleted_ok:
        return Reply(err(f"message {number} already deleted"))
    return number - 1


def _live(session: Session, *, deleted_too: bool = False) -> list[int]:
    return [i for i in range(len(session.drop)) if deleted_too or i not in session.deleted]


def _size(session: Session, index: int, *, listing: bool = True) -> int:
    """Message ``index``'s size for LIST (``listing``) or for STAT's total."""
    size = session.drop[index].size
    if session.defect("size-lf-count"):
        data = _read(session, index)
        size -= data.count(CRLF) if isinstance(data, bytes) else 0
    if session.defect("status-field-after-retr") and index in session.retrieved:
        size += len(d.STATUS_FIELD)
    if session.defect("size-counts-stored-cr") or (
        listing and session.defect("size-final-crlf-in-stat-only")
    ):
        size = _size_of_file(session, index, size)
    return size


def _size_of_file(session: Session, index: int, size: int) -> int:
    """The two size defects that count the stored file instead of what is served."""
    try:
        raw = session.drop.raw(index)
    except OSError:
        return size
    if session.defect("size-counts-stored-cr"):
        size = len(raw) + raw.count(b"\n") + (0 if raw.endswith(b"\n") else len(CRLF))
    if session.defect("size-final-crlf-in-stat-only") and _unended(raw):
        size -= len(CRLF)
    return size


def _unended(raw: bytes) -> bool:
    return bool(raw) and not raw.endswith(b"\n")


def _uid(session: Session, index: int) -> str:
    if session.defect("uidl-duplicate") and index == 1:
        index = 0
    if session.defect("uidl-from-headers") or session.defect("uidl-from-body"):
        data = _read(session, index)
        if isinstance(data, bytes):
            end = data.find(CRLF + CRLF)
            head, body = (data, b"") if end < 0 else (data[: end + 4], data[end + 4 :])
            part = head if session.defect("uidl-from-headers") else body
            return hashlib.sha1(part).hexdigest()
    uid = session.drop[index].uid
    if session.defect("uidl-unstable"):
        uid = hashlib.sha1((session.timestamp + uid).encode()).hexdigest()
    if session.defect("uidl-too-long"):
        uid = uid.ljust(d.LONG_UID, "x")
    return uid


def _read(session: Session, index: int) -> bytes | Reply:
    try:
        data = session.drop.read(index)
        unended = session.defect("no-crlf-before-terminator") and _unended(session.drop.raw(index))
    except OSError:
        log.exception("cannot read message %d", index + 1)
        return Reply(err("[SYS/TEMP] cannot read message"))
    if session.defect("status-field-after-retr") and index in session.retrieved:
        return d.STATUS_FIELD + data
    if unended:
        return data[: -len(CRLF)]
    return data


def stat_cmd(session: Session, command: Command) -> Reply:
    if command.args and not session.defect("arguments-ignored"):
        return Reply(err("STAT takes no argument"))
    live = _live(session, deleted_too=session.defect("stat-counts-deleted"))
    size = sum(_size(session, i, listing=False) for i in live)
    if session.defect("bare-lf"):
        return Reply(ok(f"{len(live)} {size}")[: -len(CRLF)] + b"\n")
    return Reply(ok(f"{len(live)} {size}"))


def list_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) > 1:
        return Reply(err("LIST takes at most one argument"))
    if command.args:
        index = _message(session, command.args[0])
        if isinstance(index, Reply):
            return index
        return Reply(ok(f"{index + 1} {_size(session, index)}"))
    live = _live(session, deleted_too=session.defect("list-shows-deleted"))
    size = sum(_size(session, i) for i in live)
    body = "".join(f"{i + 1} {_size(session, i)}\r\n" for i in live).encode()
    reply = multiline(f"{len(live)} messages ({size} octets)", body)
    if session.defect("missing-terminator") and not live:
        reply = reply[: -len(b".\r\n")]
    return Reply(reply)


def uidl_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) > 1:
        return Reply(err("UIDL takes at most one argument"))
    if command.args:
        index = _message(session, command.args[0])
        if isinstance(index, Reply):
            return index
        return Reply(ok(f"{index + 1} {_uid(session, index)}"))
    live = _live(session, deleted_too=session.defect("uidl-lists-deleted"))
    body = "".join(f"{i + 1} {_uid(session, i)}\r\n" for i in live).encode()
    reply = multiline("unique-id listing follows", body)
    if session.defect("extra-line-after-terminator"):
        reply += b"stray line\r\n"
    return Reply(reply)


def retr_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) != 1:
        return Reply(err("RETR takes one argument"))
    argument = command.args[0]
    if session.defect("retr-number-wraps") and _DIGITS.fullmatch(argument):
        argument = str(int(argument) % (1 << 32))  # read into a 32-bit counter
    index = _message(session, argument, deleted_ok=session.defect("retr-deleted"))
    if isinstance(index, Reply):
        return index
    data = _read(session, index)
    if isinstance(data, Reply):
        return data
    if extension.utf8_refused(session, data):
        return Reply(err(extension.UTF8_REFUSED))
    if session.defect("retr-drops-last-line"):
        data = data[: data.rfind(CRLF, 0, len(data) - len(CRLF)) + len(CRLF)]
    stuffed = not session.defect("no-dot-stuffing")
    session.retrieved.add(index)
    return Reply(multiline(f"{len(data)} octets", data, stuffed=stuffed))


def top_cmd(session: Session, command: Command) -> Reply:
    if session.defect("top-advertised-not-implemented"):
        return Reply(err("unknown command"))
    if len(command.args) != 2:
        return Reply(err("TOP takes a message number and a line count"))
    index = _message(session, command.args[0], deleted_ok=session.defect("top-deleted"))
    if isinstance(index, Reply):
        return index
    if not _DIGITS.fullmatch(command.args[1]):
        return Reply(err("invalid line count"))
    digits = command.args[1].lstrip("0")
    # More lines than any message has is the same as "all of them".
    lines = int(digits or "0") if len(digits) < 19 else 1 << 62
    data = _read(session, index)
    if isinstance(data, Reply):
        return data
    if extension.utf8_refused(session, data):
        return Reply(err(extension.UTF8_REFUSED))
    if session.defect("top-extra-line"):
        lines += 1
    head = top(data, lines)
    if session.defect("top-no-blank-line"):
        head = head.replace(CRLF + CRLF, CRLF, 1)
    return Reply(multiline("top of message follows", head))


def dele_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) != 1:
        return Reply(err("DELE takes one argument"))
    index = _message(session, command.args[0], deleted_ok=session.defect("dele-twice-ok"))
    if isinstance(index, Reply):
        return index
    if session.defect("dele-removes-at-once"):
        session.drop.remove([index])
    session.deleted.add(index)
    return Reply(ok(f"message {index + 1} deleted"))


def noop_cmd(session: Session, command: Command) -> Reply:
    if command.args and not session.defect("arguments-ignored"):
        return Reply(err("NOOP takes no argument"))
    return Reply(b"+ok\r\n" if session.defect("lower-case-ok") else ok(""))


def rset_cmd(session: Session, command: Command) -> Reply:
    if command.args and not session.defect("arguments-ignored"):
        return Reply(err("RSET takes no argument"))
    if not session.defect("rset-ignored"):
        session.deleted = set()
    live = len(session.drop)
    return Reply(ok(f"maildrop has {live} messages"))


def quit_cmd(session: Session, command: Command) -> Reply:
    """Enter UPDATE: remove exactly the marked messages, release the lock, close."""
    if command.args and not session.defect("arguments-ignored"):
        return Reply(err("QUIT takes no argument"))
    marked = session.deleted
    if session.defect("quit-keeps-deleted"):
        marked = set()
    elif session.defect("quit-removes-some"):
        marked = set(sorted(marked)[:1])
    if session.defect("quit-rewrites-snapshot") and session.user is not None:
        failed = session.drop.rewrite(session.config.maildir_for(session.user), marked)
    else:
        failed = session.drop.remove(marked)
    if session.defect("quit-loses-new-mail"):
        for path in session.drop.unlisted():
            path.unlink(missing_ok=True)
    removed = len(marked) - len(failed)
    left = len(session.drop) - removed
    # Released before the +OK leaves, so a client that logs in again right
    # after reading it never meets its own stale lock.
    session.phase = Phase.CLOSED
    session.release_lock()
    log.info("%s: UPDATE removed %d messages, %d failed", session.user, removed, len(failed))
    if failed:
        return Reply(err("[SYS/TEMP] some deleted messages not removed"), close=True)
    return Reply(ok(f"{IMPLEMENTATION} signing off ({left} messages left)"), close=True)
