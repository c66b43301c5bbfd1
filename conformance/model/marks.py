"""DELE, RSET, NOOP and QUIT: the deletion marks and the end of a session.

RFC 1939 sections 4 to 6.
"""

from __future__ import annotations

from conformance.model.expectation import OK, Expectation
from conformance.model.oracle import Asked, Oracle
from conformance.pop3 import COMMANDS, Response, State


class Marks(Oracle):
    keywords = ("DELE", "RSET", "NOOP", "QUIT")

    def expect(self, asked: Asked, state: State) -> Expectation:
        view, keyword, args = asked
        if keyword == "DELE":
            n = view.number(COMMANDS["DELE"], args[0])
            if isinstance(n, Expectation):
                return n
            return Expectation(OK, "RFC1939-5.DELE-1", f"message {n} is marked as deleted")
        if keyword == "QUIT" and state is not State.TRANSACTION:
            return Expectation(OK, "RFC1939-4.QUIT-1", "QUIT ends the session")
        if keyword == "QUIT":
            return Expectation(OK, "RFC1939-6.QUIT-1", "QUIT removes the marked messages")
        if keyword == "NOOP":
            return Expectation(OK, "RFC1939-5.NOOP-1", "NOOP replies with a positive response")
        return Expectation(OK, "RFC1939-5.RSET-1", "RSET unmarks and replies positively")

    def apply(self, asked: Asked, response: Response) -> None:
        view, keyword, args = asked
        if keyword == "DELE" and args and args[0].isascii() and args[0].isdigit():
            n = int(args[0])
            if 1 <= n <= view.last:
                view.deleted.add(n)
        elif keyword == "RSET":
            view.deleted.clear()
        elif keyword == "QUIT":
            view.commit_marks()
