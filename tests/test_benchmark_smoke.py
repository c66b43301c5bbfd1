"""The round-trip benchmark runs and produces figures (never timed assertions)."""

from __future__ import annotations

from benchmarks.roundtrip import run


def test_roundtrip_benchmark_produces_figures() -> None:
    figures = run(count=50)
    assert set(figures) == {"raw_us", "session_us", "ratio"}
    assert all(v > 0 for v in figures.values())
