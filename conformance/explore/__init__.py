"""Model-based exploration: random command sequences against a server, judged by the model.

``explore(target, ExploreOptions(...))`` searches with hypothesis, shrinks a
failure to a minimal step list, writes it as a scenario file and replays it.
The modules: :mod:`.fragments` (actions as scenario lines), :mod:`.live` (the
runner fed one action at a time), :mod:`.machine` (the state machine),
:mod:`.emit` (the regression file), :mod:`.replay` (replay and the
nondeterministic grade) and :mod:`.driver` (one exploration end to end).
"""

from conformance.explore.driver import (
    Exploration,
    ExploreError,
    ExploreOptions,
    explore,
    hypothesis_settings,
)

__all__ = ["Exploration", "ExploreError", "ExploreOptions", "explore", "hypothesis_settings"]
