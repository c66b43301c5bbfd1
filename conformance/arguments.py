"""Types for command-line values, checked before anything runs (exit 2 with a message).

argparse calls these on each value; an ``ArgumentTypeError`` becomes a usage
error naming the flag.  Nothing here falls back to a default silently: an
empty host never means "the embedded server", port 0 never means 110.
"""

from __future__ import annotations

import argparse
import math


def host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the host is empty (leave --host out to judge the embedded reference server)"
        )
    return text


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 1-65535")
    return value


def _positive_number(text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {unit}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of {unit} above zero")
    return value


def seconds(text: str) -> float:
    """A finite, positive number of seconds (no nan, no inf, no zero)."""
    return _positive_number(text, "seconds")


def per_second(text: str) -> float:
    """A finite, positive rate: users (or anything) per second."""
    return _positive_number(text, "users per second")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def octets(text: str) -> int:
    """A size in octets, with an optional K or M suffix (KiB, MiB)."""
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        value = int(digits) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512, 64K, 8M)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a size above zero")
    return value
