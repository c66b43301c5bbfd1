"""What every command-family oracle offers, and the table that keys them by keyword.

An oracle knows, for the keywords of its family, what a conforming server
answers in a state (:meth:`Oracle.expect`), what is wrong with a positive
answer's content (:meth:`Oracle.check`) and what a positive answer changes
in the session's view (:meth:`Oracle.apply`).  States, arities and argument
grammars come from the spec (:mod:`conformance.pop3.spec`); oracles add what
the spec cannot say: numbers, sizes, content and unique-ids.
"""

from __future__ import annotations

from typing import NamedTuple

from conformance.model.expectation import Discrepancy, Expectation
from conformance.model.view import SessionView
from conformance.pop3 import Response, State


class Asked(NamedTuple):
    """A command as an oracle sees it: the session's view, the keyword and its arguments."""

    view: SessionView
    keyword: str
    args: list[str]


class Oracle:
    keywords: tuple[str, ...] = ()

    def expect(self, asked: Asked, state: State) -> Expectation:
        raise NotImplementedError

    def check(self, asked: Asked, exp: Expectation, response: Response) -> list[Discrepancy]:
        """What is wrong with a positive answer in TRANSACTION (content, numbers)."""
        return []

    def apply(self, asked: Asked, response: Response) -> None:
        """What a positive answer in TRANSACTION changes in the view."""
