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
    assert figures["stretches"] >= 1
    assert 0 < figures["stretch_low"] <= figures["stretch_ratio"] <= figures["stretch_high"]


def test_a_stretch_is_its_examples_replay_time_over_their_exploration_time() -> None:
    from benchmarks.explore_rate import STRETCH, stretch_ratios

    # Examples take 2 s to explore (seeding to seeding) and 1 s to replay; the
    # third stretch's are slowed by a burst while exploring, the last example
    # (cut by the budget) has no end and is left out.
    seeded_at = [2.0 * i for i in range(3 * STRETCH + 1)]
    for i in range(2 * STRETCH + 1, 3 * STRETCH + 1):
        seeded_at[i] += 2.0 * (i - 2 * STRETCH)
    replayed = [1.0] * (3 * STRETCH) + [9.0]
    ratios = stretch_ratios(replayed, seeded_at)
    assert ratios[:2] == [0.5, 0.5] and ratios[2] == STRETCH / (4.0 * STRETCH)
    assert stretch_ratios([1.0, 3.0, 9.0], [0.0, 2.0, 4.0]) == [1.0]  # one short stretch
    assert stretch_ratios([], [0.0]) == []
