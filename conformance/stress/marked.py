"""The messages a load run seeds and delivers, each named by a marker header.

Every message carries ``X-Pop3-Stress: RUN/USER/SERIAL``, unique in the run:
a session that reads the header block (TOP n 0, or RETR) knows which message
it holds, whatever number or unique-id the server gave it.  That is what the
invariants are kept in: which messages were delivered, which were removed at
an UPDATE, and which are there at the end.

Mail the run did not put there (a mailbox that is only read) has no marker;
it is named by a digest of its header block instead (:func:`identity`).
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Final

from conformance.messages import Message

HEADER: Final = "X-Pop3-Stress"
_MARKER = re.compile(rb"^x-pop3-stress:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
# Unmarked messages are named "hdr:" and the start of the header block's SHA-256.
UNMARKED: Final = "hdr:"
_WORDS: Final = (
    *("mailbox", "lock", "update", "quit", "retrieve", "unique", "session", "server"),
    *("client", "message", "number", "octets", "deleted", "marked", "listing"),
    *("transaction", "authorization", "greeting"),
)


def marker(run_id: str, user: str, serial: str) -> str:
    return f"{run_id}/{user}/{serial}"


def owner(identity: str) -> str | None:
    """The user a marker was made for (None for an unmarked message)."""
    if identity.startswith(UNMARKED):
        return None
    parts = identity.split("/")
    return parts[1] if len(parts) == 3 else None


def of_run(identity: str, run_id: str) -> bool:
    return identity.startswith(run_id + "/")


def message(run_id: str, user: str, serial: str) -> Message:
    """A small message for ``user`` with its marker; the body is derived from the marker.

    Some bodies have lines that start with "." (byte-stuffed on the wire)
    and the sizes vary, so that framing is exercised under load too.
    """
    name = marker(run_id, user, serial)
    rng = random.Random(name)
    lines = []
    for _ in range(rng.randrange(3, 40)):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 12)))
        lines.append(("." if rng.random() < 0.1 else "") + words)
    headers = [
        f"From: Stress <stress@{run_id}.example.test>",
        f"To: {user} <{user}@example.test>",
        f"Subject: load test message {serial}",
        "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        f"Message-ID: <{serial}.{run_id}@pop3-conformance.example.test>",
        f"{HEADER}: {name}",
    ]
    text = "\r\n".join([*headers, "", *lines]) + "\r\n"
    return Message(f"stress-{serial}", text.encode("ascii"))


def identity(header_block: bytes) -> str:
    """The marker of a message whose header block (or whole text) this is, or its digest."""
    end = header_block.find(b"\r\n\r\n")
    head = header_block if end < 0 else header_block[: end + 2]
    found = _MARKER.search(head)
    if found is not None:
        return found.group(1).decode("ascii", "replace")
    return UNMARKED + hashlib.sha256(head).hexdigest()[:20]
