"""The shapes and twins corpora: stored forms, what RETR must return, near-duplicates."""

from __future__ import annotations

import re

import pytest

from conformance.messages import CRLF, Message, corpus, message_named
from conformance.messages_shaped import LONG_LINE_OCTETS
from conformance.provision import mbox_entry
from conformance.server.maildrop import normalise, top
from conformance.shapes import SHAPES


def shaped() -> dict[str, Message]:
    return {m.name: m for m in corpus("shapes")}


def octets_as_served(stored: bytes) -> int:
    """RFC 1939 section 11, counted by hand: every octet once, every line end (LF,
    or CR LF) twice, and the CRLF a last line without one gets."""
    ends = stored.count(b"\n")
    crs_of_ends = stored.count(CRLF)
    missing = 0 if stored.endswith(b"\n") else 2
    return len(stored) - ends - crs_of_ends + 2 * ends + missing


def test_the_shapes_corpus_in_order() -> None:
    assert [m.name for m in corpus("shapes")] == [
        "x01-no-final-newline",
        "x02-bare-lf",
        "x03-empty-body",
        "x04-8bit",
        "x05-bare-cr",
        "x06-from-lines",
        "x07-header-only",
    ]
    assert [m.name for m in corpus("long-line")] == ["l01-long-line"]
    # Each shape its scenarios rely on holds where they look for it.
    held = [n for n, s in SHAPES.items() if s.holds(corpus("shapes"), 7)]
    for name in ("no-final-newline", "bare-lf", "empty-body", "8bit", "bare-cr", "from-lines"):
        assert name in held
    assert {"header-only", "exact-count"} <= set(held)
    assert SHAPES["long-line"].holds(corpus("long-line"), 1)


@pytest.mark.parametrize("message", corpus("shapes") + corpus("long-line"), ids=lambda m: m.name)
def test_what_retr_returns_is_the_stored_form_with_crlf_line_ends(message: Message) -> None:
    stored = message.as_lf()
    # The reference server's rule (written apart from the corpus) agrees...
    assert normalise(stored) == message.data
    # ... and so does counting by hand: the size LIST must report.
    assert message.size == len(message.data) == octets_as_served(stored)
    assert message.data.endswith(CRLF)
    assert message.data.count(b"\n") == message.data.count(CRLF)  # no bare LF on the wire


def test_stored_forms() -> None:
    m = shaped()
    x01 = m["x01-no-final-newline"].as_lf()
    assert not x01.endswith(b"\n")
    # Each stored LF counts two octets, and the CRLF RETR adds after the last line two more.
    assert m["x01-no-final-newline"].size == len(x01) + x01.count(b"\n") + 2
    x02 = m["x02-bare-lf"].as_lf()
    head, body = x02.split(b"\r\n\r\n", 1)
    assert head.count(b"\n") == head.count(CRLF) > 5
    assert b"\r" not in body and body.count(b"\n") == 3
    # The others are stored with LF line ends, as every message of the other corpora.
    for plain in (m["x03-empty-body"], m["x04-8bit"], m["x06-from-lines"], *corpus("long-line")):
        assert plain.stored is None and plain.as_lf() == plain.data.replace(CRLF, b"\n")


def test_a_bare_cr_is_an_octet_of_its_line() -> None:
    x05 = shaped()["x05-bare-cr"]
    assert len(re.findall(rb"\r(?!\n)", x05.data)) == 1
    assert x05.body_lines[0] == b"Before a bare CR\rand after it, on the same line."
    assert b"\r" in x05.as_lf() and x05.as_lf().count(b"\n") == x05.data.count(CRLF)


def test_from_lines_long_lines_and_bodies() -> None:
    m = shaped()
    body = m["x06-from-lines"].body_lines
    assert body[0].startswith(b"From ") and body[1].startswith(b">From ")
    assert body[2].startswith(b">>From ")
    # An mbox entry quotes every one of them (mboxrd): a reader removes one ">".
    entry = mbox_entry(m["x06-from-lines"])
    assert b"\n>From the first" in entry and b"\n>>From here" in entry
    assert b"\n>>>From here" in entry
    [long] = corpus("long-line")
    assert [len(line) for line in long.body_lines] == [45, LONG_LINE_OCTETS, 22]
    assert m["x03-empty-body"].body_lines == [] and m["x03-empty-body"].top(0) == (
        m["x03-empty-body"].data
    )
    assert not m["x04-8bit"].data[len(m["x04-8bit"].header_block) :].isascii()
    assert m["x04-8bit"].header_block.isascii()


def test_a_header_only_message_has_no_body_and_top_beyond_it_is_the_whole() -> None:
    x08 = shaped()["x07-header-only"]
    assert b"\r\n\r\n" not in x08.data
    assert x08.body_lines == [] and x08.header_block == x08.data
    assert x08.top(1) == x08.data
    # The reference server's TOP says the same.
    assert top(x08.data, 1) == x08.data


def test_an_mbox_entry_always_ends_its_last_line() -> None:
    # An mbox cannot keep a message without a final newline: the entry has one.
    entry = mbox_entry(shaped()["x01-no-final-newline"])
    assert entry.endswith(b"This is the last line.\n\n")


def test_twins_share_what_their_names_say() -> None:
    d01, d02, d03, d04, d05 = corpus("twins")
    assert d02.header_block == d01.header_block and d02.data != d01.data
    assert d03.body_lines == d01.body_lines and d03.header_block != d01.header_block
    assert d04.data == d01.data and d04.name != d01.name
    assert d05.header_block == d01.header_block and d05.size == d01.size
    assert d05.data != d01.data
    assert SHAPES["near-duplicates"].holds(corpus("twins"), 5)
    assert not SHAPES["near-duplicates"].holds([*corpus("twins")[:4], d02], 5)
    # Four contents among five messages: only 1 and 4 may share a unique-id.
    assert len({m.sha256 for m in corpus("twins")}) == 4


def test_every_message_can_be_delivered_by_name() -> None:
    for name in ("shapes", "long-line", "twins"):
        for m in corpus(name):
            assert message_named(m.name) is m
