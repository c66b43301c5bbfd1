"""pop3-conformance: a POP3 protocol conformance test harness."""

from __future__ import annotations

__version__ = "0.1.0"
