"""The escapes of a ``raw:`` line (and of the shell's ``:raw``): text in, bytes out.

``\\r`` ``\\n`` ``\\t`` ``\\0`` ``\\xNN`` and ``\\\\``; any other character is
sent as its UTF-8.  These are the escapes :func:`conformance.report.escape.visible`
writes, so a transcript line can be pasted back as a ``raw:`` line.
"""

from __future__ import annotations

import string
from typing import Final

ESCAPES: Final = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}


def decode_escapes(text: str) -> bytes:
    """The bytes ``text`` stands for; ValueError saying which escape is wrong."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(text):
            raise ValueError("a '\\' at the end of a 'raw:' line escapes nothing")
        esc = text[i + 1]
        if esc in ESCAPES:
            out += ESCAPES[esc]
            i += 2
        elif esc == "x":
            digits = text[i + 2 : i + 4]
            if len(digits) != 2 or any(d not in string.hexdigits for d in digits):
                raise ValueError(f"bad escape '\\x{digits}': expected two hex digits")
            out.append(int(digits, 16))
            i += 4
        else:
            raise ValueError(f"unknown escape '\\{esc}' (known: \\r \\n \\t \\0 \\xNN \\\\)")
    return bytes(out)


_NAMED = {13: "\\r", 10: "\\n", 9: "\\t", 0: "\\0", ord("\\"): "\\\\", ord("{"): "\\x7b"}


def encode_escapes(data: bytes) -> str:
    """``data`` as a ``raw:`` line writes it (what :func:`decode_escapes` reads back):
    printable ASCII as it is, the backslash doubled, anything else escaped, and
    ``{`` as ``\\x7b`` (a ``raw:`` line expands ``{placeholders}``)."""
    return "".join(_NAMED.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in data)
