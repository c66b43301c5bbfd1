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
import random
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
    from conformance import messages_shaped

    builders: dict[str, Callable[[], tuple[Message, ...]]] = {
        "standard": _standard,
        "small": _small,
        "empty": _empty,
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


# -- building blocks -------------------------------------------------------

# No "from": a capitalised sentence would start with "From ", which mbox
# servers quote as ">From " and so change the message.
_WORDS = (  # noqa: SIM905 (a word list reads better as text)
    "the of and to in is that it was for on are as with his they at be this "
    "have or by one had not but what all were when we there can an your which their "
    "said if do will each about how up out them then she many some so these would "
    "other into has more her two like him see time could no make than first been its "
    "who now people my made over did down only way find use may water long little "
    "very after words called just where most know get through back much before go "
    "good new write our used me man too any day same right look think also around "
    "another came come work three word must because does part even place well such "
    "here take why things help put years different away again off went old number "
    "mailbox server client message protocol session octet listing greeting"
).split()


def _pick(rng: random.Random, n: int) -> int:
    # Only rng.random() keeps its sequence across Python versions; choice() and
    # randrange() do not, so indices are derived from it by hand.
    return int(rng.random() * n)


def sentence(rng: random.Random, width: int) -> str:
    """Words up to ``width`` characters (at least one word)."""
    out = _WORDS[_pick(rng, len(_WORDS))]
    while True:
        word = _WORDS[_pick(rng, len(_WORDS))]
        if len(out) + 1 + len(word) > width:
            return out
        out += " " + word


def _text_lines(rng: random.Random, count: int, width: int = 72) -> list[str]:
    lines = []
    for _ in range(count):
        line = sentence(rng, _pick(rng, width - 30) + 30)
        lines.append(line[0].upper() + line[1:] + ".")
    return lines


def corpus_headers(
    n: str,
    subject: str,
    date: str,
    extra: tuple[str, ...] = (),
    content_type: str = "text/plain; charset=us-ascii",
    encoding: str = "7bit",
) -> list[str]:
    return [
        f"From: Sender {n} <sender{n}@example.test>",
        f"To: Recipient {n} <rcpt{n}@example.test>",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{n}.corpus@pop3-conformance.example.test>",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
        f"Content-Transfer-Encoding: {encoding}",
        *extra,
    ]


def assemble(name: str, headers: list[str], body: list[bytes]) -> Message:
    head = b"".join(h.encode("ascii") + CRLF for h in headers) + CRLF
    return Message(name, head + b"".join(line + CRLF for line in body))


def _ascii(lines: list[str]) -> list[bytes]:
    return [line.encode("ascii") for line in lines]


# -- corpora ----------------------------------------------------------------


@functools.cache
def _standard() -> tuple[Message, ...]:
    rng = random.Random(1939)
    day = "Thu, 01 Jan 2026"

    m01 = assemble(
        "m01-plain",
        corpus_headers("m01", "m01: a short plain message", f"{day} 00:01:00 +0000"),
        _ascii(["Hello,", "", "This is a short plain message.", "", "-- ", "pop3-conformance"]),
    )

    # Each dot-leading line must come back from RETR (and TOP) unstuffed; a
    # server that does not stuff ends the response early at the bare ".".
    m02 = assemble(
        "m02-dots",
        corpus_headers("m02", "m02: lines that start with a dot", f"{day} 00:02:00 +0000"),
        _ascii(
            [
                "The next lines start with the termination octet.",
                ".",
                "..",
                "...",
                ".foo",
                ". ",
                ".Subject: this is a body line, not a header",
                "A line in between.",
                "..double dot at the start",
                "Trailing dot.",
                ".",
            ]
        ),
    )

    m03 = assemble(
        "m03-empty-body",
        corpus_headers("m03", "m03: headers only, empty body", f"{day} 00:03:00 +0000"),
        [],
    )

    boundary = "=_pop3-conformance-8bit"
    m04 = assemble(
        "m04-8bit",
        corpus_headers(
            "m04",
            "m04: 8-bit body in UTF-8 and latin-1",
            f"{day} 00:04:00 +0000",
            content_type=f'multipart/mixed; boundary="{boundary}"',
            encoding="8bit",
        ),
        [
            b"This is a multi-part message in MIME format.",
            b"",
            f"--{boundary}".encode(),
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit",
            b"",
            "Grüße aus Köln, ça va? Ærø, Øre, naïve café.".encode(),
            "Ελληνικά, русский, 日本語のテキスト, emoji ✉ 📬.".encode(),
            b"",
            f"--{boundary}".encode(),
            b"Content-Type: text/plain; charset=iso-8859-1",
            b"Content-Transfer-Encoding: 8bit",
            b"",
            "Latin-1: caf\xe9, na\xefve, \xa9 2026, \xbd + \xbc, se\xf1or.".encode("latin-1"),
            bytes(range(0xA0, 0xC0)),
            bytes(range(0xC0, 0x100)),
            b"",
            f"--{boundary}--".encode(),
        ],
    )

    paragraphs: list[str] = []
    for p in range(10):
        if p:
            paragraphs.append("")
        paragraphs.extend(_text_lines(rng, 5))
    m05 = assemble(
        "m05-paragraphs",
        corpus_headers(
            "m05",
            "m05: a message of several paragraphs,\r\n with a folded subject",
            f"{day} 00:05:00 +0000",
            extra=(
                "X-Folded: a header that is folded",
                "\tover two continuation lines",
                " for TOP to return whole",
            ),
        ),
        _ascii(paragraphs),
    )
    assert len(m05.body_lines) == 59  # ten paragraphs of five lines and nine blank lines

    m06 = assemble(
        "m06-medium",
        corpus_headers("m06", "m06: about ten kilobytes", f"{day} 00:06:00 +0000"),
        _ascii(_text_lines(rng, 195)),
    )

    large: list[str] = []
    target = 1_100_000
    total = 0
    n = 0
    while total < target:
        n += 1
        # Some lines start with a dot so that stuffing is exercised across the
        # server's buffer boundaries, not only in a short message.
        prefix = "." if n % 997 == 0 else ""
        line = f"{prefix}{n:06d} {sentence(rng, 70)}"
        large.append(line)
        total += len(line) + 2
    m07 = assemble(
        "m07-large",
        corpus_headers("m07", "m07: a message over one megabyte", f"{day} 00:07:00 +0000"),
        _ascii(large),
    )

    return (m01, m02, m03, m04, m05, m06, m07)


@functools.cache
def _small() -> tuple[Message, ...]:
    day = "Fri, 02 Jan 2026"
    bodies = ("First small message.", "Second small message.", "Third small message.")
    return tuple(
        assemble(
            f"s0{i}-small",
            [
                f"From: Small {i} <small{i}@example.test>",
                f"To: Rcpt {i} <rcpt-s{i}@example.test>",
                f"Subject: s0{i}: small",
                f"Date: {day} 00:0{i}:00 +0000",
                f"Message-ID: <s0{i}.corpus@pop3-conformance.example.test>",
            ],
            [body.encode("ascii")],
        )
        for i, body in enumerate(bodies, start=1)
    )


def _empty() -> tuple[Message, ...]:
    return ()


def message_named(name: str) -> Message:
    """The corpus message called ``name`` (e.g. ``m01-plain``); KeyError if none is."""
    for corpus_name in CORPORA:
        if corpus_name not in BENCHMARK_CORPORA:
            for message in _built(corpus_name):
                if message.name == name:
                    return message
    raise KeyError(name)
