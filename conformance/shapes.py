"""What a scenario's checks rely on in its corpus, beyond "some known messages".

Most scenarios that declare ``mailbox: standard`` or ``small`` need known
messages, of any kind: the model judges every answer against what it knows,
whatever the messages are.  Some rely on a particular message of the corpus:
a body with dot lines (byte-stuffing), an empty body, a message over 1 MB.
Seeded, the corpus always has them.  A mailbox judged as it is
(``--provision existing``) has them only by chance: a scenario lists what it
relies on in its ``shapes:`` header, and runs there only where the learned
messages have each shape (a shape that only the corpus can have keeps the
scenario ``unsupported``, with the reason).

Every shape is a predicate over the mailbox's messages (in order) and the
highest message number the scenario names; the corpus a scenario declares
must satisfy its shapes (``tests/test_shapes.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from conformance.messages import CRLF, Message

LARGE_OCTETS: Final = 1_000_000
LONG_LINE: Final = 998  # RFC 5322 section 2.1.1: a line of a message is at most this long
_BARE_CR: Final = re.compile(rb"\r(?!\n)")
_FROM_LINE: Final = re.compile(rb"^>*From ", re.MULTILINE)


@dataclass(frozen=True)
class Shape:
    name: str
    meaning: str  # completes "relies on ..."
    holds: Callable[[Sequence[Message], int], bool]
    # Only the corpus has it (exact lines a check looks for): never a learned mailbox.
    corpus_only: bool = False


def _nth(messages: Sequence[Message], n: int) -> Message | None:
    return messages[n - 1] if len(messages) >= n else None


def _dot_lines(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 2)
    return m is not None and {b".", b"..", b".foo", b". "} <= set(m.body_lines)


def _empty_body(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 3)
    return m is not None and not m.body_lines


def _eight_bit(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 4)
    return m is not None and not m.data[len(m.header_block) :].isascii()


def _large(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 7)
    return m is not None and m.size > LARGE_OCTETS


def _no_final_newline(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 1)
    return m is not None and m.stored is not None and not m.stored.endswith(b"\n")


def _bare_lf(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 2)
    stored = m.stored if m is not None else None
    return stored is not None and CRLF in stored and stored.count(b"\n") > stored.count(CRLF)


def _bare_cr(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 5)
    return m is not None and _BARE_CR.search(m.data) is not None


def _from_lines(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 6)
    return m is not None and _FROM_LINE.search(m.data[len(m.header_block) :]) is not None


def _long_line(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 1)
    return m is not None and any(len(line) > LONG_LINE for line in m.data.split(CRLF))


def _header_only(messages: Sequence[Message], named: int) -> bool:
    m = _nth(messages, 7)
    return m is not None and not m.body_lines and not m.header_block.endswith(CRLF + CRLF)


def _near_duplicates(messages: Sequence[Message], named: int) -> bool:
    if len(messages) < 5:
        return False
    first, same_head, same_body, copy, same_size = messages[:5]
    distinct = len({m.sha256 for m in (first, same_head, same_body, same_size)}) == 4
    return (
        distinct
        and same_head.header_block == first.header_block
        and same_body.body_lines == first.body_lines
        and copy.data == first.data
        and same_size.header_block == first.header_block
        and same_size.size == first.size
    )


def _ascii(messages: Sequence[Message], named: int) -> bool:
    return all(m.data.isascii() for m in messages)


def _exact_count(messages: Sequence[Message], named: int) -> bool:
    return len(messages) == named


_ALL: Final = (
    Shape(
        "dot-lines",
        "message 2's body lines '.', '..', '.foo' and '. ' (the standard corpus's m02-dots)",
        _dot_lines,
        corpus_only=True,
    ),
    Shape("empty-body", "a message 3 with an empty body", _empty_body),
    Shape("8bit", "a message 4 with 8-bit octets in its body", _eight_bit),
    Shape("large", f"a message 7 over {LARGE_OCTETS:,} octets", _large),
    Shape("ascii", "a mailbox whose messages are ASCII only", _ascii),
    # The shapes corpus (conformance.messages_shaped): forms a store keeps.
    Shape(
        "no-final-newline",
        "a message 1 stored without a line end after its last line (the shapes corpus's x01)",
        _no_final_newline,
        corpus_only=True,
    ),
    Shape(
        "bare-lf",
        "a message 2 stored with CRLF header lines and bare LF body lines (the shapes corpus's "
        "x02)",
        _bare_lf,
        corpus_only=True,
    ),
    Shape("bare-cr", "a message 5 with a CR inside a line", _bare_cr),
    Shape(
        "from-lines", "a message 6 with body lines that start with 'From ' or '>From '", _from_lines
    ),
    Shape("long-line", f"a message 1 with a line over {LONG_LINE} octets", _long_line),
    Shape(
        "header-only", "a message 7 of header fields with no empty line after them", _header_only
    ),
    Shape(
        "near-duplicates",
        "messages 1 to 5 as the twins corpus has them: 2 with 1's header block, 3 with 1's "
        "body, 4 a copy of 1, 5 with 1's header block and size",
        _near_duplicates,
    ),
    Shape(
        "exact-count",
        "a mailbox that holds exactly the messages the scenario names",
        _exact_count,
    ),
)
SHAPES: Final[dict[str, Shape]] = {shape.name: shape for shape in _ALL}


def unmet(names: Sequence[str], messages: Sequence[Message], named: int) -> list[Shape]:
    """The shapes among ``names`` that ``messages`` (learned, not seeded) do not have."""
    return [
        SHAPES[n] for n in names if SHAPES[n].corpus_only or not SHAPES[n].holds(messages, named)
    ]
