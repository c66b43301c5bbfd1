"""The one Jinja2 environment every HTML report renders with.

Autoescaping is on and undefined names are errors, so a template that
forgets to escape or misspells a field fails loudly instead of leaking
markup or printing nothing.
"""

from __future__ import annotations

import jinja2

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("conformance.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
