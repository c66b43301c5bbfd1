"""Corpora of particular shapes: what real stores mangle, near-duplicates, UTF-8, 50 MB.

``shapes``: one message for each form a store keeps a message in, or a line
that stores treat specially (numbers as a fresh session sees them).  Each
:class:`~conformance.messages.Message` keeps what a conforming RETR returns
(``data``: CRLF line ends, the last line ended, byte-stuffing undone) and,
where it differs from ``data`` with LF line ends, the octets the store holds
(``stored``, written by the maildir, mbox and exec provisioners; LMTP, SMTP
and IMAP carry ``data``, since those protocols send CRLF).  RFC 1939 section
3: a multi-line answer ends with "CRLF.CRLF"; section 11: "the POP3 server
simply counts each occurrence of this character in a message as two octets",
where "this character" is the store's end-of-line.  So a message's size is
the octets RETR transmits before the "." line: ``len(data)``.  LIST, STAT,
RETR and TOP must agree on it, and keep agreeing for the whole session.

  1. ``x01-no-final-newline``  stored without a line end after the last line.
     RETR adds the CRLF the last line lacks: the answer must end with "the
     five octets CRLF.CRLF".  Whether those two octets belong to the message
     (what the client receives: ``len(data)``) or to the terminator (what the
     store holds: two less) the RFC does not say, and Dovecot and Cyrus count
     the second way; the model accepts either (:attr:`Message.sizes`), but a
     session must keep to the one it gave first, and STAT's total must be the
     sum of the scan listings.  An mbox cannot store this form (an entry ends
     with a line end); there it is an ordinary message.
  2. ``x02-bare-lf``           the header lines stored with CRLF, the body lines
     with a bare LF.  RETR sends every line end as CRLF, whichever form the
     store has, and each counts two octets: never one (LF), never three (a
     stored CR and an LF counted twice).
  3. ``x03-empty-body``        the header block and its empty line, no body.
     RETR and TOP n 0 are the whole message.
  4. ``x04-8bit``              an 8-bit UTF-8 body (Content-Transfer-Encoding:
     8bit): every octet sent as it is, counted once.
  5. ``x05-bare-cr``           a CR inside a body line, not followed by LF.  It
     is an octet of its line, not a line end: RETR sends it as it is (neither
     dropped nor turned into CRLF) and it counts one octet.  RFC 1939 section
     11 assumes RFC 822 messages, which have no bare CR; passing the octet on
     is what leaves the message as it was delivered.
  6. ``x06-from-lines``        body lines that start with "From " (the first
     right after the empty line), ">From " and ">>From ".  RETR returns them as
     delivered.  An mbox store quotes them; a server that reads its mbox as
     mboxo returns ">From " for "From ".  That is the store's rewrite, learned
     between sessions by calibration (``--calibrate``, always on in the lab);
     the sizes must count what RETR returns.
  7. ``x07-header-only``       header fields, no empty line, no body.  RETR is
     those lines; TOP n k with k >= 1 is the entire message ("greater than
     the number of lines in the body").  TOP n 0 asks for "the blank line
     separating the headers from the body", which this message does not have:
     the scenarios leave it unjudged.

``long-line``: one message, ``l01-long-line``, with a body line of 1,499
octets (RFC 5322 allows 998 in a message; POP3 sets no limit): RETR sends it
whole, never folded or cut.  It is a corpus of its own because a mail system
may refuse it (RFC 5321 section 4.5.3.1.6 limits an SMTP text line to 1000
octets): a scenario whose corpus the mail system refuses is ``unsupported``,
and only this one should be.

Messages 3 and 4 stand where the standard corpus has its empty body and its
8-bit body, so the ``empty-body`` and ``8bit`` shapes hold for both.

What the model does with these inside a session (:mod:`conformance.model.seen`):
the first LIST, STAT, RETR or whole-message TOP of a message fixes, for that
session, the size and content every later answer must have (the octets RETR
sends fix the size too, except for message 1's two readings).  Calibration
learns what the server stored only before a session has seen the message:
a change between sessions is the store's business, a change inside one is a
finding (RFC1939-5.LIST-5 for a size, RFC1939-5.RETR-1 or RFC1939-7.TOP-2 for
the content).

``twins``: near-duplicates for UIDL (RFC 1939 section 7: a unique-id "uniquely
identifies a message within a maildrop"; "Clients should be able to handle a
situation where two identical copies of a message in a maildrop have the same
unique-id").  Only messages 1 and 4 may share a unique-id.

  1. ``d01-original``     a short message
  2. ``d02-same-header``  d01's header block, Message-ID included, another body
  3. ``d03-same-body``    d01's body under header fields of its own
  4. ``d04-copy``         an identical copy of d01
  5. ``d05-same-size``    d01's header block and a body of the same length
     that differs in its last line: the same headers and the same size

``utf8``: one message with raw UTF-8 in its header fields (RFC 6532), for
RFC 6856.  ``huge``: one message of about 50 MB, for the benchmarks.
"""

from __future__ import annotations

import random
from dataclasses import replace

from conformance.messages import CRLF, HUGE_OCTETS, Message
from conformance.messages_standard import assemble, corpus_headers, sentence

LONG_LINE_OCTETS = 1499
_SHAPES_DAY = "Sun, 04 Jan 2026"
_TWINS_DAY = "Mon, 05 Jan 2026"


def _ascii(lines: list[str]) -> list[bytes]:
    return [line.encode("ascii") for line in lines]


