"""The committed content of one mailbox, shared by all its sessions.

Messages are tracked by an internal id, not by number: numbers belong to a
session (RFC 1939 section 4 fixes them at login), ids belong to the maildrop.
That is what lets a session keep its own view after another session commits
deletions (the "snapshot" outcome of RFC1939-4-2) and what lets the maildrop
remember each message's unique-id across sessions (RFC1939-7.UIDL-5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from conformance.drift import seeded_names
from conformance.messages import Message

if TYPE_CHECKING:
    from conformance.model.session import SessionModel
    from conformance.pop3 import ClientConnection

DEFAULT_SUPPORTS = frozenset({"TOP", "UIDL"})


class Maildrop:
    def __init__(self, messages: Sequence[Message], *, server_fields: bool = False) -> None:
        """``server_fields``: accept header fields the server adds to stored
        messages (fields the seed did not have), learning the new content
        instead of calling it a difference; on for real servers (calibration)."""
        self.seeded: frozenset[bytes] = (
            seeded_names(m.data for m in messages) if server_fields else frozenset()
        )
        self.content: dict[int, Message] = {}  # every id ever seen, committed or not
        self.order: list[int] = []  # the committed messages, in mailbox order
        # id -> (uid, serial of the session that first reported it)
        self._uids: dict[int, tuple[str, int]] = {}
        self._next_id = 1
        self._next_session = 1
        for message in messages:
            self.append(message)

    @property
    def messages(self) -> list[Message]:
        """The committed messages, in order."""
        return [self.content[i] for i in self.order]

    def append(self, message: Message) -> int:
        """A message delivered to the mailbox (seen by sessions that log in afterwards); its id."""
        mid = self._next_id
        self.content[mid] = message
        self.order.append(mid)
        self._next_id += 1
        return mid

    def open_session(
        self,
        supports: frozenset[str] = DEFAULT_SUPPORTS,
        connection: ClientConnection | None = None,
    ) -> SessionModel:
        """A new session in the AUTHORIZATION state.

        ``supports`` names the optional commands (TOP, UIDL) the server
        implements: for those, a refusal is a discrepancy; for the others
        ``-ERR`` is accepted.  ``connection`` is the connection whose state
        the session follows (a new one, greeted, when the model is used alone).
        """
        from conformance.model.session import SessionModel

        serial = self._next_session
        self._next_session += 1
        return SessionModel(self, frozenset(s.upper() for s in supports), serial, connection)

    def replace_content(self, index: int, data: bytes) -> None:
        """Calibrate committed message ``index`` (0-based) to what the server really stores.

        Some servers rewrite what they were given (Cyrus adds headers, mbox
        servers add status headers); once the harness has seen what the server
        returns, later checks compare with that.  Open sessions see the change too.
        """
        self.replace(self.order[index], data)

    def replace(self, mid: int, data: bytes) -> None:
        # The name and the form the harness stored stay (an unended last line
        # still allows its two sizes); the content is the server's.
        self.content[mid] = dataclasses.replace(self.content[mid], data=data)

    def commit(self, removed: Iterable[int]) -> None:
        gone = set(removed)
        # Another session may have removed some of them already (snapshot servers).
        self.order = [i for i in self.order if i not in gone]

    def learned(self, mid: int) -> tuple[str, int] | None:
        return self._uids.get(mid)

    def learn(self, mid: int, uid: str, serial: int) -> None:
        # The first uid seen is the reference; a later different one is a
        # discrepancy the checks report, not a new truth.
        self._uids.setdefault(mid, (uid, serial))
