"""What every command-family oracle offers, and the table that keys them by keyword.

An oracle knows, for the keywords of its family, what a conforming server
answers in a state (:meth:`Oracle.expect`), what is wrong with a positive
answer's content (:meth:`Oracle.check`) and what a positive answer changes
in the session's view (:meth:`Oracle.apply`).  States, arities and argument
grammars come from the spec (:mod:`conformance.pop3.spec`); oracles add what
the spec cannot say: numbers, sizes, content and unique-ids.
"""

from __future__ import annotations

from conformance.model.expectation import Discrepancy, Expectation
from conformance.model.view import SessionView
from conformance.pop3 import Response, State


class Oracle:
    keywords: tuple[str, ...] = ()

    def expect(self, view: SessionView, state: State, keyword: str, args: list[str]) -> Expectation:
        raise NotImplementedError

    def check(
        self,
        view: SessionView,
        keyword: str,
        args: list[str],
        exp: Expectation,
        response: Response,
    ) -> list[Discrepancy]:
        """What is wrong with a positive answer in TRANSACTION (content, numbers)."""
        return []

    def apply(self, view: SessionView, keyword: str, args: list[str], response: Response) -> None:
        """What a positive answer in TRANSACTION changes in the view."""