def _headers(
    n: str, subject: str, minute: int, content_type: str = "text/plain; charset=us-ascii"
) -> list[str]:
    encoding = "7bit" if content_type.endswith("us-ascii") else "8bit"
    date = f"{_SHAPES_DAY} 00:{minute:02d}:00 +0000"
    return corpus_headers(n, f"{n}: {subject}", date, content_type=content_type, encoding=encoding)


def long_line() -> bytes:
    """A line of :data:`LONG_LINE_OCTETS` octets: numbered words, no trailing space."""
    line = " ".join(f"w{i:04d}" for i in range(250)).encode("ascii")
    assert len(line) == LONG_LINE_OCTETS
    return line


def shapes() -> tuple[Message, ...]:
    plain = assemble(
        "x01-no-final-newline",
        _headers("x01", "the last line has no line end", 1),
        _ascii(["The store holds no newline after the next line.", "This is the last line."]),
    )
    x01 = replace(plain, stored=plain.as_lf()[:-1])

    mixed = assemble(
        "x02-bare-lf",
        _headers("x02", "header lines end in CRLF, body lines in a bare LF", 2),
        _ascii(["This body is stored with bare LF line ends,", "", "the header block with CRLF."]),
    )
    head = len(mixed.header_block)
    x02 = replace(mixed, stored=mixed.data[:head] + mixed.data[head:].replace(CRLF, b"\n"))

    x03 = assemble(
        "x03-empty-body", _headers("x03", "the header block only, then the empty line", 3), []
    )

    x04 = assemble(
        "x04-8bit",
        _headers(
            "x04",
            "8-bit text in the body",
            4,
            content_type="text/plain; charset=utf-8",
        ),
        [
            "Grüße aus Köln, ça va? Ærø, naïve café.".encode(),
            "Ελληνικά, русский, 日本語のテキスト.".encode(),
        ],
    )

    x05 = assemble(
        "x05-bare-cr",
        _headers("x05", "a carriage return inside a line", 5),
        [b"Before a bare CR\rand after it, on the same line.", b"An ordinary last line."],
    )

    x06 = assemble(
        "x06-from-lines",
        _headers("x06", "lines that mbox stores quote", 6),
        _ascii(
            [
                "From the first body line on, mbox stores quote lines like this one.",
                ">From here the line starts with a quoted From.",
                ">>From here it is quoted twice.",
                "An ordinary line.",
                "From again, after an ordinary line.",
                "Fromage is not a From_ line.",
            ]
        ),
    )

    fields = _headers("x07", "header fields only, no empty line and no body", 7)
    x07 = Message("x07-header-only", b"".join(f.encode("ascii") + CRLF for f in fields))

    return (x01, x02, x03, x04, x05, x06, x07)


def long_lines() -> tuple[Message, ...]:
    return (
        assemble(
            "l01-long-line",
            _headers("l01", "a line longer than 998 octets", 9),
            [
                b"The next line is longer than RFC 5322 allows.",
                long_line(),
                b"A short line after it.",
            ],
        ),
    )


def twins() -> tuple[Message, ...]:
    header = corpus_headers(
        "d01", "d01: a message and its near-duplicates", f"{_TWINS_DAY} 00:01:00 +0000"
    )
    first = [
        "A short message with near-duplicates in the same maildrop.",
        "Its header block, its body and its size recur in them.",
        "The last line ends with: one.",
    ]
    d01 = assemble("d01-original", header, _ascii(first))
    d02 = assemble(
        "d02-same-header",
        header,
        _ascii(["Another body under the very same header block.", "Message-ID included."]),
    )
    d03 = assemble(
        "d03-same-body",
        corpus_headers(
            "d03", "d03: d01's body under other header fields", f"{_TWINS_DAY} 00:03:00 +0000"
        ),
        _ascii(first),
    )
    d04 = Message("d04-copy", d01.data)
    d05 = assemble("d05-same-size", header, _ascii([*first[:-1], "The last line ends with: two."]))
    assert d05.size == d01.size and d05.data != d01.data
    return (d01, d02, d03, d04, d05)


def utf8() -> tuple[Message, ...]:
    """One message with raw UTF-8 in its header fields (RFC 6532), for RFC 6856."""
    head = (
        "From: Zoë Ångström <zoe@example.test>\r\n"
        "To: Rcpt <rcpt-u1@example.test>\r\n"
        "Subject: u01: Grüße aus Köln\r\n"
        "Date: Sat, 03 Jan 2026 00:01:00 +0000\r\n"
        "Message-ID: <u01.corpus@pop3-conformance.example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode()
    return (Message("u01-utf8-headers", head + "Grüße.\r\n".encode()),)


def huge() -> tuple[Message, ...]:
    """One message of about 50 MB (benchmarks: a RETR that must stream, not pile up)."""
    head = (
        b"From: Bench <bench@example.test>\r\n"
        b"To: Rcpt <rcpt@example.test>\r\n"
        b"Subject: h01: a large message\r\n"
        b"Date: Sat, 03 Jan 2026 00:02:00 +0000\r\n"
        b"Message-ID: <h01.corpus@pop3-conformance.example.test>\r\n\r\n"
    )
    rng = random.Random(1939)
    lines = [("." if n % 16 == 0 else "") + sentence(rng, 72) for n in range(64)]
    block = b"".join(line.encode() + CRLF for line in lines)
    # One join: the message is built without a second whole copy of it.
    return (Message("h01-huge", b"".join([head] + [block] * (HUGE_OCTETS // len(block)))),)
