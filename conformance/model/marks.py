"""DELE, RSET, NOOP and QUIT: the deletion marks and the end of a session.

RFC 1939 sections 4 to 6.
"""

from __future__ import annotations

from conformance.model.expectation import ERR, OK, Expectation, lenient_extra, lenient_padding
from conformance.model.oracle import Oracle
from conformance.model.view import SessionView
from conformance.pop3 import COMMANDS, Response, State, check_arguments


class Marks(Oracle):
    keywords = ("DELE", "RSET", "NOOP", "QUIT")

    def expect(self, view: SessionView, state: State, keyword: str, args: list[str]) -> Expectation:
        if keyword == "DELE":
            return self._dele(view, args)
        if keyword == "QUIT" and state is not State.TRANSACTION:
            exp = Expectation(OK, "RFC1939-4.QUIT-1", "QUIT ends the session")
        elif keyword == "QUIT":
            exp = Expectation(OK, "RFC1939-6.QUIT-1", "QUIT removes the marked messages")
        elif keyword == "NOOP":
            exp = Expectation(OK, "RFC1939-5.NOOP-1", "NOOP replies with a positive response")
        else:
            exp = Expectation(OK, "RFC1939-5.RSET-1", "RSET unmarks and replies positively")
        return lenient_extra(exp) if args else exp

    @staticmethod
    def _dele(view: SessionView, args: list[str]) -> Expectation:
        spec = COMMANDS["DELE"]
        problem = check_arguments(spec, args)
        if problem is not None and problem.kind != "bad":
            return Expectation(ERR, problem.requirement, problem.reason)
        n = view.number(spec, args[0])
        if isinstance(n, Expectation):
            return n
        exp = Expectation(OK, "RFC1939-5.DELE-1", f"message {n} is marked as deleted")
        return lenient_padding(exp, args[0])

    def apply(self, view: SessionView, keyword: str, args: list[str], response: Response) -> None:
        if keyword == "DELE" and args and args[0].isascii() and args[0].isdigit():
            n = int(args[0])
            if 1 <= n <= view.last:
                view.deleted.add(n)
        elif keyword == "RSET":
            view.deleted.clear()
        elif keyword == "QUIT":
            view.commit_marks()
