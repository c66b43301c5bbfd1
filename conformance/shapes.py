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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from conformance.messages import Message

LARGE_OCTETS: Final = 1_000_000


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
