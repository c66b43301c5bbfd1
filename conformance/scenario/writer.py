"""Writing a scenario file's header: what the explorer's emitter and the shell's recorder share.

:func:`header` turns ``(key, value)`` pairs into the ``key: value`` lines
above ``---`` (``suites/README.md``), a long value continued on lines
indented by two spaces (prose only), as the loader reads them back.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Final

HEADER_END: Final = "---"
WIDTH: Final = 78


# Keys whose values are prose, wrapped; the others stay on one line.
PROSE: Final = ("description", "expectation")


def header(fields: Sequence[tuple[str, str]]) -> list[str]:
    """The header lines of ``fields``, in order, and the ``---`` that ends them."""
    out = []
    for key, value in fields:
        line = f"{key}: {value}"
        if key in PROSE:
            out += textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False)
        else:
            out.append(line)
    out.append(HEADER_END)
    return out
