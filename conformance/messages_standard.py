"""The ``standard``, ``small`` and ``empty`` corpora, and the blocks every corpus is built from.

What each message is for is listed in :mod:`conformance.messages`.  Text is
drawn from a fixed word list with :meth:`random.Random.random` and fixed
seeds, so the corpus is the same bytes on every run and every machine.
"""

from __future__ import annotations

import functools
import random

from conformance.messages import CRLF, Message

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
    """Words up to ``width`` characters (at least one word).

    The word that does not fit is drawn too: the corpus's bytes depend on
    how many numbers each sentence takes from ``rng``.
    """
    # _pick inlined: the 1 MB message takes 14,000 sentences, and every run
    # that uses the standard corpus builds them once.
    words, count, draw = _WORDS, len(_WORDS), rng.random
    parts = [words[int(draw() * count)]]
    size = len(parts[0])
    while True:
        word = words[int(draw() * count)]
        size += 1 + len(word)
        if size > width:
            return " ".join(parts)
        parts.append(word)


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
def standard() -> tuple[Message, ...]:
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
def small() -> tuple[Message, ...]:
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


def empty() -> tuple[Message, ...]:
    return ()
