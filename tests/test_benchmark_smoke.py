"""The round-trip benchmark runs and produces figures (never timed assertions)."""

from __future__ import annotations

from benchmarks.roundtrip import run


def test_roundtrip_benchmark_produces_figures() -> None:
    figures = run(count=50)
    assert set(figures) == {"raw_us", "session_us", "ratio"}
    assert all(v > 0 for v in figures.values())


def test_explore_rate_replays_the_same_command_mix() -> None:
    from benchmarks import explore_rate

    figures = explore_rate.run(2.0)
    # Every connection, send and answer of the exploration was replayed raw
    # (a replay that lost count of an answer would wait out its timeout).
    assert figures["mix_connections"] > figures["examples"] >= 1
    assert figures["mix_sends"] >= figures["explore_commands"] / 2
    assert figures["mix_s"] > 0 and figures["explore_s"] > 0  # figures, never a timed verdict
    assert figures["mix_ratio"] == figures["mix_s"] / figures["explore_s"]
