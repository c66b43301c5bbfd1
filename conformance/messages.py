"""The message corpus: deterministic RFC 5322 messages that are seeded into a mailbox.

Each message is kept exactly as a conforming server must return it from RETR
after unstuffing: CRLF line ends, ending in CRLF.  Servers store mail with LF
line ends (maildir, mbox), so :meth:`Message.as_lf` gives the form that is
written to disk (a message of the ``shapes`` corpus has a stored form of its
own: no final newline, mixed line ends); RFC 1939 section 11 says the server
counts each stored line end as two octets, which makes :attr:`Message.size`
the value LIST must report.

Corpora (the ``mailbox:`` header of a scenario names one):

``standard``  (numbers as a fresh session sees them)
  1. ``m01-plain``       a tiny plain-text message
  2. ``m02-dots``        body lines ".", "..", "...", ".foo", ". " (byte-stuffing);
                         the last body line is "." too
  3. ``m03-empty-body``  headers and the empty line only
  4. ``m04-8bit``        8-bit body: a UTF-8 part and a latin-1 part
  5. ``m05-paragraphs``  about 60 body lines in paragraphs, folded headers (for TOP)
  6. ``m06-medium``      about 10 KB
  7. ``m07-large``       about 1.1 MB, lines of at most 78 characters, some starting with "."
``small``
  three short messages, each under 300 octets
``shapes``, ``long-line``, ``twins``
  the shapes real stores mangle (sizes) and near-duplicates (UIDL): see
  :mod:`conformance.messages_shaped`, which says what RETR must return for each
``empty``
  no message

Every message of ``standard`` and ``small`` has its own Message-ID, Date,
From, To and Subject.  No body line there matches ``^>*From `` (mbox servers
would quote it, so the bytes would change; the ``shapes`` corpus has such
lines on purpose).
Generation draws only on :meth:`random.Random.random` with fixed seeds, the one
part of :mod:`random` whose sequence Python promises to keep across versions, so
the corpus is the same bytes on every run and every machine.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

CRLF = b"\r\n"

CORPORA: tuple[str, ...] = ("standard", "small", "empty", "utf8", "shapes", "long-line")
CORPORA += ("twins", "huge")  # utf8 and every corpus after it: messages_shaped.py
# Corpora for benchmarks, not for the suites or the explorer.
BENCHMARK_CORPORA: tuple[str, ...] = ("huge",)
# Messages up to this size keep their LF form once made (see Message.lf_pieces).
LF_CACHED = 4 << 20
# The size of the one message of the "huge" corpus.
HUGE_OCTETS = 50 << 20


@dataclass(frozen=True)
class Message:
    """One message of a corpus.

    ``data`` is the message with CRLF line ends, exactly what RETR must return
    after unstuffing.
    """

    name: str
    data: bytes
    # The octets a store holds, when they are not ``data`` with LF line ends
    # (the shapes corpus: a last line without a newline, mixed line ends).
    stored: bytes | None = None

    @property
    def size(self) -> int:
        """Octets with CRLF line ends and without stuffing (RFC 1939 sections 5 LIST and 11)."""
        return len(self.data)

    @property
    def unended(self) -> bool:
        """Stored without a line end after the last line: RETR adds the CRLF."""
        return self.stored is not None and bool(self.stored) and not self.stored.endswith(b"\n")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The sizes LIST may report: :attr:`size`, and for an :attr:`unended`
        message also two octets less.  RFC 1939 section 3 ends a multi-line
        answer with "the five octets CRLF.CRLF"; the CRLF the server adds
        after an unended last line is read as the message's (what the client
        receives) or as the terminator's (what the store holds).  Either
        count is the message's size; a session must keep to one."""
        return (self.size, self.size - len(CRLF)) if self.unended else (self.size,)

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def header_block(self) -> bytes:
        """The headers up to and including the empty line that ends them."""
        if self.data.startswith(CRLF):
            return CRLF
        end = self.data.find(CRLF + CRLF)
        if end < 0:
            # No empty line: the whole message is header (not in our corpora).
            return self.data
        return self.data[: end + 4]

    @property
    def body_lines(self) -> list[bytes]:
        """The body lines, without their CRLF."""
        body = self.data[len(self.header_block) :]
        if not body:
            return []
        lines = body.split(CRLF)
        # A body ending in CRLF leaves one empty string after the split.
        if lines[-1] == b"":
            lines.pop()
        return lines

    @functools.cached_property
    def body_line_count(self) -> int:
        """``len(body_lines)``, without splitting the body: the model asks it of
        every TOP, and a corpus message may be megabytes long."""
        start = len(self.header_block)
        if start >= len(self.data):
            return 0
        ends = self.data.count(CRLF, start)
        return ends if self.data.endswith(CRLF) else ends + 1

    def top(self, lines: int) -> bytes:
        """What ``TOP n lines`` must return: the header block and the first ``lines`` body lines.

        RFC 1939 section 7: when more lines are asked for than the body has,
        the server sends the entire message.
        """
        if lines < 0:
            raise ValueError(f"TOP takes a non-negative number of lines, not {lines}")
        if lines >= self.body_line_count:
            return self.data
        # Fewer lines than the body has: each of them ends in CRLF.
        end = len(self.header_block)
        for _ in range(lines):
            end = self.data.index(CRLF, end) + 2
        return self.data[:end]

    def as_lf(self) -> bytes:
        """The message as maildir and mbox files store it: LF line ends, or its stored form."""
        return b"".join(self.lf_pieces())

    def lf_pieces(self, size: int = 1 << 20) -> Iterator[bytes]:
        """:meth:`as_lf` in pieces of about ``size`` octets, each cut after a line end.

        A provisioner writes a 50 MB message piece by piece: a second whole
        copy of it in LF form would double what the harness holds.
        """
        if self.stored is not None:
            yield self.stored
            return
        if self.size <= LF_CACHED:
            yield self._lf
            return
        data, start = self.data, 0
        while start < len(data):
            end = data.find(CRLF, start + size)
            end = len(data) if end < 0 else end + 2
            yield data[start:end].replace(CRLF, b"\n")
            start = end

    @functools.cached_property
    def _lf(self) -> bytes:
        # Kept for ordinary messages: an exploration seeds the same corpus
        # thousands of times.
        return self.data.replace(CRLF, b"\n")


def corpus(name: str) -> list[Message]:
    """The messages of corpus ``name``, in mailbox order (a new list each call)."""
    return list(_built(name))


@functools.cache
def _built(name: str) -> tuple[Message, ...]:
    # Built once per process: the corpus is deterministic, and the 1.1 MB
    # message costs more to build than a whole exploration step.
    from conformance import messages_shaped, messages_standard

    builders: dict[str, Callable[[], tuple[Message, ...]]] = {
        "standard": messages_standard.standard,
        "small": messages_standard.small,
        "empty": messages_standard.empty,
        "utf8": messages_shaped.utf8,
        "shapes": messages_shaped.shapes,
        "long-line": messages_shaped.long_lines,
        "twins": messages_shaped.twins,
        "huge": messages_shaped.huge,
    }
    try:
        build = builders[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}") from None
    return build()


def message_named(name: str) -> Message:
    """The corpus message called ``name`` (e.g. ``m01-plain``); KeyError if none is."""
    for corpus_name in CORPORA:
        if corpus_name not in BENCHMARK_CORPORA:
            for message in _built(corpus_name):
                if message.name == name:
                    return message
    raise KeyError(name)
