"""Placeholders in scenario lines: ``{user}``, ``{size:2}``, ``{uid:1}`` ...

Values come from the leased accounts and from the mailbox model of the
session the line is sent on, so that a scenario says "the size of message 2"
and never hard-codes a number that depends on the corpus or the server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from conformance.model import SessionModel
from conformance.target import Account

PLACEHOLDER = re.compile(r"\{([a-z0-9]+)(?::(\d+))?\}")
ACCOUNT_KEYS = {
    "user": (1, "user"),
    "password": (1, "password"),
    "user2": (2, "user"),
    "password2": (2, "password"),
}
MODEL_KEYS = {"count", "size", "last", "beyond", "uid"}
KNOWN = set(ACCOUNT_KEYS) | MODEL_KEYS


class PlaceholderError(Exception):
    pass


def names_in(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text)]


def expand(text: str, accounts: Sequence[Account], model: SessionModel | None) -> str:
    """Replace every placeholder in ``text``; PlaceholderError when one has no value."""

    def value(m: re.Match[str]) -> str:
        key, arg = m.group(1), m.group(2)
        if key in ACCOUNT_KEYS:
            index, attr = ACCOUNT_KEYS[key]
            if index > len(accounts):
                raise PlaceholderError(f"{{{key}}} needs {index} accounts")
            return str(getattr(accounts[index - 1], attr))
        if key not in MODEL_KEYS:
            raise PlaceholderError(f"unknown placeholder {{{key}}}")
        if model is None:
            raise PlaceholderError(f"{{{key}}} needs known mailbox content and a logged-in session")
        if key == "count":
            return str(model.count)
        if key == "last":
            return str(model.last)
        if key == "beyond":
            return str(model.last + 1)
        if key == "size":
            return str(model.size if arg is None else model.message(int(arg)).size)
        uid = model.uid(int(arg)) if arg is not None else None
        if uid is None:
            raise PlaceholderError(f"{{uid:{arg}}}: no unique-id learned yet for message {arg}")
        return uid

    return PLACEHOLDER.sub(value, text)
