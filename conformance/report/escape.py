"""Make invisible characters visible, the same way in every report.

A conformance report is about exact bytes: a bare LF instead of CRLF, a NUL
or an ESC in a response is often the very finding.  Yet JUnit XML cannot
carry most control characters (junit-xml 1.9 silently drops them, CR
included; XML parsers turn CR into LF), and a terminal would act on an ESC
instead of showing it.  So every text goes through :func:`visible` first.

The scheme (the escapes a scenario's ``raw:`` step understands, so a
transcript line can be pasted back into a scenario):

=========================================  ===========================
character                                  shown as
=========================================  ===========================
CR, LF, TAB                                ``\\r``, ``\\n``, ``\\t``
other C0 controls, DEL, C1 controls        ``\\xNN`` (``\\x00``, ``\\x1b``, ``\\x85``)
a lone surrogate U+DC80..U+DCFF            ``\\xNN``: the byte ``surrogateescape`` kept
any other surrogate, noncharacters         ``\\uNNNN`` (``\\UNNNNNNNN`` above U+FFFF)
bidirectional controls, U+2028, U+2029     ``\\uNNNN``
everything else (printable, non-ASCII)     itself
=========================================  ===========================

With ``keep_newlines=True`` (for prose: a requirement's sentence, a
description) an LF stays a line break, while a CR before it is still shown.

A backslash is not doubled: transcripts already show undecodable client
bytes as ``\\xNN`` (``backslashreplace``) and expectations quote regexes, and
both would become unreadable.  The price is that a literal backslash followed
by ``r`` in the data reads like a CR; the JSON results keep the exact text.
"""

from __future__ import annotations

import re

_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}

# Bidirectional controls reorder what a reader sees ("Trojan Source"); line
# and paragraph separators break lines in some viewers but not in others.
_FORMAT = "\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"
# U+nFFFE and U+nFFFF of every supplementary plane are noncharacters too.
_PLANE_ENDS = "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(1, 17))


def _suspects(c0: str) -> re.Pattern[str]:
    return re.compile(f"[{c0}\x7f-\x9f\ud800-\udfff{_FORMAT}{_NONCHARACTERS}{_PLANE_ENDS}]")


_SUSPECT = _suspects("\x00-\x1f")
_SUSPECT_BUT_LF = _suspects("\x00-\x09\x0b-\x1f")


def _escape_one(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0x9F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        # bytes.decode(..., "surrogateescape") keeps an undecodable byte as
        # U+DC00 + byte: show the byte that was on the wire.
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control and invisible character spelled out (see module doc)."""
    pattern = _SUSPECT_BUT_LF if keep_newlines else _SUSPECT
    return pattern.sub(_escape_one, text)


# What XML 1.0 cannot carry faithfully in element text: the C0 controls
# but TAB and LF (CR is legal but a parser turns it into LF), and what
# visible() spells out beyond ASCII.  A report that serialises XML passes its
# whole document through xml_safe() as a last line of defence.
_XML_UNSAFE = _suspects("\x00-\x08\x0b-\x1f")


def xml_safe(document: str) -> str:
    """``document`` with what XML cannot carry spelled out like :func:`visible`; TAB, LF stay."""
    return _XML_UNSAFE.sub(_escape_one, document)


def visible_lines(text: str) -> list[str]:
    """Prose split into display lines, each made visible (CR before LF stays shown)."""
    return visible(text, keep_newlines=True).split("\n")
